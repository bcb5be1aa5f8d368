"""JSON findings that editors and review bots can use: the end position, the rule's name and page,
and each fix as edits that write exactly what ``--fix`` writes. Every report is checked against
the documented schema (docs/clip-lint.schema.json)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_helpers import BUGGY, FIXTURES, REPO, notebook, run_cli, write
from clip_lint.findings import TextEdit
from clip_lint.frontends.runner import text_changes
from clip_lint.rules import RULES
from clip_lint.sources.textedits import apply_edits

SCHEMA = json.loads((REPO / "docs" / "clip-lint.schema.json").read_text(encoding="utf-8"))


def report_of(*args: str, cwd: Path) -> dict:
    result = run_cli("--format", "json", "--no-cache", *args, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return report


def applied(text: str, edits: List[dict]) -> str:
    """``text`` with the JSON edits spliced in (1-based columns, end column exclusive)."""
    return apply_edits(text, [
        TextEdit((edit["line"], edit["column"] - 1), (edit["end_line"], edit["end_column"] - 1), edit["text"])
        for edit in edits
    ])  # fmt: skip


# --- the end position ---------------------------------------------------------------------------

EXAMPLES = [code for code, rule in RULES.items() if rule.example and rule.engine]


@pytest.mark.parametrize("code", EXAMPLES)
def test_the_range_covers_the_reported_expression(tmp_path: Path, code: str) -> None:
    write(tmp_path, "example.py", RULES[code].example)
    (finding,) = report_of("example.py", cwd=tmp_path)["findings"]
    lines = RULES[code].example.splitlines()
    assert finding["line"] == finding["end_line"] and finding["end_column"] > finding["column"]
    covered = lines[finding["line"] - 1][finding["column"] - 1:finding["end_column"] - 1]
    # a finding at a similarity operator starts at the operator (where its column points)
    expected = {"CLN001": "@ text_features.T", "CLN004": "@ class_embedding",
                "CLN005": "image_features + text_features"}  # fmt: skip
    if code in expected:
        assert covered == expected[code]
    else:  # the normalization: the division, whole
        assert covered.startswith(lines[finding["line"] - 1].split(" = ")[1][:8]) and covered.endswith(")")


def test_a_notebook_range_is_within_its_cell(tmp_path: Path) -> None:
    write(tmp_path, "nb.ipynb", notebook(
        "#md# title", "feats = model.encode_image(images)\ntexts = model.encode_text(tokens)",
        "import torch\nscores = feats @ texts.T",
    ))  # fmt: skip
    (finding,) = report_of("nb.ipynb", cwd=tmp_path)["findings"]
    assert (finding["cell"], finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (
        3, 2, 16, 2, 25,
    )


def test_cln900_is_a_point(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "import torch\nx = model.encode_image(\n")
    report = report_of("broken.py", cwd=tmp_path)
    for finding in report["findings"]:
        assert (finding["end_line"], finding["end_column"]) == (finding["line"], finding["column"])
        assert finding["name"] == "cannot-analyse" and finding["fix"] is None


# --- the rule's name and page ---------------------------------------------------------------------


def test_each_finding_names_its_rule_and_its_page(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    report = report_of("examples", cwd=tmp_path)
    assert {finding["code"] for finding in report["findings"]} >= {"CLN001", "CLN002", "CLN003", "CLN004"}
    for finding in report["findings"]:
        rule = RULES[finding["code"]]
        assert finding["name"] == rule.name
        assert finding["url"] == (REPO / rule.page).as_uri()


# --- fixes as edits -------------------------------------------------------------------------------

SINGLE_FIX = sorted(path.name for path in (FIXTURES / "fix").glob("*.in.py"))


@pytest.mark.parametrize("name", SINGLE_FIX)
def test_a_fixs_edits_write_what_fix_writes(tmp_path: Path, name: str) -> None:
    source = (FIXTURES / "fix" / name).read_text(encoding="utf-8")
    write(tmp_path, "a.py", source)
    findings = report_of("--unsafe-fixes", "a.py", cwd=tmp_path)["findings"]
    fixes = [finding["fix"] for finding in findings if finding["fix"]]
    assert fixes and all(fix["edits"] for fix in fixes)
    for fix in fixes:
        for edit in fix["edits"]:
            assert edit["cell"] is None and (edit["line"], edit["column"]) <= (edit["end_line"], edit["end_column"])
    run_cli("--fix", "--unsafe-fixes", "--no-cache", "a.py", cwd=tmp_path)
    fixed = (tmp_path / "a.py").read_text(encoding="utf-8")
    if len(fixes) == 1:  # one fix: its edits are the whole change
        assert applied(source, fixes[0]["edits"]) == fixed
    else:  # each fix alone changes only what --fix changed
        for fix in fixes:
            assert applied(source, fix["edits"]) != source


def test_unsafe_and_unmappable_fixes(tmp_path: Path) -> None:
    write(tmp_path, "a.py", (FIXTURES / "fix" / "unsafe_escapes.in.py").read_text(encoding="utf-8"))
    (finding,) = report_of("a.py", cwd=tmp_path)["findings"]
    assert finding["fix"]["safe"] is False and finding["fix"]["applicable"] is False and finding["fix"]["edits"]
    write(tmp_path, "doc.md", "```python\n>>> feats = model.encode_image(images)\n>>> feats @ feats.T\n```\n")
    (doctest,) = report_of("doc.md", cwd=tmp_path)["findings"]
    assert doctest["fix"]["applicable"] is False and doctest["fix"]["edits"] is None  # it would lose the prompts


def test_notebook_edits_are_in_the_cells_they_change(tmp_path: Path) -> None:
    cells = ("#md# title", "import torch", "feats = model.encode_image(images)", "scores = feats @ feats.T")
    write(tmp_path, "nb.ipynb", notebook(*cells))
    (finding,) = report_of("nb.ipynb", cwd=tmp_path)["findings"]
    edits = finding["fix"]["edits"]
    run_cli("--fix", "--no-cache", "nb.ipynb", cwd=tmp_path)
    after = ["".join(cell["source"]) for cell in json.loads((tmp_path / "nb.ipynb").read_text())["cells"]]
    for number, before in enumerate(cells, 1):
        own = [edit for edit in edits if edit["cell"] == number]
        expected = before[3:] if before.startswith("#md") else before
        assert applied(expected, own) == after[number - 1], number


def test_markdown_edits_keep_an_indented_blocks_indentation(tmp_path: Path) -> None:
    text = (
        "1. Encode:\n\n   ```python\n   feats = model.encode_image(images)\n"
        "   feats = feats / feats.norm(dim=-1)\n   ```\n"
    )
    write(tmp_path, "guide.md", text)
    (finding,) = report_of("guide.md", cwd=tmp_path)["findings"]
    column = text.splitlines()[4].rindex(")") + 1  # before the norm's closing parenthesis, in the file
    assert finding["fix"]["edits"] == [
        {"cell": None, "line": 5, "column": column, "end_line": 5, "end_column": column, "text": ", keepdim=True"}
    ]
    run_cli("--fix", "--no-cache", "guide.md", cwd=tmp_path)
    assert applied(text, finding["fix"]["edits"]) == (tmp_path / "guide.md").read_text(encoding="utf-8")


def test_edits_follow_the_files_line_endings(tmp_path: Path) -> None:
    source = BUGGY.replace("\n", "\r\n")
    (tmp_path / "a.py").write_bytes(source.encode())
    (finding,) = report_of("a.py", cwd=tmp_path)["findings"]
    run_cli("--fix", "--no-cache", "a.py", cwd=tmp_path)
    fixed = (tmp_path / "a.py").read_bytes().decode()
    assert "\r\n" in "".join(edit["text"] for edit in finding["fix"]["edits"])
    assert applied(source, finding["fix"]["edits"]) == fixed


def test_statistics_and_plain_formats_need_no_edits(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BUGGY)
    rows = json.loads(run_cli("--format", "json", "--statistics", "a.py", cwd=tmp_path).stdout)
    assert rows == [{"code": "CLN001", "name": RULES["CLN001"].name, "count": 1, "fixable": 1}]


# --- the smallest edits between two texts, as a promise ----------------------------------------------

TEXT = st.text(alphabet=st.sampled_from(list("ab x=()\n\r\t")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(before=TEXT, after=TEXT)
def test_text_changes_turn_one_text_into_the_other(before: str, after: str) -> None:
    changes = text_changes(before, after)
    edits = [TextEdit((c.line, c.col), (c.end_line, c.end_col), c.text) for c in changes]
    assert apply_edits(before, edits) == after
    assert (changes == []) == (before == after)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, data=st.data())
def test_a_smaller_edit_writes_the_same_text(text: str, data: st.DataObject) -> None:
    from clip_lint.frontends.runner import _smallest
    from clip_lint.sources.textedits import line_starts

    starts = line_starts(text)
    begin = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(begin, len(text)))
    position = [(line + 1, offset - starts[line]) for offset in (begin, end)
                for line in [max(i for i, start in enumerate(starts) if start <= offset)]]  # fmt: skip
    edit = TextEdit(position[0], position[1], data.draw(TEXT))
    smaller = _smallest(edit, text)
    assert apply_edits(text, [smaller]) == apply_edits(text, [edit])
    assert len(smaller.text) <= len(edit.text)
