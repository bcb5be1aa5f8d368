"""Run both front ends on a project as a user would (real flake8, the real command, in
subprocesses), and compare each warm run with a run that has no cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from clip_lint.project import cache as cache_module

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("clip-lint")
CACHE_ENV = (cache_module.CACHE_DIR_ENV, cache_module.NO_CACHE_ENV)


def clean_env(**extra: str) -> Dict[str, str]:
    """This environment without the cache's variables, with this checkout first on the path."""
    env = {name: value for name, value in os.environ.items() if name not in CACHE_ENV}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run(command: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None, stdin: Optional[bytes] = None,
        expect: Sequence[int] = (0, 1)) -> "subprocess.CompletedProcess[str]":
    result = subprocess.run(list(command), input=stdin, capture_output=True, cwd=cwd, env=env or clean_env(), timeout=300)
    completed = subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())
    assert completed.returncode in expect and "Traceback" not in completed.stderr, completed.stderr
    return completed


def clip_lint(*args: str, cwd: Path, **kwargs) -> "subprocess.CompletedProcess[str]":
    return run([str(CLI), "-q", "-j", "1", "--color", "never", *args], cwd, **kwargs)


def flake8(*args: str, cwd: Path, **kwargs) -> "subprocess.CompletedProcess[str]":
    return run([sys.executable, "-m", "flake8", "--select", "CLN", "-j", "1", *args], cwd, **kwargs)


def warm_up(project: Path, *paths: str) -> None:
    """Fill the project's cache with both front ends."""
    clip_lint(*paths, cwd=project)
    flake8(*paths, cwd=project)


def warm_equals_uncached(project: Path, *paths: str) -> Dict[str, str]:
    """Each front end, from the cache and with none: the outputs must be the same. Returns the
    outputs without the cache, by front end."""
    outputs = {
        "clip-lint": (clip_lint(*paths, cwd=project).stdout, clip_lint("--no-cache", *paths, cwd=project).stdout),
        "flake8": (flake8(*paths, cwd=project).stdout, flake8("--clip-no-cache", *paths, cwd=project).stdout),
    }
    for front_end, (warm, uncached) in outputs.items():
        assert warm == uncached, f"{front_end}: the cached run differs from a run without the cache"
    return {front_end: uncached for front_end, (_, uncached) in outputs.items()}


def codes_in(output: str, path: str) -> List[str]:
    """The codes reported for ``path`` (``path:line:col: CODE message`` lines; flake8 writes ``./path``)."""
    lines = [line[2:] if line.startswith("./") else line for line in output.splitlines()]
    return sorted(line.split()[1] for line in lines if line.startswith(path + ":"))


def write_files(root: Path, files: Dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
