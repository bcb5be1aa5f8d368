"""Stdin with --stdin-filename, the output flags (-q, -qq, --statistics, --show-source,
--output-file), the --fix summary, the progress line (on a terminal only), -j auto and the
rules listing."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from cli_helpers import BUGGY, CLEAN, CLI, REPO, run_cli, write

TWO_BUGS = """\
image_features = model.encode_image(images)
text_features = model.encode_text(texts)
text_features = text_features / text_features.norm(dim=-1)
logits = image_features @ text_features.T
"""


# --- stdin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dash", [[], ["-"]])
def test_stdin_filename_reads_stdin_with_or_without_dash(tmp_path: Path, dash: list) -> None:
    write(tmp_path, "on_disk.py", BUGGY)  # must not be checked: stdin is the input
    result = run_cli("--stdin-filename", "pkg/model.py", *dash, cwd=tmp_path, input=TWO_BUGS)
    assert result.returncode == 1
    assert "on_disk.py" not in result.stdout
    assert [line.split(":")[0] for line in result.stdout.splitlines()[:-1]] == ["pkg/model.py"] * 2
    assert result.stdout.splitlines()[-1].startswith("Checked 1 file: 2 findings")


def test_stdin_filename_drives_config_excludes_and_per_file_ignores(tmp_path: Path) -> None:
    write(
        tmp_path,
        "repo/pyproject.toml",
        '[tool.clip-lint]\nextend-exclude = ["generated/"]\n[tool.clip-lint.per-file-ignores]\n"tests/*" = ["CLN003"]\n',
    )
    repo = tmp_path / "repo"
    in_tests = run_json_stdin(["--stdin-filename", str(repo / "tests" / "t.py")], tmp_path)
    assert [finding["code"] for finding in in_tests["findings"]] == ["CLN001"]
    assert in_tests["findings"][0]["path"] == str(repo / "tests" / "t.py")
    excluded = run_cli("--stdin-filename", "repo/generated/x.py", cwd=tmp_path, input=TWO_BUGS)
    assert excluded.returncode == 0 and "CLN" not in excluded.stdout
    fixed = run_cli("--fix", "--stdin-filename", "repo/generated/x.py", cwd=tmp_path, input=TWO_BUGS)
    assert fixed.stdout == TWO_BUGS  # excluded: passed through unchanged


def run_json_stdin(args: list, cwd: Path) -> dict:
    result = run_cli("--format", "json", *args, cwd=cwd, input=TWO_BUGS)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_stdin_with_other_paths_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "a.py", CLEAN)
    result = run_cli("--stdin-filename", "x.py", "a.py", cwd=tmp_path, input=BUGGY)
    assert result.returncode == 2 and "stdin" in result.stderr


# --- quiet, statistics, show-source, output-file ----------------------------------------------


def test_quiet_levels(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", TWO_BUGS)
    write(tmp_path, "clean.py", CLEAN)
    normal = run_cli(".", cwd=tmp_path)
    quiet = run_cli("-q", ".", cwd=tmp_path)
    assert quiet.returncode == 1
    assert quiet.stdout.splitlines() == normal.stdout.splitlines()[:-1]  # the findings, no summary
    very_quiet = run_cli("-qq", ".", cwd=tmp_path)
    assert (very_quiet.returncode, very_quiet.stdout, very_quiet.stderr) == (1, "", "")
    assert run_cli("--quiet", "clean.py", cwd=tmp_path).stdout == ""
    assert run_cli("-qq", "--format", "json", ".", cwd=tmp_path).stdout == ""
    diff = run_cli("-qq", "--diff", ".", cwd=tmp_path)
    assert (diff.returncode, diff.stdout, diff.stderr) == (1, "", "")
    quiet_diff = run_cli("-q", "--diff", ".", cwd=tmp_path)
    assert quiet_diff.stdout.startswith("---") and quiet_diff.stderr == ""


def test_statistics_text_and_json(tmp_path: Path) -> None:
    write(tmp_path, "a.py", TWO_BUGS)
    write(tmp_path, "b.py", BUGGY)
    result = run_cli("--statistics", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "2  CLN001  [*] unnormalized-features-in-similarity",
        "1  CLN003  [*] norm-without-keepdim",
        "Checked 2 files: 3 findings (3 fixable with --fix).",
    ]
    data = json.loads(run_cli("--statistics", "--format", "json", ".", cwd=tmp_path).stdout)
    assert data == [
        {"code": "CLN001", "name": "unnormalized-features-in-similarity", "count": 2, "fixable": 2},
        {"code": "CLN003", "name": "norm-without-keepdim", "count": 1, "fixable": 1},
    ]
    assert run_cli("--statistics", "--format", "sarif", ".", cwd=tmp_path).returncode == 2


def test_show_source_prints_the_line_and_a_caret_as_flake8(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", "if True:\n\t" + TWO_BUGS.replace("\n", "\n\t").rstrip("\t"))
    ours = run_cli("--show-source", "bug.py", cwd=tmp_path).stdout.splitlines()[:-1]
    flake8 = subprocess.run(
        [str(CLI.with_name("flake8")), "--isolated", "--select", "CLN", "--show-source", "bug.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    ).stdout.splitlines()
    assert len(ours) == 6
    assert [line for line in ours if not line.startswith("bug.py")] == [
        line for line in flake8 if not line.startswith("bug.py")
    ]
    assert ours[4] == "\tlogits = image_features @ text_features.T"
    assert ours[5] == "\t" + " " * len("logits = image_features ") + "^"  # under the @ the message names


def test_show_source_in_a_notebook_shows_the_cell_line(tmp_path: Path) -> None:
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": ["f = model.encode_image(x)\n", "s = f @ f.T"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    write(tmp_path, "nb.ipynb", json.dumps(notebook))
    lines = run_cli("--show-source", "nb.ipynb", cwd=tmp_path).stdout.splitlines()
    assert lines[0].startswith("nb.ipynb:cell 1:2:7: CLN001")
    assert lines[1:3] == ["s = f @ f.T", "      ^"]


def test_output_file_gets_the_report(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli("--format", "json", "--output-file", "report.json", "bug.py", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [finding["code"] for finding in report["findings"]] == ["CLN001"]
    text = run_cli("--color", "always", "--output-file", "out.txt", "bug.py", cwd=tmp_path)
    assert text.stdout == ""
    assert "\x1b[" not in (tmp_path / "out.txt").read_text(encoding="utf-8")  # no colour in a file
    bad = run_cli("--output-file", "missing/dir/out.txt", "bug.py", cwd=tmp_path)
    assert bad.returncode == 2 and "cannot write" in bad.stderr


def test_fix_prints_what_it_changed(tmp_path: Path) -> None:
    write(tmp_path, "a.py", TWO_BUGS)
    write(tmp_path, "b.py", BUGGY)
    write(tmp_path, "c.py", CLEAN)
    result = run_cli("--fix", ".", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "Fixed 3 findings in 2 files (0 left)."


# --- progress ---------------------------------------------------------------------------------


def run_with_tty_stderr(args: list, cwd: Path, env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal and stdout on a pipe."""
    controller, terminal = pty.openpty()
    environment = dict(os.environ, CLIP_LINT_PROGRESS_DELAY="0")
    environment.pop("NO_COLOR", None)
    environment.update(env or {})
    process = subprocess.Popen([str(CLI), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=terminal, env=environment)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = process.stdout.read().decode()
    process.wait(timeout=120)
    os.close(controller)
    return process.returncode, stdout, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    for index in range(12):
        write(tmp_path, f"m{index:02}.py", BUGGY if index % 3 == 0 else CLEAN)
    return tmp_path


def test_progress_line_on_a_terminal_only(many_files: Path) -> None:
    code, stdout, stderr = run_with_tty_stderr(["-j", "1", "."], many_files)
    assert code == 1
    assert "checked 12/12 files" in stderr
    assert "\x1b[2K" in stderr  # erased at the end, so the terminal is left clean
    assert "checked" not in stdout and stdout.splitlines()[-1].startswith("Checked 12 files")
    piped = run_cli("-j", "1", ".", cwd=many_files, env=dict(os.environ, CLIP_LINT_PROGRESS_DELAY="0"))
    assert "checked 12/12" not in piped.stderr + piped.stdout


def test_progress_honours_quiet_and_no_color(many_files: Path) -> None:
    _, _, quiet = run_with_tty_stderr(["-q", "-j", "1", "."], many_files)
    assert "checked" not in quiet
    _, _, plain = run_with_tty_stderr(["-j", "1", "."], many_files, env={"NO_COLOR": "1"})
    assert "checked 12/12 files" in plain and "\x1b[" not in plain


def test_progress_waits_for_a_long_run(many_files: Path) -> None:
    _, _, stderr = run_with_tty_stderr(["-j", "1", "."], many_files, env={"CLIP_LINT_PROGRESS_DELAY": "600"})
    assert stderr == ""


# --- -j ---------------------------------------------------------------------------------------


def test_jobs_auto_and_one_give_the_same_report(many_files: Path) -> None:
    auto = run_cli("-j", "auto", ".", cwd=many_files)
    one = run_cli("-j", "1", ".", cwd=many_files)
    assert auto.returncode == one.returncode == 1
    assert auto.stdout == one.stdout
    bad = run_cli("-j", "many", ".", cwd=many_files)
    assert bad.returncode == 2 and "auto" in bad.stderr


# --- the rules listing ------------------------------------------------------------------------


def test_rules_listing_text_and_json() -> None:
    from clip_lint.rules import RULES

    for args in (["rules"], ["--list-rules"]):
        result = run_cli(*args)
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        assert [line.split()[0] for line in lines] == sorted(RULES)
        for line, code in zip(lines, sorted(RULES)):
            assert RULES[code].name in line and RULES[code].short_description in line
            assert line.endswith("(off by default: --extend-select CLN100)") is (not RULES[code].default)
    data = json.loads(run_cli("rules", "--format", "json").stdout)
    assert data == json.loads(run_cli("--list-rules", "--format", "json").stdout)
    assert [rule["code"] for rule in data] == sorted(RULES)
    for rule in data:
        assert rule["summary"] and rule["name"] == RULES[rule["code"]].name
        assert rule["url"] == (REPO / RULES[rule["code"]].page).as_uri() and rule["page"] == RULES[rule["code"]].page
        assert rule["default"] is RULES[rule["code"]].default


def test_a_folder_named_rules_is_checked_as_dot_slash_rules(tmp_path: Path) -> None:
    write(tmp_path, "rules/bug.py", BUGGY)
    result = run_cli("./rules", cwd=tmp_path)
    assert result.returncode == 1 and "CLN001" in result.stdout
