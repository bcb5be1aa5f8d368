"""CLN100 (unused-noqa): off by default like ruff's RUF100, selected with ``--extend-select CLN100``;
it reports ``# noqa: CLNxxx`` directives that silence nothing, and its fix removes them or only
their unused codes, never anything a program computes."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import REPO, notebook, run_cli, write
from clip_lint.config.selection import OFF_BY_DEFAULT
from clip_lint.rules import RULES

HEAD = (
    "import torch\nimport torch.nn.functional as F\n\n\ndef f(model, images, tokens):\n"
    "    unit = F.normalize(model.encode_image(images), dim=-1)\n"
    "    raw = model.encode_text(tokens)\n"
)
UNIT_OP = "    a = unit @ unit.T"  # reports nothing
RAW_OP = "    b = unit @ raw.T"  # CLN001 here
TAIL = "    return a, b\n"


def source(unit_comment: str = "", raw_comment: str = "") -> str:
    return HEAD + UNIT_OP + unit_comment + "\n" + RAW_OP + raw_comment + "\n" + TAIL


def findings(*args: str, cwd: Path) -> List[tuple]:
    result = run_cli("--format", "json", "--no-cache", *args, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return [(f["line"], f["column"], f["code"], f["message"]) for f in report["findings"]]


def test_off_by_default_and_selected_by_name_only(tmp_path: Path) -> None:
    write(tmp_path, "a.py", source("  # noqa: CLN001"))
    assert findings("a.py", cwd=tmp_path) == [(9, 14, "CLN001", findings("a.py", cwd=tmp_path)[0][3])]
    assert [f[2] for f in findings("--select", "CLN", "a.py", cwd=tmp_path)] == ["CLN001"]
    for flags in (["--extend-select", "CLN100"], ["--select", "CLN1,CLN001"], ["--select", "CLN100,CLN001"]):
        assert [f[:3] for f in findings(*flags, "a.py", cwd=tmp_path)] == [(8, 24, "CLN100"), (9, 14, "CLN001")], flags
    assert findings("--select", "CLN1", "a.py", cwd=tmp_path) == []  # CLN001 is not selected: its code not judged
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nextend-select = ["CLN100"]\n')
    assert ("CLN100" in [f[2] for f in findings("a.py", cwd=tmp_path)])
    assert OFF_BY_DEFAULT == {code for code, rule in RULES.items() if not rule.default}


@pytest.mark.parametrize(
    "unit_comment, raw_comment, reported, fixed_unit, fixed_raw",
    [
        ("  # noqa: CLN001", "", "unused: CLN001", "", ""),
        ("", "  # noqa: CLN001", None, "", "  # noqa: CLN001"),  # used: kept
        ("", "  # noqa: CLN001, CLN003", "unused: CLN003", "", "  # noqa: CLN001"),
        ("", "  # noqa: CLN00", None, "", "  # noqa: CLN00"),  # a prefix that silences CLN001
        ("  # noqa: E501, CLN003", "", "unused: CLN003", "  # noqa: E501", ""),  # another tool's code stays
        ("  # noqa: E501 CLN003", "", "unused: CLN003", "  # noqa: E501", ""),
        ("  # noqa: CLN042 explained here", "", "unknown: CLN042", "  # explained here", ""),
        ("  # type: ignore  # noqa: CLN002", "", "unused: CLN002", "  # type: ignore", ""),
        ("  # noqa: cln003", "", "unused: CLN003", "", ""),
        ("  # noqa: CLN003, CLN100", "", None, "  # noqa: CLN003, CLN100", ""),  # it silences itself
        ("  # noqa", "", None, "  # noqa", ""),  # a blanket noqa is another matter
        ("  # noqa: E501", "", None, "  # noqa: E501", ""),
    ],
)
def test_what_is_reported_and_what_the_fix_leaves(
    tmp_path: Path, unit_comment: str, raw_comment: str, reported: str, fixed_unit: str, fixed_raw: str
) -> None:
    write(tmp_path, "a.py", source(unit_comment, raw_comment))
    unused = [f for f in findings("--extend-select", "CLN100", "a.py", cwd=tmp_path) if f[2] == "CLN100"]
    if reported is None:
        assert unused == []
    else:
        (line, column, _, message), = unused
        assert message == f"unused noqa directive ({reported})"
        text = source(unit_comment, raw_comment).splitlines()[line - 1]
        assert text[column - 1:].startswith("# noqa") or text[column - 1:].startswith("# NOQA")
    run_cli("--fix", "--extend-select", "CLN100", "--no-cache", "a.py", cwd=tmp_path)
    fixed = (tmp_path / "a.py").read_text(encoding="utf-8").splitlines()
    assert UNIT_OP + fixed_unit in fixed and RAW_OP + fixed_raw in fixed, fixed


def test_codes_of_rules_the_run_does_not_select_are_not_judged(tmp_path: Path) -> None:
    write(tmp_path, "a.py", source("  # noqa: CLN004"))
    assert [f[2] for f in findings("--select", "CLN001,CLN100", "a.py", cwd=tmp_path)] == ["CLN001"]
    assert "CLN100" in [f[2] for f in findings("--extend-select", "CLN100", "a.py", cwd=tmp_path)]
    assert "CLN100" not in [f[2] for f in findings("--extend-select", "CLN100", "--ignore", "CLN004", "a.py",
                                                   cwd=tmp_path)]  # fmt: skip


def test_a_noqa_in_a_string_is_text(tmp_path: Path) -> None:
    text = source().replace("    return a, b", '    doc = "x = y  # noqa: CLN001"\n    return a, b, doc')
    write(tmp_path, "a.py", text)
    assert [f[2] for f in findings("--extend-select", "CLN100", "a.py", cwd=tmp_path)] == ["CLN001"]


def test_notebook_and_markdown_directives(tmp_path: Path) -> None:
    write(tmp_path, "nb.ipynb", notebook(
        "#md# title", "import torch.nn.functional as F\nunit = F.normalize(model.encode_image(x), dim=-1)",
        "%time scores = 1\nscores = unit @ unit.T  # noqa: CLN001",
    ))  # fmt: skip
    write(tmp_path, "guide.md", "Text.\n\n  ```python\n  unit = F.normalize(model.encode_image(x), dim=-1)\n"
                                "  scores = unit @ unit.T  # noqa: CLN001\n  ```\n")  # fmt: skip
    result = run_cli("--extend-select", "CLN100", "--no-cache", ".", cwd=tmp_path)
    assert "guide.md:5:27: CLN100 unused noqa directive (unused: CLN001)" in result.stdout
    assert "nb.ipynb:cell 3:2:25: CLN100 unused noqa directive (unused: CLN001)" in result.stdout
    run_cli("--fix", "--extend-select", "CLN100", "--no-cache", ".", cwd=tmp_path)
    cells = json.loads((tmp_path / "nb.ipynb").read_text(encoding="utf-8"))["cells"]
    assert "".join(cells[2]["source"]) == "%time scores = 1\nscores = unit @ unit.T"
    assert "  scores = unit @ unit.T\n  ```\n" in (tmp_path / "guide.md").read_text(encoding="utf-8")


def test_a_file_the_analysis_could_not_read_is_not_judged(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = model.encode_image(y)  # noqa: CLN001\nz = (\n")
    assert [f[2] for f in findings("--extend-select", "CLN100", "a.py", cwd=tmp_path)] == ["CLN900"]


def test_add_noqa_never_silences_cln100(tmp_path: Path) -> None:
    write(tmp_path, "a.py", source("  # noqa: CLN001"))
    run_cli("--add-noqa", "--extend-select", "CLN100", "a.py", cwd=tmp_path)
    text = (tmp_path / "a.py").read_text(encoding="utf-8")
    assert "CLN100" not in text and RAW_OP + "  # noqa: CLN001" in text


def test_flake8_does_not_report_it(tmp_path: Path) -> None:
    """The documented choice: under flake8, # noqa is flake8's own filter, applied after the plugin."""
    write(tmp_path, "a.py", RULES["CLN100"].example)
    for select in ("CLN", "CLN100"):
        done = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", select, "a.py"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_the_rule_page_example_runs(tmp_path: Path) -> None:
    page = (REPO / RULES["CLN100"].page).read_text(encoding="utf-8")
    rule = RULES["CLN100"]
    assert f"```python\n{rule.example}```" in page and f"```python\n{rule.use_instead}```" in page
    write(tmp_path, "example.py", rule.example)
    write(tmp_path, "use_instead.py", rule.use_instead)
    assert [f[2] for f in findings("--extend-select", "CLN100", "example.py", cwd=tmp_path)] == ["CLN100"]
    assert findings("--extend-select", "CLN100", "use_instead.py", cwd=tmp_path) == []
    run_cli("--fix", "--extend-select", "CLN100", "example.py", cwd=tmp_path)
    assert (tmp_path / "example.py").read_text(encoding="utf-8") == rule.use_instead


# --- the fix never changes the program, and keeps every directive in use -----------------------------

COMMENTS = st.sampled_from([
    "", "  # noqa", "  # noqa: CLN001", "  # noqa: CLN003", "  # noqa: CLN001, CLN003", "  # noqa: E501",
    "  # noqa:CLN00", "  # noqa: E501 CLN004", "  # noqa: CLN042 why", "  # keep  # noqa: CLN002",
])  # fmt: skip
STATEMENTS = st.sampled_from([UNIT_OP, RAW_OP, "    c = raw / raw.norm(dim=-1)", '    s = "# noqa: CLN001"'])


def check_the_fix_changes_only_comments(tmp_path_factory: pytest.TempPathFactory, body: list) -> None:
    text = HEAD + "".join(statement + comment + "\n" for statement, comment in body) + "    a = b = 0\n" + TAIL
    plain, with_cln100 = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("cln100")
    for folder in (plain, with_cln100):
        write(folder, "a.py", text)
    run_cli("--fix", "--no-cache", "a.py", cwd=plain)
    run_cli("--fix", "--extend-select", "CLN100", "--no-cache", "a.py", cwd=with_cln100)
    fixed_plain = (plain / "a.py").read_text(encoding="utf-8")
    fixed_cln100 = (with_cln100 / "a.py").read_text(encoding="utf-8")
    assert ast.dump(ast.parse(fixed_cln100)) == ast.dump(ast.parse(fixed_plain))  # CLN100 changed only comments
    left = findings("a.py", cwd=plain)
    assert findings("a.py", cwd=with_cln100) == left  # nothing a directive silenced comes back
    assert findings("--extend-select", "CLN100", "a.py", cwd=with_cln100) == left  # and none is left unused


BODIES = st.lists(st.tuples(STATEMENTS, COMMENTS), min_size=1, max_size=6)
HEALTH = [HealthCheck.function_scoped_fixture]


@settings(max_examples=6, deadline=None, suppress_health_check=HEALTH)
@given(body=BODIES)
def test_the_fix_changes_only_comments_and_keeps_what_is_needed(tmp_path_factory, body: list) -> None:
    check_the_fix_changes_only_comments(tmp_path_factory, body)


@pytest.mark.nightly
@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
@given(body=st.lists(st.tuples(STATEMENTS, COMMENTS), min_size=1, max_size=12))
def test_the_fix_changes_only_comments_nightly(tmp_path_factory, body: list) -> None:
    check_the_fix_changes_only_comments(tmp_path_factory, body)
