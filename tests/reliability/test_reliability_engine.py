"""Reproductions whose fix lies in the engine (other work items of the reliability and
precision issues): positional norm arguments, fixes that must not rebind a name, and
layouts libcst or the pre-parse check used to miss.

The hang and slow ones (exponential inlining) are in test_reliability_nightly.py.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from reliability_helpers import INPUTS, clip_lint, clip_lint_json, codes, flake8


def flake8_lines(path: Path, cwd: Path) -> list:
    result = flake8(path, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return sorted((int(line.split(":")[1]), line.split(": ")[1].split()[0]) for line in result.stdout.splitlines())


def clip_lint_lines(path: Path, cwd: Path) -> list:
    return sorted((f["line"], f["code"]) for f in clip_lint_json(path, cwd=cwd)["findings"])


def test_form_feed_indentation_is_analysed(tmp_path: Path) -> None:
    path = INPUTS / "formfeed_indent_cln900.py"
    assert clip_lint_lines(path, tmp_path) == flake8_lines(path, tmp_path) == [(8, "CLN001")]


def test_black_operator_first_layout_is_analysed(tmp_path: Path) -> None:
    path = INPUTS / "fn_black_style_operator_first_line.py"
    ours = clip_lint_lines(path, tmp_path)
    assert "CLN001" in {code for _, code in ours}
    assert ours == flake8_lines(path, tmp_path)


def test_positional_norm_arguments_are_read_by_position(tmp_path: Path) -> None:
    path = INPUTS / "fix_corrupts_positional_norm.py"
    assert clip_lint_lines(path, tmp_path) == flake8_lines(path, tmp_path) == []


@pytest.mark.parametrize("name", ["pyspark_F.py", "loopvar_F.py"])
def test_fix_never_rebinds_an_existing_F(tmp_path: Path, name: str) -> None:
    shutil.copy(INPUTS / "fix_shadows_F" / name, tmp_path / name)
    before = _import_aliases(tmp_path / name)
    result = clip_lint("--fix", name, cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert _import_aliases(tmp_path / name).count("F") == before.count("F")
    assert codes(clip_lint_json(name, cwd=tmp_path)) == []


def _import_aliases(path: Path) -> list:
    tree = ast.parse(path.read_text())
    return [alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names]  # fmt: skip
