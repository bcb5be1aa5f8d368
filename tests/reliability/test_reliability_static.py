"""The static reproductions of the reliability issue (../shared/repro/, vendored in inputs/):
clip-lint never hangs, crashes or loses an edit, and says what went wrong, path by path.

Each test runs the real command (and flake8 where it applies) in a subprocess with a timeout.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from reliability_helpers import (
    BUGGY,
    INPUTS,
    REPO,
    clip_lint,
    clip_lint_json,
    clip_lint_unguarded,
    codes,
    flake8,
    run,
    without_file_permissions,
)


def deep_parens(depth: int = 1500) -> str:
    return "# encode_image\nz = " + "(" * depth + "1" + ")" * depth + "\n"


# --- crashes: isolation -------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["-j1", "-j2"])
def test_deep_parentheses_are_cln900_and_the_run_goes_on(tmp_path: Path, jobs: str) -> None:
    (tmp_path / "a_good.py").write_text(BUGGY)
    (tmp_path / "z_deep.py").write_text(deep_parens())
    report = clip_lint_json(jobs, "a_good.py", "z_deep.py", cwd=tmp_path)
    assert codes(report, "a_good.py") == ["CLN001"]
    assert codes(report, "z_deep.py") == ["CLN900"]


@pytest.mark.parametrize("jobs", ["-j1", "-j2"])
def test_a_file_that_kills_its_worker_is_cln900_and_other_fixes_are_written(tmp_path: Path, jobs: str) -> None:
    # the depth guard is switched off: libcst really segfaults in a worker
    for name in ("a_good.py", "b_good.py"):
        (tmp_path / name).write_text(BUGGY)
    (tmp_path / "m_deep.py").write_text(deep_parens())
    result = clip_lint_unguarded(jobs, "--fix", "a_good.py", "m_deep.py", "b_good.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "m_deep.py:1:1: CLN900" in result.stdout and "crashed the Python interpreter" in result.stdout
    assert "SIGSEGV" in result.stdout
    assert "Fixed 2 findings in 2 files (1 left)." in result.stdout
    for name in ("a_good.py", "b_good.py"):
        assert "norm(" in (tmp_path / name).read_text()
    assert (tmp_path / "m_deep.py").read_text() == deep_parens()


def test_deep_parentheses_under_flake8_do_not_crash(tmp_path: Path) -> None:
    (tmp_path / "z_deep.py").write_text(deep_parens())
    result = flake8("--select", "CLN,E999", "z_deep.py", cwd=tmp_path)
    assert result.returncode == 1 and result.returncode >= 0
    assert "E999" in result.stdout  # CPython refuses more than 200 nested brackets before the plugin runs


@pytest.mark.parametrize("body", [
    "+".join(["a"] * 5000),          # a 5,000-term expression
    "+".join(["x1"] * 133_000),      # a 400 KB one-line sum
    "-" * 4700 + "1",               # a unary chain libcst overflows on
], ids=["5000_terms", "400KB_sum", "unary_chain"])  # fmt: skip
def test_pathological_expressions_reach_cln900_in_bounded_time(tmp_path: Path, body: str) -> None:
    (tmp_path / "big.py").write_text("import torch\nz = model.encode_image(x)\nz = " + body + "\n")
    result = clip_lint("big.py", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "big.py:3:" in result.stdout and "CLN900" in result.stdout and "nests too deeply" in result.stdout


# --- walking ----------------------------------------------------------------------------------


def test_deep_folder_tree_is_walked(tmp_path: Path) -> None:
    folder = str(tmp_path / "deep")
    for _ in range(1101):
        os.mkdir(folder)
        folder = os.path.join(folder, "a")
    Path(os.path.dirname(folder), "x.py").write_text(BUGGY)
    try:
        result = clip_lint("-j1", "deep", cwd=tmp_path)
    finally:
        _remove_deep_tree(os.path.dirname(folder), str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "CLN001" in result.stdout and "Checked 1 file" in result.stdout


def _remove_deep_tree(deepest: str, top: str) -> None:
    """Bottom up, without recursion (shutil.rmtree, and so pytest's clean-up, would overflow)."""
    os.remove(os.path.join(deepest, "x.py"))
    while deepest != top:
        os.rmdir(deepest)
        deepest = os.path.dirname(deepest)


def test_fifo_in_a_walked_folder_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text(BUGGY)
    os.mkfifo(tmp_path / "src" / "x.py")
    result = clip_lint("-j1", "src", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "src/a.py:3:14: CLN001" in result.stdout
    assert "src/x.py: skipped: not a regular file (a FIFO)" in result.stderr


def test_fifo_named_on_the_command_line_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.py")
    result = clip_lint("x.py", cwd=tmp_path, timeout=60)
    assert result.returncode == 0
    assert "x.py: skipped: not a regular file (a FIFO)" in result.stderr


def test_unreadable_folder_is_an_error(tmp_path: Path) -> None:
    closed = tmp_path / "src" / "closed"
    closed.mkdir(parents=True)
    (closed / "in.py").write_text(BUGGY)
    closed.chmod(0)
    try:
        report = clip_lint_json("-j1", "src", cwd=tmp_path, prefix=without_file_permissions())
        text = clip_lint("-j1", "src", cwd=tmp_path, prefix=without_file_permissions())
        excluded = clip_lint("-j1", "--extend-exclude", "closed", "src", cwd=tmp_path, prefix=without_file_permissions())
    finally:
        closed.chmod(0o755)
    assert report["errors"] == [{"path": "src/closed", "message": "cannot list the folder: Permission denied"}]
    assert report["summary"]["errors"] == 1
    assert text.returncode == 1 and "src/closed: error: cannot list the folder" in text.stdout
    assert excluded.returncode == 0, excluded.stdout


def test_unreadable_file_is_an_error_whatever_is_selected(tmp_path: Path) -> None:
    (tmp_path / "secret.py").write_text(BUGGY)
    (tmp_path / "secret.py").chmod(0)
    result = clip_lint("--select", "CLN001", "secret.py", cwd=tmp_path, prefix=without_file_permissions())
    assert result.returncode == 1
    assert "secret.py: error: cannot read it: Permission denied" in result.stdout


def test_dangling_symlink_is_an_error_unless_excluded(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    os.symlink("missing.py", tmp_path / "src" / "dangling.py")
    (tmp_path / "src" / "ok.py").write_text("x = 1\n")
    report = clip_lint_json("src", cwd=tmp_path)
    assert report["errors"] == [
        {"path": "src/dangling.py", "message": "dangling symlink: its target 'missing.py' does not exist"}
    ]
    assert report["findings"] == [] and report["summary"]["files_checked"] == 1
    assert clip_lint("src", cwd=tmp_path).returncode == 1
    assert clip_lint("--extend-exclude", "dangling.py", "src", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("select", [[], ["--select", "CLN001"], ["--exit-zero"]])
def test_a_missing_path_is_a_usage_error(tmp_path: Path, select: list) -> None:
    (tmp_path / "real.py").write_text("x = 1\n")
    result = clip_lint(*select, "real.py", "no_such_file.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "no_such_file.py: no such file or directory" in result.stderr


# --- safe writes ------------------------------------------------------------------------------


def test_failed_write_is_an_error_in_every_format(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "a.py").write_text(BUGGY)
    folder.chmod(0o555)
    prefix = without_file_permissions()
    try:
        text = clip_lint("-j1", "--fix", "ro/a.py", cwd=tmp_path, prefix=prefix)
        report = clip_lint_json("-j1", "--fix", "ro/a.py", cwd=tmp_path, prefix=prefix)
        sarif = json.loads(clip_lint("-j1", "--fix", "--format", "sarif", "ro/a.py", cwd=tmp_path, prefix=prefix).stdout)
    finally:
        folder.chmod(0o755)
    assert text.returncode == 1
    assert "ro/a.py: error: cannot write the fixed file: Permission denied" in text.stdout
    assert "fixed" not in text.stdout.splitlines()[-1]
    assert report["summary"]["fixed"] == 0 and report["summary"]["errors"] == 1
    assert codes(report) == ["CLN001"]  # the finding is still in the file
    assert report["errors"][0]["path"] == "ro/a.py"
    jsonschema.validate(sarif, json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text()))
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "cannot write" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert (folder / "a.py").read_text() == BUGGY


@pytest.mark.parametrize("collision", ["directory", "symlink"])
def test_old_temporary_names_are_left_alone(tmp_path: Path, collision: str) -> None:
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(BUGGY)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data\n")
    if collision == "directory":
        (tmp_path / "a.py.clip-lint-tmp").mkdir()
    else:
        os.symlink(victim, tmp_path / "a.py.clip-lint-tmp")
    result = clip_lint("-j1", "--fix", "a.py", "b.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("a.py", "b.py"):
        assert not (tmp_path / name).is_symlink() and "norm(" in (tmp_path / name).read_text()
    assert victim.read_text() == "precious data\n"
    # nothing left beside the files but the cache's own folder
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".clip_lint_cache")
    assert left == ["a.py", "a.py.clip-lint-tmp", "b.py", "victim.txt"]


def test_fix_keeps_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text(BUGGY)
    (tmp_path / "real.py").chmod(0o741)
    os.symlink("real.py", tmp_path / "link.py")
    result = clip_lint("--fix", "link.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert (tmp_path / "link.py").is_symlink()
    assert "norm(" in (tmp_path / "real.py").read_text()
    assert stat.S_IMODE((tmp_path / "real.py").stat().st_mode) == 0o741


def test_fix_keeps_each_line_ending(tmp_path: Path) -> None:
    source = (
        b"import torch\r\n\r\n\r\ndef f(model, images, tokens):\n    img = model.encode_image(images)\r\n"
        b"    txt = model.encode_text(tokens)\n    return img @ txt.T\n"
    )
    (tmp_path / "mixed.py").write_bytes(source)
    assert clip_lint("--fix", "mixed.py", cwd=tmp_path).returncode == 0
    fixed = (tmp_path / "mixed.py").read_bytes()
    for line in source.splitlines(keepends=True):
        assert line in fixed  # every original line, with its own ending
    assert fixed.count(b"\r\n") == source.count(b"\r\n") + 1  # the line after a CRLF line takes CRLF
    assert fixed.count(b"\n") == source.count(b"\n") + 2


def test_an_edit_saved_during_fix_is_not_overwritten(tmp_path: Path) -> None:
    # the analysis appends a user's edit to the file once it has read it: the fix must not win
    script = (
        "import sys\n"
        "import clip_lint.frontends.runner as runner\n"
        "original = runner.check_bytes\n"
        "def check_bytes(path, data, settings, kind=None):\n"
        "    result = original(path, data, settings, kind)\n"
        "    with open(path, 'a') as handle:\n"
        "        handle.write('# USER EDIT\\n')\n"
        "    return result\n"
        "runner.check_bytes = check_bytes\n"
        "from clip_lint.frontends.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    (tmp_path / "a.py").write_text(BUGGY)
    result = run_python(script, "--fix", "a.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "a.py: error: changed during --fix, not written" in result.stdout
    assert (tmp_path / "a.py").read_text() == BUGGY + "# USER EDIT\n"


def run_python(script: str, *args: str, cwd: Path) -> "subprocess.CompletedProcess[str]":
    return run([sys.executable, "-c", script, *args], cwd)


# --- messages ---------------------------------------------------------------------------------


def test_doctest_block_is_analysed_not_cln900(tmp_path: Path) -> None:
    report = clip_lint_json(INPUTS / "md_doctest_block_cln900.md", cwd=tmp_path)
    # prompts stripped as doctest does: both comparisons are found, at the file's own columns
    assert [(f["code"], f["line"], f["column"]) for f in report["findings"]] == [("CLN001", 5, 18), ("CLN001", 8, 19)]
    assert all(f["fix"]["applicable"] is False for f in report["findings"])  # a fix would have to keep the prompts


def test_notebook_fix_after_a_bash_cell_is_applied(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text((INPUTS / "nb_unfixable_fixable.ipynb").read_text())
    before = clip_lint_json("nb.ipynb", cwd=tmp_path)
    assert before["summary"]["fixable"] == 1
    fixed = clip_lint_json("--fix", "nb.ipynb", cwd=tmp_path)
    assert fixed["summary"]["fixed"] == 1 and fixed["findings"] == []
    cells = json.loads(notebook.read_text())["cells"]
    assert cells[0]["source"] == ["%%bash\n", "echo hi"]
    assert "F.normalize(" in "".join(cells[1]["source"])


def test_nul_byte_is_reported_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "nul.py").write_bytes(b"import torch\nx = 1\x00\n# encode_image @\n")
    result = clip_lint("nul.py", cwd=tmp_path)
    assert "nul.py:2:6: CLN900" in result.stdout and "NUL byte" in result.stdout


def test_nbformat_3_has_its_own_message(tmp_path: Path) -> None:
    (tmp_path / "old.ipynb").write_text('{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}')
    result = clip_lint("old.ipynb", cwd=tmp_path)
    assert "nbformat 3 notebook" in result.stdout and "nbconvert" in result.stdout


def test_cells_without_type_or_source_are_reported_once(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x = model.encode_image(i)"},
        {"source": "y"},
        {"cell_type": "code", "metadata": {}},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x @ x.T"},
    ]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    report = clip_lint_json("nb.ipynb", cwd=tmp_path)
    notices = [f for f in report["findings"] if f["code"] == "CLN900"]
    assert len(notices) == 1 and "cells 2, 3 have no 'cell_type' or no 'source'" in notices[0]["message"]
    assert codes(report) == ["CLN001", "CLN900"]  # the other cells are still analysed


def test_flake8_and_clip_lint_agree_on_the_vendored_python_inputs(tmp_path: Path) -> None:
    name = "fix_corrupts_positional_norm.py"
    ours = clip_lint_json(INPUTS / name, cwd=tmp_path)
    theirs = flake8(INPUTS / name, cwd=tmp_path)
    assert theirs.returncode in (0, 1), theirs.stderr
    assert sorted(f["line"] for f in ours["findings"]) == sorted(
        int(line.split(":")[1]) for line in theirs.stdout.splitlines() if ": CLN" in line
    )
