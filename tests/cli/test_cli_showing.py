"""Seeing what a run does: ``--show-files``, ``--show-settings FILE`` (with where each setting came
from) and ``-v`` (config per project root, the cache's hits, slow files) on stderr."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import BUGGY, CLEAN, run_cli, write
from clip_lint.rules import RULES


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nextend-select = ["CLN100"]\nignore = ["CLN004"]\n'
                                      '[tool.clip-lint.per-file-ignores]\n"tests/*" = ["CLN001"]\n'
                                      "[tool.black]\nline-length = 100\n")  # fmt: skip
    write(tmp_path, "setup.cfg", "[flake8]\nclip-encoders = embed_images\nmax-line-length = 120\n")
    write(tmp_path, "src/bug.py", BUGGY)
    write(tmp_path, "src/clean.py", CLEAN)
    write(tmp_path, "tests/test_bug.py", BUGGY)
    write(tmp_path, "notes.md", "# notes\n")
    write(tmp_path, "build/generated.py", BUGGY)
    write(tmp_path, ".gitignore", "scratch/\n")
    write(tmp_path, "scratch/tmp.py", BUGGY)
    write(tmp_path, "sub/pyproject.toml", '[tool.clip-lint]\nselect = ["CLN001"]\ncache = false\n')
    write(tmp_path, "sub/model.py", BUGGY)
    return tmp_path


# --- --show-files -------------------------------------------------------------------------------


def test_show_files_lists_what_a_run_checks_and_checks_nothing(project: Path) -> None:
    shown = run_cli("--show-files", cwd=project)
    assert shown.returncode == 0 and shown.stderr == ""
    assert shown.stdout.splitlines() == ["notes.md", "src/bug.py", "src/clean.py", "sub/model.py", "tests/test_bug.py"]
    assert not (project / ".clip_lint_cache").exists()  # nothing was analysed, so nothing was cached
    checked = run_cli("-v", cwd=project)
    assert "clip-lint: 5 files to check" in checked.stderr
    assert run_cli("--show-files", "src", "sub/model.py", cwd=project).stdout == "src/bug.py\nsrc/clean.py\nsub/model.py\n"
    assert run_cli("--show-files", "--extend-exclude", "src", cwd=project).stdout.splitlines() == [
        "notes.md", "sub/model.py", "tests/test_bug.py",
    ]  # fmt: skip
    missing = run_cli("--show-files", "nowhere", cwd=project)
    assert missing.returncode == 2 and "nowhere: no such file or directory" in missing.stderr
    assert run_cli("check", "--show-files", "--fix", cwd=project).returncode == 2
    assert run_cli("--show-files", "-", cwd=project, input=BUGGY).returncode == 2


# --- --show-settings ----------------------------------------------------------------------------


def settings_of(path: str, *args: str, cwd: Path, env: Dict[str, str] = None) -> Dict[str, dict]:
    result = run_cli("--show-settings", path, "--format", "json", *args, cwd=cwd,
                     env=None if env is None else dict(os.environ, **env))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["path"] == path
    return report["settings"]


def test_show_settings_says_where_each_setting_came_from(project: Path) -> None:
    shown = settings_of("tests/test_bug.py", "--extra-encoders", "embed_texts", "--select", "CLN00,CLN1", cwd=project)
    pyproject, setup_cfg = project / "pyproject.toml", project / "setup.cfg"
    assert shown["config"] == {"value": [str(pyproject), str(setup_cfg)],
                               "source": "the nearest folder above the file with clip-lint settings"}  # fmt: skip
    assert shown["select"] == {"value": ["CLN00", "CLN1"], "source": "--select"}
    assert shown["extend-select"] == {"value": ["CLN100"], "source": f"'extend-select' in [tool.clip-lint] in {pyproject}"}
    assert shown["ignore"]["source"] == f"'ignore' in [tool.clip-lint] in {pyproject}"
    assert shown["extra-encoders"] == {
        "value": ["embed_images", "embed_texts"],
        "source": f"'clip-encoders' in [flake8] in {setup_cfg} + --extra-encoders",
    }
    assert shown["extra-normalizers"] == {"value": [], "source": "default"}
    assert shown["per-file-ignores here"]["value"] == ["CLN001"]
    assert shown["line-length"] == {"value": 100, "source": f"the shortest line length of Black, ruff or flake8: {pyproject}"}
    assert shown["cache-dir"] == {"value": str(project / ".clip_lint_cache"),
                                  "source": "default: .clip_lint_cache at the project root"}  # fmt: skip
    assert shown["project root"]["value"] == str(project)
    assert shown["rules reported"]["value"] == ["CLN002", "CLN003", "CLN005", "CLN100"]
    assert shown["kind"]["value"] == "python" and shown["excluded"]["value"] is False


def test_show_settings_of_a_subproject_the_environment_and_config_flag(project: Path) -> None:
    sub = settings_of("sub/model.py", cwd=project)
    assert sub["select"]["source"] == f"'select' in [tool.clip-lint] in {project / 'sub' / 'pyproject.toml'}"
    assert sub["cache"] == {"value": False, "source": f"'cache' in [tool.clip-lint] in {project / 'sub' / 'pyproject.toml'}"}
    assert sub["rules reported"]["value"] == ["CLN001"] and "cache-dir" not in sub
    env = settings_of("src/bug.py", cwd=project, env={"CLIP_LINT_CACHE_DIR": str(project / "elsewhere")})
    assert env["cache-dir"] == {"value": str(project / "elsewhere"), "source": "CLIP_LINT_CACHE_DIR"}
    off = settings_of("src/bug.py", cwd=project, env={"CLIP_LINT_NO_CACHE": "1"})
    assert off["cache"] == {"value": False, "source": "CLIP_LINT_NO_CACHE"}
    assert settings_of("src/bug.py", "--no-cache", cwd=project)["cache"]["source"] == "--no-cache"
    explicit = settings_of("src/bug.py", "--config", "sub/pyproject.toml", cwd=project)
    assert explicit["config"] == {"value": ["sub/pyproject.toml"], "source": "--config"}
    text = run_cli("--show-settings", "src/bug.py", "--ignore", "CLN002", cwd=project)
    assert text.returncode == 0 and text.stdout.startswith("Settings for src/bug.py:\n")
    assert re.search(r"^  ignore +CLN002  \(--ignore\)$", text.stdout, re.MULTILINE), text.stdout
    missing = run_cli("--show-settings", "src/nope.py", cwd=project)
    assert missing.returncode == 2 and "src/nope.py: no such file or directory" in missing.stderr


# The settings it shows are the settings a run uses: whatever the flags and the config, the rules
# --show-settings says are reported are exactly those a run reports on a file that has them all.
EVERY_RULE = (
    "import torch\nimport torch.nn.functional as F\n\n\n"
    + "".join(f"def example_{code.lower()}(model, images, tokens, image_features):\n"
              + "".join(f"    {line}\n" for line in RULES[code].example.splitlines()) + "\n\n"
              for code in sorted(RULES) if RULES[code].example)  # fmt: skip
    + "UNUSED = 1  # noqa: CLN042\n"  # an unknown code: CLN100 whatever else is selected
)
CODES = st.lists(st.sampled_from(["CLN", "CLN00", "CLN001", "CLN003", "CLN1", "CLN100", "CLN9", "CLN005"]),
                 min_size=1, max_size=2, unique=True)  # fmt: skip


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(select=st.none() | CODES, extend=st.none() | CODES, ignore=st.none() | CODES, per_file=st.none() | CODES)
def test_the_rules_shown_are_the_rules_a_run_reports(tmp_path_factory, select, extend, ignore, per_file) -> None:
    folder = tmp_path_factory.mktemp("every_rule")
    (folder / ".git").mkdir()
    config = "[tool.clip-lint]\n"
    if per_file:
        config += f'per-file-ignores = {{"every_*" = {json.dumps(per_file)}}}\n'
    write(folder, "pyproject.toml", config)
    write(folder, "every_rule.py", EVERY_RULE)
    flags: List[str] = []
    for flag, codes in (("--select", select), ("--extend-select", extend), ("--ignore", ignore)):
        if codes:
            flags += [flag, ",".join(codes)]
    shown = set(settings_of("every_rule.py", *flags, cwd=folder)["rules reported"]["value"])
    report = json.loads(run_cli("--format", "json", *flags, "every_rule.py", cwd=folder).stdout)
    present = {"CLN001", "CLN002", "CLN003", "CLN004", "CLN005", "CLN100"}
    assert {finding["code"] for finding in report["findings"]} == shown & present


# --- -v -----------------------------------------------------------------------------------------


def test_verbose_names_each_roots_config_and_the_caches_hits(project: Path) -> None:
    first = run_cli("-v", "-j", "1", cwd=project)
    quiet = run_cli("-j", "1", cwd=project)
    assert first.stdout == quiet.stdout  # the report itself is the same
    lines = first.stderr.splitlines()
    assert "clip-lint: 5 files to check" in lines
    assert f"clip-lint: 4 files under {project}: settings from {project / 'pyproject.toml'}, {project / 'setup.cfg'}" in lines
    assert f"clip-lint: 1 file under {project / 'sub'}: settings from {project / 'sub' / 'pyproject.toml'}" in lines
    cache = project / ".clip_lint_cache"
    assert f"clip-lint: cache {cache}: 0 files from the cache, 3 analysed, 1 with nothing to analyse" in lines
    assert "clip-lint: cache off for 1 file" in lines  # sub/ turns it off
    second = run_cli("-v", "-j", "1", cwd=project).stderr.splitlines()
    assert f"clip-lint: cache {cache}: 3 files from the cache, 0 analysed, 1 with nothing to analyse" in second
    (project / "src" / "bug.py").write_text(BUGGY + "\n# edited\n", encoding="utf-8")
    third = run_cli("-v", "-j", "2", cwd=project).stderr.splitlines()
    assert f"clip-lint: cache {cache}: 2 files from the cache, 1 analysed, 1 with nothing to analyse" in third
    assert not [line for line in first.stderr.splitlines() if not line.startswith("clip-lint: ")]


def test_verbose_names_the_slow_files(project: Path) -> None:
    """What counts as slow is CLIP_LINT_SLOW_FILE seconds (default 1); 0 names every file, in any run."""
    result = run_cli("-v", "--no-cache", cwd=project, env=dict(os.environ, CLIP_LINT_SLOW_FILE="0"))
    slow = [line for line in result.stderr.splitlines() if line.startswith("clip-lint: slow: ")]
    assert sorted(re.sub(r" took .*", "", line)[len("clip-lint: slow: "):] for line in slow) == [
        "notes.md", "src/bug.py", "src/clean.py", "sub/model.py", "tests/test_bug.py",
    ]  # fmt: skip
    assert all(re.fullmatch(r"clip-lint: slow: \S+ took \d+\.\d\d s", line) for line in slow)
    assert "clip-lint: cache off for 5 files" in result.stderr
    never = run_cli("-v", cwd=project, env=dict(os.environ, CLIP_LINT_SLOW_FILE="1e9"))
    assert "slow:" not in never.stderr
