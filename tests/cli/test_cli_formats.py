"""The report formats: json (stable schema), SARIF 2.1.0 (validated against the official
schema), GitHub workflow commands and JUnit XML, all describing the same findings."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import jsonschema
import pytest

from cli_helpers import BUGGY, CLEAN, FIXTURES, REPO, run_cli, run_json

SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
TEXT_LINE = re.compile(r"^(?P<where>.+?):(?:cell (?P<cell>\d+):)?(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) ")
GITHUB_LINE = re.compile(r"^::error (?P<props>[^:]*)::(?P<message>.*)$")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Python file, a notebook and a Markdown file with findings, and one clean file."""
    (tmp_path / "bug.py").write_text(BUGGY, encoding="utf-8")
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    shutil.copy(FIXTURES / "notebooks" / "fix_keeps_outputs.ipynb", tmp_path / "nb.ipynb")
    shutil.copy(FIXTURES / "markdown" / "open_clip_readme.md", tmp_path / "README.md")
    return tmp_path


def text_findings(project: Path) -> list:
    """(path, cell, line, 1-based col, code) of each finding in the text format."""
    result = run_cli(".", cwd=project)
    found = []
    for match in map(TEXT_LINE.match, result.stdout.splitlines()):
        if match:
            cell = int(match["cell"]) if match["cell"] else None
            found.append((match["where"], cell, int(match["line"]), int(match["col"]), match["code"]))
    return sorted(found)


def test_json_schema_and_agreement_with_text(project: Path) -> None:
    code, report = run_json(".", cwd=project)
    assert code == 1
    assert set(report) == {"schema_version", "tool", "summary", "findings", "errors"}
    assert report["schema_version"] == 1
    assert report["tool"]["name"] == "clip-lint"
    assert set(report["summary"]) == {"files_checked", "findings", "fixable", "fixed", "errors", "skipped_blocks"}
    assert report["summary"]["files_checked"] == 4
    assert report["summary"]["findings"] == len(report["findings"])
    keys = {"path", "kind", "code", "name", "url", "message", "line", "column", "end_line", "end_column", "cell", "fix"}
    schema = json.loads((REPO / "docs" / "clip-lint.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for finding in report["findings"]:
        assert set(finding) == keys
        assert finding["kind"] == {"py": "python", "ipynb": "notebook", "md": "markdown"}[finding["path"].rsplit(".", 1)[1]]
        assert (finding["cell"] is not None) == (finding["kind"] == "notebook")
        if finding["fix"] is not None:
            assert set(finding["fix"]) == {"title", "safe", "applicable", "edits"}
    as_json = sorted((f["path"], f["cell"], f["line"], f["column"], f["code"]) for f in report["findings"])
    assert as_json == text_findings(project)
    assert report["summary"]["fixable"] == sum(1 for f in report["findings"] if f["fix"] and f["fix"]["applicable"])


def json_line_of(project: Path, path: str, line: int) -> str:
    return (project / path).read_text(encoding="utf-8").splitlines()[line - 1]


def test_sarif_validates_and_maps_every_finding(project: Path) -> None:
    result = run_cli("--format", "sarif", ".", cwd=project)
    assert result.returncode == 1
    sarif = json.loads(result.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(sarif, schema, cls=jsonschema.Draft4Validator)
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {rule["id"] for rule in rules} >= {"CLN001", "CLN002", "CLN003", "CLN004", "CLN900"}
    _, report = run_json(".", cwd=project)
    assert len(run["results"]) == len(report["findings"])
    for sarif_result, finding in zip(run["results"], report["findings"]):
        assert sarif_result["ruleId"] == finding["code"]
        assert rules[sarif_result["ruleIndex"]]["id"] == finding["code"]
        location = sarif_result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == finding["path"]
        region = location["region"]
        if finding["cell"] is None:
            assert (region["startLine"], region["startColumn"]) == (finding["line"], finding["column"])
        else:
            # the notebook's JSON line that holds the code line, and the cell named exactly
            assert sarif_result["properties"] == {
                "cell": finding["cell"], "cellLine": finding["line"], "cellColumn": finding["column"]
            }
            cell_source = json.loads((project / finding["path"]).read_text())["cells"][finding["cell"] - 1]["source"]
            code_line = "".join(cell_source).splitlines()[finding["line"] - 1]
            assert json.dumps(code_line)[1:-1] in json_line_of(project, finding["path"], region["startLine"])


def test_sarif_for_a_clean_run_validates(project: Path) -> None:
    result = run_cli("--format", "sarif", "clean.py", cwd=project)
    assert result.returncode == 0
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()), cls=jsonschema.Draft4Validator)
    assert sarif["runs"][0]["results"] == []


def github_properties(props: str) -> dict:
    return dict(item.split("=", 1) for item in props.split(","))


def test_github_workflow_commands(project: Path) -> None:
    result = run_cli("--format", "github", ".", cwd=project)
    assert result.returncode == 1
    _, report = run_json(".", cwd=project)
    lines = result.stdout.splitlines()
    assert len(lines) == len(report["findings"])
    for line, finding in zip(lines, report["findings"]):
        match = GITHUB_LINE.match(line)
        assert match, line
        props = github_properties(match["props"])
        assert props["file"] == finding["path"]
        assert props["title"] == f"clip-lint {finding['code']}"
        assert match["message"].startswith(finding["code"] + " ")
        if finding["cell"] is None:
            assert (int(props["line"]), int(props["col"])) == (finding["line"], finding["column"])
        else:
            assert f"cell {finding['cell']}:{finding['line']}:" in match["message"]


def test_github_escapes_commas_and_colons_in_paths(tmp_path: Path) -> None:
    (tmp_path / "a,b:c.py").write_text(BUGGY, encoding="utf-8")
    result = run_cli("--format", "github", "a,b:c.py", cwd=tmp_path)
    props = github_properties(GITHUB_LINE.match(result.stdout.splitlines()[0])["props"])
    assert props["file"] == "a%2Cb%3Ac.py"


def test_junit_xml_one_suite_dotted_classnames_and_stable_names(project: Path) -> None:
    (project / "pkg" / "sub").mkdir(parents=True)
    (project / "pkg" / "sub" / "model.py").write_text(BUGGY, encoding="utf-8")
    result = run_cli("--format", "junit", ".", cwd=project)
    assert result.returncode == 1
    root = ElementTree.fromstring(result.stdout.encode("utf-8"))
    _, report = run_json(".", cwd=project)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    findings = report["findings"]
    assert int(suite.get("failures")) == int(root.get("failures")) == len(findings)
    assert int(suite.get("tests")) == int(root.get("tests")) == len(findings) + 1  # clean.py passes
    cases = suite.findall("testcase")
    failing = [case for case in cases if case.find("failure") is not None]
    assert len(failing) == len(findings)
    for case, finding in zip(failing, findings):
        assert case.get("file") == finding["path"]
        assert case.get("classname") == finding["path"].rsplit(".", 1)[0].replace("/", ".")
        assert case.find("failure").get("type") == finding["code"]
        assert case.get("name").startswith(finding["code"])
        assert ":" not in case.get("name")  # no line:col, so a case keeps its history when lines move
        if finding["cell"] is None:
            assert case.get("line") == str(finding["line"])
    classnames = {case.get("classname") for case in cases}
    assert {"pkg.sub.model", "nb", "README", "bug", "clean"} <= classnames
    names = [case.get("name") for case in failing if case.get("classname") == "bug"]
    assert names == ["CLN001 image_features"]


def test_junit_names_survive_moved_lines(tmp_path: Path) -> None:
    (tmp_path / "bug.py").write_text(BUGGY, encoding="utf-8")
    before = ElementTree.fromstring(run_cli("--format", "junit", "bug.py", cwd=tmp_path).stdout.encode())
    (tmp_path / "bug.py").write_text("\n\n# a comment moves everything down\n" + BUGGY, encoding="utf-8")
    after = ElementTree.fromstring(run_cli("--format", "junit", "bug.py", cwd=tmp_path).stdout.encode())
    name_of = lambda root: [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]  # noqa: E731
    line_of = lambda root: [int(c.get("line")) for c in root.iter("testcase")]  # noqa: E731
    assert name_of(before) == name_of(after)
    assert [line + 3 for line in line_of(before)] == line_of(after)
