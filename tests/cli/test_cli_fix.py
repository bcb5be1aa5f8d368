"""``--fix`` and ``--diff``: the fixture pairs, the guarantees of issue 4 (the fixed file
parses, nothing fixable is left, a second run changes nothing, unsafe code is left alone),
and notebooks and Markdown rewritten without touching anything but the fixed code."""

from __future__ import annotations

import ast
import difflib
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from cli_helpers import BUGGY, CLI, FIXTURES, run_cli, run_json

FIX_CASES = sorted(path.name[: -len(".in.py")] for path in (FIXTURES / "fix").glob("*.in.py"))
JSON_STRING_ITEM = re.compile(r'^\s*".*",?$')


def fixable(report: dict) -> list:
    return [f for f in report["findings"] if f["fix"] is not None and f["fix"]["applicable"]]


@pytest.mark.parametrize("case", FIX_CASES)
def test_fix_fixture_pairs(tmp_path: Path, case: str) -> None:
    source = FIXTURES / "fix" / f"{case}.in.py"
    target = tmp_path / f"{case}.py"
    shutil.copy(source, target)
    _, before = run_json(target.name, cwd=tmp_path)
    assert before["findings"], "a fix fixture must start with a finding"
    run_cli("--fix", target.name, cwd=tmp_path)
    fixed = target.read_text(encoding="utf-8")
    assert fixed == (FIXTURES / "fix" / f"{case}.out.py").read_text(encoding="utf-8")
    # guarantees: it parses, nothing fixable is left, and a second --fix changes nothing
    ast.parse(fixed)
    _, after = run_json(target.name, cwd=tmp_path)
    assert fixable(after) == []
    second = run_cli("--fix", target.name, cwd=tmp_path)
    assert target.read_text(encoding="utf-8") == fixed
    assert "fixed" not in second.stdout.splitlines()[-1]


@pytest.mark.parametrize("case", ["unsafe_escapes", "unsafe_escapes_helper"])
def test_unsafe_fix_is_reported_and_left_alone_without_opt_in(tmp_path: Path, case: str) -> None:
    target = tmp_path / "unsafe.py"
    shutil.copy(FIXTURES / "fix" / f"{case}.in.py", target)
    original = target.read_bytes()
    _, report = run_json(target.name, cwd=tmp_path)
    assert [(f["code"], f["fix"]["safe"], f["fix"]["applicable"]) for f in report["findings"]] == [
        ("CLN001", False, False)
    ]
    result = run_cli("--fix", target.name, cwd=tmp_path)
    assert result.returncode == 1 and "CLN001" in result.stdout
    assert "1 more with --unsafe-fixes" in result.stdout
    assert target.read_bytes() == original
    assert run_cli("--diff", target.name, cwd=tmp_path).stdout == ""
    opted_in = run_cli("--fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert opted_in.returncode == 0
    assert target.read_text() == (FIXTURES / "fix" / f"{case}.unsafe.out.py").read_text()


def test_diff_writes_nothing_and_applies_cleanly(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for case in FIX_CASES:
        shutil.copy(FIXTURES / "fix" / f"{case}.in.py", tmp_path / f"{case}.py")
    snapshot = {path.name: path.read_bytes() for path in tmp_path.glob("*.py")}
    result = run_cli("--diff", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert {path.name: path.read_bytes() for path in tmp_path.glob("*.py")} == snapshot
    (tmp_path / "fixes.patch").write_text(result.stdout, encoding="utf-8")
    subprocess.run(["git", "apply", "fixes.patch"], cwd=tmp_path, check=True)
    for case in FIX_CASES:
        expected = (FIXTURES / "fix" / f"{case}.out.py").read_text(encoding="utf-8")
        assert (tmp_path / f"{case}.py").read_text(encoding="utf-8") == expected, case


def test_fix_exit_code_and_summary(tmp_path: Path) -> None:
    (tmp_path / "bug.py").write_text(BUGGY, encoding="utf-8")
    result = run_cli("--fix", "bug.py", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "Fixed 1 finding in 1 file (0 left)."


def test_fix_keeps_line_endings_and_permissions(tmp_path: Path) -> None:
    target = tmp_path / "crlf.py"
    target.write_bytes(BUGGY.replace("\n", "\r\n").encode("utf-8"))
    target.chmod(0o754)
    run_cli("--fix", "crlf.py", cwd=tmp_path)
    data = target.read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") == BUGGY.count("\n") + 1
    assert target.stat().st_mode & 0o777 == 0o754


# --- notebooks ------------------------------------------------------------------------------


def test_notebook_fix_changes_only_the_fixed_cells_sources(tmp_path: Path) -> None:
    original_path = FIXTURES / "notebooks" / "fix_keeps_outputs.ipynb"
    target = tmp_path / "nb.ipynb"
    shutil.copy(original_path, target)
    _, before = run_json("nb.ipynb", cwd=tmp_path)
    cells_with_fixes = {f["cell"] for f in fixable(before)}
    result = run_cli("--fix", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    old_text, new_text = original_path.read_text(encoding="utf-8"), target.read_text(encoding="utf-8")
    old, new = json.loads(old_text), json.loads(new_text)
    nbformat.validate(nbformat.reads(new_text, as_version=4))
    assert {key: value for key, value in old.items() if key != "cells"} == {
        key: value for key, value in new.items() if key != "cells"
    }
    changed = set()
    for number, (old_cell, new_cell) in enumerate(zip(old["cells"], new["cells"]), 1):
        assert {k: v for k, v in old_cell.items() if k != "source"} == {k: v for k, v in new_cell.items() if k != "source"}
        if old_cell["source"] != new_cell["source"]:
            changed.add(number)
    assert len(old["cells"]) == len(new["cells"])
    assert changed and changed <= cells_with_fixes | {min(cells_with_fixes) - 1}
    # byte-for-byte: the raw text differs only in lines that are source strings
    for line in difflib.ndiff(old_text.splitlines(), new_text.splitlines()):
        if line.startswith(("- ", "+ ")):
            assert JSON_STRING_ITEM.match(line[2:]), line
    _, after = run_json("nb.ipynb", cwd=tmp_path)
    assert fixable(after) == []
    run_cli("--fix", "nb.ipynb", cwd=tmp_path)
    assert target.read_text(encoding="utf-8") == new_text


def test_notebook_fix_never_rewrites_magics(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%load_ext autoreload\nfeatures = model.encode_image(images)\n!echo done"),
        nbformat.v4.new_code_cell("%%time\nscores = features @ features.T"),
    ])
    target = tmp_path / "magic.ipynb"
    nbformat.write(notebook, target)
    run_cli("--fix", "magic.ipynb", cwd=tmp_path)
    cells = nbformat.read(target, as_version=4).cells
    assert cells[0].source.splitlines()[0] == "%load_ext autoreload"
    assert cells[0].source.splitlines()[-1] == "!echo done"
    assert cells[1].source.startswith("%%time\n")
    assert run_cli("magic.ipynb", cwd=tmp_path).returncode == 0


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_fix_touches_only_code_inside_fences(tmp_path: Path) -> None:
    original_path = FIXTURES / "markdown" / "open_clip_readme.md"
    target = tmp_path / "README.md"
    shutil.copy(original_path, target)
    run_cli("--fix", "README.md", cwd=tmp_path)
    old_lines = original_path.read_text(encoding="utf-8").splitlines()
    new_lines = target.read_text(encoding="utf-8").splitlines()
    prose_before = [line for line in old_lines if not line.startswith(("   ", "```", "~~~")) and "=" not in line]
    prose_after = [line for line in new_lines if not line.startswith(("   ", "```", "~~~")) and "=" not in line]
    assert prose_before == prose_after
    added = [line[2:] for line in difflib.ndiff(old_lines, new_lines) if line.startswith("+ ")]
    assert added
    # the fix inside the list item's indented fence keeps the fence's indentation
    assert any(line.startswith("   text_features") and "keepdim=True" in line for line in added)
    _, after = run_json("README.md", cwd=tmp_path)
    assert fixable(after) == []


def test_fix_writes_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text(BUGGY, encoding="utf-8")
    (tmp_path / "link.py").symlink_to(real)
    assert run_cli("--fix", "link.py", cwd=tmp_path).returncode == 0
    assert (tmp_path / "link.py").is_symlink()
    assert real.read_text(encoding="utf-8") != BUGGY
    assert run_cli("real.py", cwd=tmp_path).returncode == 0


def test_stdin_fix_passes_undecodable_bytes_through(tmp_path: Path) -> None:
    data = b"# caf\xe9\nfeatures = model.encode_image(x)\n"
    completed = subprocess.run(
        [str(CLI), "--fix", "-"], cwd=tmp_path, input=data, capture_output=True, timeout=120
    )
    assert completed.stdout == data
    assert b"CLN900" in completed.stderr
