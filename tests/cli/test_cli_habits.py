"""The spellings ruff and flake8 users bring: ``check``, ``--output-format``, ``--explain`` by
name, suggestions for mistyped options, ruff's notebook locations, and honest summaries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from cli_helpers import BUGGY, CLEAN, REPO, notebook, run_cli, without_file_permissions, write


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write(tmp_path, "src/bug.py", BUGGY)
    write(tmp_path, "src/clean.py", CLEAN)
    return tmp_path


# --- ruff's spellings -------------------------------------------------------------------------


@pytest.mark.parametrize("paths", [[], ["src"], ["src/bug.py", "src/clean.py"]])
def test_check_subcommand_is_the_plain_command(project: Path, paths: list) -> None:
    plain = run_cli("-j", "1", *paths, cwd=project)
    check = run_cli("check", "-j", "1", *paths, cwd=project)
    assert plain.returncode == check.returncode == 1
    assert check.stdout == plain.stdout and "src/bug.py:8:27: CLN001" in check.stdout
    assert check.stderr == plain.stderr == ""


def test_a_folder_named_check_is_checked_as_dot_slash_check(tmp_path: Path) -> None:
    write(tmp_path, "check/bug.py", BUGGY)
    for args in (["./check"], ["check", "check"]):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 1 and "check/bug.py:8:27: CLN001" in result.stdout, args


def test_output_format_is_an_alias_of_format(project: Path) -> None:
    for name in ("json", "sarif", "github", "junit"):
        alias = run_cli("--output-format", name, "src", cwd=project)
        assert alias.returncode == 1 and alias.stderr == ""
        assert alias.stdout == run_cli("--format", name, "src", cwd=project).stdout
        assert alias.stdout == run_cli(f"--output-format={name}", "src", cwd=project).stdout


def test_the_rules_listing_takes_output_format_too() -> None:
    assert run_cli("rules", "--output-format", "json").stdout == run_cli("rules", "--format", "json").stdout
    typo = run_cli("rules", "--fromat", "json")
    assert typo.returncode == 2 and "--fromat (did you mean '--format'?)" in typo.stderr


@pytest.mark.parametrize(
    "spelling",
    ["CLN003", "cln003", "Cln003", "norm-without-keepdim", "NORM-WITHOUT-KEEPDIM", "Norm_Without_Keepdim", " cln003 "],
)
def test_explain_takes_a_rules_code_or_name_in_any_case(spelling: str) -> None:
    from clip_lint.rules import RULES, render_rule_markdown

    result = run_cli("--explain", spelling)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_rule_markdown("CLN003")
    assert RULES["CLN003"].name == "norm-without-keepdim"


def test_explain_of_every_rule_by_name() -> None:
    from clip_lint.rules import RULES

    for rule in RULES.values():
        first = run_cli("--explain", rule.name).stdout.splitlines()[0]
        assert first.endswith(f" {rule.code} ({rule.name})")


@pytest.mark.parametrize(
    "typed, nearest",
    [("unnormalised-features-in-similarity", "CLN001 (unnormalized-features-in-similarity)"), ("cln0003", "CLN003")],
)
def test_an_unknown_rule_is_echoed_as_typed_with_the_nearest(typed: str, nearest: str) -> None:
    result = run_cli("--explain", typed)
    assert result.returncode == 2 and result.stdout == ""
    assert f"unknown rule '{typed}'" in result.stderr
    assert typed.upper() not in result.stderr
    assert f"did you mean {nearest}" in result.stderr


@pytest.mark.parametrize(
    "args, hint",
    [
        (["--exlpain", "CLN001"], "--exlpain (did you mean '--explain'?)"),
        (["--output-fomat=json", "."], "--output-fomat=json (did you mean '--output-format'?)"),
        (["--extend-selct", "CLN100", "."], "--extend-selct (did you mean '--extend-select'?)"),
        (["--format", "jsno", "."], "invalid choice: 'jsno'"),
        (["--show-setings", "x.py"], "--show-setings (did you mean '--show-settings'?)"),
        (["--verbse", "."], "--verbse (did you mean '--verbose'?)"),
    ],
)
def test_an_unknown_option_suggests_the_nearest_known_one(project: Path, args: list, hint: str) -> None:
    result = run_cli(*args, cwd=project)
    assert result.returncode == 2 and result.stdout == ""
    assert hint in result.stderr
    if "jsno" in args:
        assert "did you mean 'json'?" in result.stderr


def test_an_option_with_no_near_neighbour_gets_no_guess(project: Path) -> None:
    result = run_cli("--zzzzzz", ".", cwd=project)
    assert result.returncode == 2 and "unrecognized arguments: --zzzzzz\n" in result.stderr
    assert "did you mean" not in result.stderr


# --- notebook locations -----------------------------------------------------------------------

# What ruff prints and what editors' problem matchers parse: FILE:LINE:COL: or FILE:cell N:LINE:COL:
FILE_LINE_COL = re.compile(r"^(?P<file>[^:]+):(?:cell (?P<cell>\d+):)?(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) ")


def test_notebook_locations_are_cell_line_col_as_ruff_prints_them(tmp_path: Path) -> None:
    write(tmp_path, "demo.ipynb", notebook(
        "#md# Zero-shot", "import torch", "image_features = model.encode_image(images)",
        "text_features = model.encode_text(tokens)\nlogits = image_features @ text_features.T",
    ))  # fmt: skip
    result = run_cli("demo.ipynb", cwd=tmp_path)
    first = result.stdout.splitlines()[0]
    assert first.startswith("demo.ipynb:cell 4:2:25: CLN001 "), first
    match = FILE_LINE_COL.match(first)
    assert match and (match["cell"], match["line"], match["col"]) == ("4", "2", "25")
    assert "line 2:" not in first  # never the old `cell 4:line 2:25`
    junit = run_cli("--format", "junit", "demo.ipynb", cwd=tmp_path).stdout
    assert "demo.ipynb:cell 4:2:25: CLN001" in junit
    github = run_cli("--format", "github", "demo.ipynb", cwd=tmp_path).stdout
    assert "::CLN001 cell 4:2:25: " in github


# --- JUnit lists what had something to check ---------------------------------------------------


def test_junit_lists_only_files_that_had_something_to_check(tmp_path: Path) -> None:
    write(tmp_path, "notes.md", "# Notes\n\nNo code here, only `inline` code.\n\n```bash\nls\n```\n")
    write(tmp_path, "guide.md", "# Guide\n\n```python\nimport torch\nx = torch.ones(3)\n```\n")
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/clean.py", CLEAN)
    write(tmp_path, "pkg/bug.py", BUGGY)
    write(tmp_path, "prose.ipynb", notebook("#md# only prose"))
    result = run_cli("--format", "junit", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    suite = ElementTree.fromstring(result.stdout).find("testsuite")
    cases = sorted((case.get("file"), case.get("name")) for case in suite.findall("testcase"))
    assert cases == [("guide.md", "clip-lint"), ("pkg/bug.py", "CLN001 image_features"), ("pkg/clean.py", "clip-lint")]
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    text = run_cli(".", cwd=tmp_path)
    assert text.stdout.splitlines()[-1].startswith("Checked 6 files: 1 finding")  # every file still counts


# --- the summary after --fix --------------------------------------------------------------------


def test_a_failed_fix_is_never_counted_as_fixable(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    write(folder, "a.py", BUGGY)
    folder.chmod(0o555)
    try:
        result = run_cli("-j", "1", "--fix", "ro/a.py", cwd=tmp_path, prefix=without_file_permissions())
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1
    last = result.stdout.splitlines()[-1]
    assert last == "Checked 1 file: 1 finding (1 fix not applied), 1 error.", result.stdout
    assert "with --fix" not in result.stdout
    before = run_cli("ro/a.py", cwd=tmp_path).stdout.splitlines()[-1]
    assert before == "Checked 1 file: 1 finding (1 fixable with --fix)."


def test_the_summary_after_a_fix_that_worked(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BUGGY)
    result = run_cli("--fix", "a.py", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "Fixed 1 finding in 1 file (0 left)."


def test_readme_names_no_old_notebook_location() -> None:
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        assert not re.search(r"ipynb:cell \d+:line", path.read_text(encoding="utf-8")), path
