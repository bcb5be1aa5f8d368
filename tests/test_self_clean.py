"""The project lints itself with flake8 and its own plugin (configured in setup.cfg)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_flake8_with_clip_lint_passes_on_the_project() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "clip-lint" in listed, "the CLN plugin must be registered with flake8"
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "clip_lint", "runtime_check", "tests", "bench"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
