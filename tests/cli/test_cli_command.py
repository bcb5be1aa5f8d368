"""End-to-end behaviour of the installed ``clip-lint`` command: exit codes, text output,
selection, noqa, CLN900 on bad input, discovery, configuration, stdin, -j and --explain."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import BUGGY, CLEAN, CLI, REPO, run_cli, run_json, write

TEXT_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) (?P<message>.+)$")
SUMMARY = re.compile(r"^Checked (?P<files>\d+) files?: (?:no findings|(?P<findings>\d+) findings?.*)\.$")

# One CLN001 (image features raw) and one CLN003 (text norm without keepdim).
TWO_BUGS = '''\
import torch

image_features = model.encode_image(images)
text_features = model.encode_text(texts)
text_features = text_features / text_features.norm(dim=-1)
logits = image_features @ text_features.T
'''


def finding_lines(stdout: str) -> list:
    return [match.groupdict() for match in map(TEXT_LINE.match, stdout.splitlines()) if match]


def flake8_findings(path: Path) -> set:
    """What the flake8 plugin reports for ``path``: (line, 1-based col, code)."""
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    found = set()
    for line in result.stdout.splitlines():
        match = TEXT_LINE.match(line)
        if match:
            found.add((int(match["line"]), int(match["col"]), match["code"]))
    return found


# --- exit codes and the text format -------------------------------------------------------


def test_clean_file_exits_0_with_a_summary(tmp_path: Path) -> None:
    write(tmp_path, "clean.py", CLEAN)
    result = run_cli("clean.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["Checked 1 file: no findings."]


def test_findings_exit_1_and_match_flake8_positions(tmp_path: Path) -> None:
    path = write(tmp_path, "bug.py", BUGGY)
    result = run_cli("bug.py", cwd=tmp_path)
    assert result.returncode == 1
    found = {(int(f["line"]), int(f["col"]), f["code"]) for f in finding_lines(result.stdout)}
    assert found and found == flake8_findings(path)
    assert all(f["path"] == "bug.py" for f in finding_lines(result.stdout))


def test_summary_counts_files_findings_and_fixable(tmp_path: Path) -> None:
    write(tmp_path, "a.py", TWO_BUGS)
    write(tmp_path, "b.py", CLEAN)
    write(tmp_path, "c.py", "print('no encoders here')\n")
    result = run_cli(".", cwd=tmp_path)
    lines = result.stdout.splitlines()
    summary = SUMMARY.match(lines[-1])
    assert summary, lines[-1]
    assert int(summary["files"]) == 3
    assert int(summary["findings"]) == len(finding_lines(result.stdout)) == 2
    _, report = run_json(".", cwd=tmp_path)
    fixable = sum(1 for f in report["findings"] if f["fix"] and f["fix"]["applicable"])
    assert f"({fixable} fixable with --fix)" in lines[-1]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("--no-such-flag", cwd=tmp_path).returncode == 2
    assert run_cli("--format", "xml", cwd=tmp_path).returncode == 2
    assert run_cli("-j", "0", cwd=tmp_path).returncode == 2
    both = run_cli("-", "other.py", cwd=tmp_path, input="")
    assert both.returncode == 2 and "stdin" in both.stderr


def test_exit_zero_keeps_the_report(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli("--exit-zero", "bug.py", cwd=tmp_path)
    assert result.returncode == 0
    assert finding_lines(result.stdout)


def test_colour_only_on_a_tty(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", BUGGY)
    piped = run_cli("bug.py", cwd=tmp_path)
    assert "\x1b[" not in piped.stdout
    forced = run_cli("--color", "always", "bug.py", cwd=tmp_path)
    assert "\x1b[" in forced.stdout
    leader, follower = pty.openpty()
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    process = subprocess.run([str(CLI), "bug.py"], cwd=tmp_path, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.returncode == 1
    assert b"\x1b[" in output


# --- selection and noqa ---------------------------------------------------------------------


def codes(stdout: str) -> list:
    return sorted(f["code"] for f in finding_lines(stdout))


def test_select_and_ignore_take_prefixes(tmp_path: Path) -> None:
    write(tmp_path, "two.py", TWO_BUGS)
    assert codes(run_cli("two.py", cwd=tmp_path).stdout) == ["CLN001", "CLN003"]
    assert codes(run_cli("--select", "CLN003", "two.py", cwd=tmp_path).stdout) == ["CLN003"]
    assert codes(run_cli("--ignore", "CLN00", "two.py", cwd=tmp_path).stdout) == []
    assert run_cli("--ignore", "CLN00", "two.py", cwd=tmp_path).returncode == 0
    # the more specific prefix wins
    assert codes(run_cli("--select", "CLN001", "--ignore", "CLN", "two.py", cwd=tmp_path).stdout) == ["CLN001"]
    assert codes(run_cli("--select", "CLN", "--ignore", "CLN001", "two.py", cwd=tmp_path).stdout) == ["CLN003"]


@pytest.mark.parametrize(
    "comment, silenced",
    [
        ("# noqa", True),
        ("# noqa: CLN001", True),
        ("# NOQA:CLN001,CLN004", True),
        ("# noqa: CLN", True),
        ("# noqa: CLN002", False),
        ("", False),
    ],
)
def test_noqa_in_python_files(tmp_path: Path, comment: str, silenced: bool) -> None:
    write(tmp_path, "bug.py", BUGGY.replace("text_features.T\n", f"text_features.T  {comment}\n"))
    result = run_cli("bug.py", cwd=tmp_path)
    assert (codes(result.stdout) == []) is silenced
    assert result.returncode == (0 if silenced else 1)


# --- bad input: CLN900, and the run goes on -------------------------------------------------


def test_bad_inputs_are_cln900_and_never_stop_the_run(tmp_path: Path) -> None:
    write(tmp_path, "a_bug.py", BUGGY)
    (tmp_path / "b_latin1.py").write_bytes(b"# caf\xe9\nfeatures = model.encode_image(x)\n")
    write(tmp_path, "c_syntax.py", "features = model.encode_image(x)\ndef broken(:\n    pass\n")
    write(tmp_path, "d_notebook.ipynb", '{"cells": [ {"cell_type": "code", "source": "x"} ')
    os.symlink(tmp_path / "missing.py", tmp_path / "e_dangling.py")
    write(tmp_path, "f_bug.py", BUGGY)
    result = run_cli(".", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    by_path = {}
    for finding in finding_lines(result.stdout):
        by_path.setdefault(finding["path"], []).append(finding)
    for name in ("b_latin1.py", "c_syntax.py", "d_notebook.ipynb"):
        assert [f["code"] for f in by_path[name]] == ["CLN900"], name
    assert "UTF-8" in by_path["b_latin1.py"][0]["message"]
    assert "JSON" in by_path["d_notebook.ipynb"][0]["message"]
    # a dangling symlink is not a finding but an error of its path (tests/reliability has more)
    assert "e_dangling.py: error: dangling symlink" in result.stdout
    assert "parse" in by_path["c_syntax.py"][0]["message"]
    # the files after the bad ones are still checked
    assert [f["code"] for f in by_path["f_bug.py"]] == ["CLN001"]


def test_fix_leaves_bad_files_byte_for_byte(tmp_path: Path) -> None:
    data = b"# caf\xe9\nfeatures = model.encode_image(x)\nfeatures @ features.T\n"
    path = tmp_path / "latin1.py"
    path.write_bytes(data)
    result = run_cli("--fix", "latin1.py", cwd=tmp_path)
    assert result.returncode == 1
    assert path.read_bytes() == data


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    # a typo must not pass, whatever --select says (tests/reliability has the other variants)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli("nope.py", "bug.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "clip-lint: error: nope.py: no such file or directory" in result.stderr
    assert result.stdout == ""


# --- discovery ------------------------------------------------------------------------------


def test_walk_skips_gitignored_virtualenv_and_build_folders(tmp_path: Path) -> None:
    for name in ("src/kept.py", "src/ignored_by_git.py", ".venv/lib/x.py", "venv/x.py", "build/x.py",
                 "dist/x.py", "node_modules/x.py", "__pycache__/x.py", "sub/generated/x.py", "docs/guide.md"):
        write(tmp_path, name, BUGGY if name.endswith(".py") else "```python\n" + BUGGY + "```\n")
    write(tmp_path, ".gitignore", "ignored_by_git.py\n")
    write(tmp_path, "sub/.gitignore", "generated/\n")
    write(tmp_path, "notes.txt", BUGGY)
    result = run_cli(".", cwd=tmp_path)
    paths = sorted({f["path"] for f in finding_lines(result.stdout)})
    assert paths == ["docs/guide.md", "src/kept.py"]


def test_extend_exclude_and_explicit_files(tmp_path: Path) -> None:
    write(tmp_path, "src/a.py", BUGGY)
    write(tmp_path, "src/legacy/b.py", BUGGY)
    write(tmp_path, "build/c.py", BUGGY)
    result = run_cli("--extend-exclude", "legacy", ".", cwd=tmp_path)
    assert sorted({f["path"] for f in finding_lines(result.stdout)}) == ["src/a.py"]
    # a file named on the command line is checked even in a default-excluded folder...
    assert {f["path"] for f in finding_lines(run_cli("build/c.py", cwd=tmp_path).stdout)} == {"build/c.py"}
    # ...but not when the user excluded it
    excluded = run_cli("--extend-exclude", "legacy", "src/legacy/b.py", cwd=tmp_path)
    assert excluded.returncode == 0 and "Checked 0 files" in excluded.stdout


# --- configuration --------------------------------------------------------------------------


def test_pyproject_config_is_read_from_the_nearest_parent(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nignore = ["CLN003"]\nextend-exclude = ["skipped"]\n')
    write(tmp_path, "pkg/two.py", TWO_BUGS)
    write(tmp_path, "pkg/skipped/x.py", BUGGY)
    result = run_cli(".", cwd=tmp_path / "pkg")
    assert codes(result.stdout) == ["CLN001"]
    # the command line replaces the config's ignore list
    assert codes(run_cli("--ignore", "CLN001", "two.py", cwd=tmp_path / "pkg").stdout) == ["CLN003"]


def test_setup_cfg_section_and_extra_encoders(tmp_path: Path) -> None:
    source = "feats = model.embed_pixels(images)\nscores = feats @ feats.T\n"
    write(tmp_path, "custom.py", source)
    assert run_cli("custom.py", cwd=tmp_path).returncode == 0
    write(tmp_path, "setup.cfg", "[clip-lint]\nextra-encoders =\n    embed_pixels\n")
    configured = run_cli("custom.py", cwd=tmp_path)
    assert configured.returncode == 1 and codes(configured.stdout) == ["CLN001"]
    (tmp_path / "setup.cfg").unlink()
    flagged = run_cli("--extra-encoders", "embed_pixels", "custom.py", cwd=tmp_path)
    assert codes(flagged.stdout) == ["CLN001"]


@pytest.mark.parametrize(
    "filename, content, key",
    [
        ("pyproject.toml", '[tool.clip-lint]\nselekt = ["CLN001"]\n', "selekt"),
        ("setup.cfg", "[clip-lint]\nencoder = embed\n", "encoder"),
    ],
)
def test_unknown_config_keys_exit_2_naming_the_key(tmp_path: Path, filename: str, content: str, key: str) -> None:
    write(tmp_path, filename, content)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(".", cwd=tmp_path)
    assert result.returncode == 2
    assert f"unknown key '{key}'" in result.stderr and filename in result.stderr
    assert "Traceback" not in result.stderr


def test_wrongly_typed_and_broken_config_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.clip-lint]\nselect = 3\n")
    typed = run_cli(".", cwd=tmp_path)
    assert typed.returncode == 2 and "'select'" in typed.stderr
    write(tmp_path, "pyproject.toml", "[tool.clip-lint\n")
    broken = run_cli(".", cwd=tmp_path)
    assert broken.returncode == 2 and "pyproject.toml" in broken.stderr
    assert run_cli("--config", "missing.toml", ".", cwd=tmp_path).returncode == 2


# --- stdin ----------------------------------------------------------------------------------


def test_stdin_python(tmp_path: Path) -> None:
    result = run_cli("-", cwd=tmp_path, input=BUGGY)
    assert result.returncode == 1
    assert [(f["path"], f["code"]) for f in finding_lines(result.stdout)] == [("-", "CLN001")]
    named = run_cli("-", "--stdin-filename", "pkg/model.py", cwd=tmp_path, input=BUGGY)
    assert [f["path"] for f in finding_lines(named.stdout)] == ["pkg/model.py"]
    assert run_cli("-", cwd=tmp_path, input=CLEAN).returncode == 0


def test_stdin_notebook_by_its_filename(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": ["features = model.encode_image(images)\n", "scores = features @ features.T"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    result = run_cli("-", "--stdin-filename", "nb.ipynb", cwd=tmp_path, input=json.dumps(notebook))
    assert result.returncode == 1
    assert re.match(r"^nb\.ipynb:cell 2:2:\d+: CLN001 ", result.stdout)


def test_stdin_fix_prints_the_fixed_code(tmp_path: Path) -> None:
    result = run_cli("--fix", "-", cwd=tmp_path, input=BUGGY)
    assert result.returncode == 0
    assert result.stdout != BUGGY
    assert run_cli("-", cwd=tmp_path, input=result.stdout).returncode == 0
    assert result.stderr == "Fixed 1 finding in 1 file (0 left).\n"


# --- parallel workers -----------------------------------------------------------------------


def test_parallel_workers_give_the_same_report_as_one() -> None:
    targets = ["fixtures"]
    serial = run_cli("-j", "1", *targets, cwd=REPO)
    parallel = run_cli("-j", "2", *targets, cwd=REPO)
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == parallel.stdout
    assert len(finding_lines(serial.stdout)) > 50


# --- --explain ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["CLN001", "CLN002", "CLN003", "CLN004", "CLN900"])
def test_explain_prints_the_rule_docs_from_the_rules_table(code: str) -> None:
    from clip_lint.rules import render_rule_markdown

    result = run_cli("--explain", code.lower())
    assert result.returncode == 0
    assert result.stdout.strip() == render_rule_markdown(code).strip()


def test_explain_unknown_code_exits_2() -> None:
    result = run_cli("--explain", "CLN999")
    assert result.returncode == 2 and "CLN001" in result.stderr


def test_version() -> None:
    from clip_lint import __version__

    result = run_cli("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_gitignore_above_the_walked_folder_and_explicit_ignored_folders(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    write(tmp_path, ".gitignore", ".venv/\nsrc/generated/\n")
    write(tmp_path, "src/kept.py", BUGGY)
    write(tmp_path, "src/generated/skipped.py", BUGGY)
    write(tmp_path, ".venv/lib/site-packages/pkg/vendored.py", BUGGY)
    # the root .gitignore applies when only src/ is walked
    assert {f["path"] for f in finding_lines(run_cli("src", cwd=tmp_path).stdout)} == {"src/kept.py"}
    assert {f["path"] for f in finding_lines(run_cli(".", cwd=tmp_path).stdout)} == {"src/kept.py"}
    # a folder named explicitly is walked even though .gitignore and the defaults exclude it
    explicit = run_cli(".venv/lib/site-packages/pkg", cwd=tmp_path)
    assert {f["path"] for f in finding_lines(explicit.stdout)} == {".venv/lib/site-packages/pkg/vendored.py"}
