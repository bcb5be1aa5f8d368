"""Run clip-lint and flake8 for real, in subprocesses with a timeout, for the reliability suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Union

REPO = Path(__file__).resolve().parents[2]
INPUTS = Path(__file__).resolve().parent / "inputs"
CLI = Path(sys.executable).with_name("clip-lint")
TIMEOUT = 120
BUGGY = "def f(m, x, t):\n    a = m.encode_image(x)\n    return a @ t\n"
Arg = Union[str, Path]

# Runs clip-lint with libcst's depth guard switched off, so that a file can really crash a worker.
UNGUARDED = (
    "import sys\n"
    "import clip_lint.sources.parse_guard as guard\n"
    "guard.MAX_SYNTAX_DEPTH = 10 ** 9\n"
    "from clip_lint.frontends.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _environment() -> dict:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH", "")]))
    return environment


def run(command: Sequence[Arg], cwd: Path, timeout: float = TIMEOUT) -> "subprocess.CompletedProcess[str]":
    """Run ``command``; a hang fails the test through ``TimeoutExpired``."""
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=_environment(),
    )  # fmt: skip


def clip_lint(*args: Arg, cwd: Path, timeout: float = TIMEOUT, prefix: Sequence[str] = ()) -> "subprocess.CompletedProcess[str]":
    return run([*prefix, CLI, *args], cwd, timeout)


def clip_lint_unguarded(*args: Arg, cwd: Path) -> "subprocess.CompletedProcess[str]":
    return run([sys.executable, "-c", UNGUARDED, *args], cwd)


def clip_lint_json(*args: Arg, cwd: Path, prefix: Sequence[str] = ()) -> dict:
    result = clip_lint("--format", "json", *args, cwd=cwd, prefix=prefix)
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def flake8(*args: Arg, cwd: Path, timeout: float = TIMEOUT) -> "subprocess.CompletedProcess[str]":
    return run([sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", *args], cwd, timeout)


def codes(report: dict, path: Optional[str] = None) -> List[str]:
    return sorted(f["code"] for f in report["findings"] if path is None or f["path"] == path)


def without_file_permissions() -> List[str]:
    """A command prefix under which file permissions apply, even to root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs setpriv (util-linux) to drop the permission-override capabilities"
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]
