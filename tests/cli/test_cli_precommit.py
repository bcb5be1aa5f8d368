"""The pre-commit hooks, run by the real ``pre-commit try-repo`` against this repository.

pre-commit builds its own virtualenv and pip-installs this repository into it, so the test is
slow. It uses the committed HEAD (``--ref HEAD``): in a shared working tree, other people's
half-written changes must not decide whether the hooks work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, REPO

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
pytestmark = pytest.mark.slow


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def buggy_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "test")
    shutil.copy(FIXTURES / "fix" / "cln003_keepdim.in.py", repo / "similarity.py")
    shutil.copy(FIXTURES / "notebooks" / "fix_keeps_outputs.ipynb", repo / "explore.ipynb")
    (repo / "notes.txt").write_text("encode_image(x) @ y is not Python here\n", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "buggy")
    return repo


def try_repo(repo: Path, hook: str, home: Path) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(REPO), hook, "--ref", "HEAD", "--all-files"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )


def test_hooks_report_then_fix(buggy_repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    before = {path.name: path.read_bytes() for path in buggy_repo.iterdir() if path.is_file()}

    report = try_repo(buggy_repo, "clip-lint", home)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "similarity.py:9:" in report.stdout and "CLN003" in report.stdout
    assert "explore.ipynb:cell 4:1:" in report.stdout and "CLN001" in report.stdout
    assert "notes.txt" not in report.stdout
    assert {path.name: path.read_bytes() for path in buggy_repo.iterdir() if path.is_file()} == before

    fix = try_repo(buggy_repo, "clip-lint-fix", home)
    # pre-commit fails a hook that modified files, which is how the user learns of the fix
    assert fix.returncode == 1, fix.stdout + fix.stderr
    assert "files were modified by this hook" in fix.stdout
    fixed = (buggy_repo / "similarity.py").read_text(encoding="utf-8")
    assert fixed == (FIXTURES / "fix" / "cln003_keepdim.out.py").read_text(encoding="utf-8")
    assert (buggy_repo / "explore.ipynb").read_bytes() != before["explore.ipynb"]
    assert (buggy_repo / "notes.txt").read_bytes() == before["notes.txt"]

    again = try_repo(buggy_repo, "clip-lint", home)
    assert again.returncode == 0, again.stdout + again.stderr
