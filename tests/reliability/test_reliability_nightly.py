"""Nightly-size reliability checks: slow on purpose, not run by default.

Run them with ``python -m pytest -m nightly tests/reliability``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability_helpers import CLI, INPUTS, REPO, clip_lint, flake8

pytestmark = pytest.mark.nightly


def test_an_edit_saved_while_fix_analyses_a_slow_file_is_kept(tmp_path: Path) -> None:
    shutil.copy(INPUTS / "slow_nested_loops_4x4.py", tmp_path / "slow.py")
    process = subprocess.Popen([str(CLI), "-j1", "--fix", "slow.py"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    time.sleep(2)
    with open(tmp_path / "slow.py", "a") as handle:
        handle.write("# USER EDIT made while clip-lint was running\n")
    output, _ = process.communicate(timeout=900)
    assert "# USER EDIT" in (tmp_path / "slow.py").read_text(), output


def test_fix_of_a_10_mb_file_finishes(tmp_path: Path) -> None:
    source = (REPO / "fixtures" / "fix" / "cln001_two_operands.in.py").read_text()
    copies = 10_000_000 // len(source) + 1
    (tmp_path / "big.py").write_text(source * copies)
    result = clip_lint("-j1", "--fix", "big.py", cwd=tmp_path, timeout=1800)
    assert result.returncode in (0, 1), result.stderr
    assert "fixed" in result.stdout


@pytest.mark.parametrize("source", [
    "z = " + "(" * 1300 + "1" + ")" * 1300,
    "z = " + "-" * 20_000 + "1",
], ids=["parentheses", "unary"])  # fmt: skip
def test_libcst_really_crashes_on_what_parse_guard_refuses(source: str) -> None:
    # the measurement parse_guard's limit is set from; if libcst stops crashing, the limit can rise
    result = subprocess.run(
        [sys.executable, "-c", "import sys, libcst; libcst.parse_module(sys.stdin.read())"],
        input=source + "\n", capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode < 0


# Dense call graphs: the engine's inlining budgets (issue 8) bound them.
@pytest.mark.parametrize("name", ["hang_fanout40.py", "hang_nested_loops_inline.py", "slow_fanout20.py",
                                  "slow_nested_loops_4x4.py"])  # fmt: skip
def test_dense_call_graphs_finish_in_bounded_time(tmp_path: Path, name: str) -> None:
    shutil.copy(INPUTS / name, tmp_path / name)
    assert clip_lint("-j1", name, cwd=tmp_path, timeout=300).returncode in (0, 1)
    assert flake8(name, cwd=tmp_path, timeout=300).returncode in (0, 1)
