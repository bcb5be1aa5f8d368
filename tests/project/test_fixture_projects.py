"""Multi-module fixture projects: flake8 and clip-lint, run from each project's root, match
the annotations and each other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List

import pytest

from annotations import expected_findings

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted(p for p in (ROOT / "fixtures" / "projects").iterdir() if p.is_dir())
LINE = re.compile(r"^(?:\./)?(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) (?P<message>.*)$")


def environment() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def findings(command: List[str], cwd: Path) -> List[tuple]:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment())
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    found = []
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        if match:
            found.append((match["path"], int(match["line"]), int(match["col"]), match["code"], match["message"]))
    return sorted(found)


def run_flake8(project: Path) -> List[tuple]:
    return findings([sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", "."], project)


def run_clip_lint(project: Path) -> List[tuple]:
    return findings([sys.executable, "-m", "clip_lint.frontends.cli", "--color", "never", "."], project)


def annotated(project: Path) -> Counter:
    expected: Counter = Counter()
    for path in sorted(project.rglob("*.py")):
        relative = path.relative_to(project).as_posix()
        for (line, code), count in expected_findings(path.read_text(encoding="utf-8")).items():
            expected[(relative, line, code)] += count
    return expected


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_both_front_ends_match_the_annotations_and_each_other(project: Path) -> None:
    from_flake8 = run_flake8(project)
    from_command = [f for f in run_clip_lint(project) if not f[0].split(":")[0].endswith((".ipynb", ".md"))]
    assert Counter((path, line, code) for path, line, _, code, _ in from_flake8) == annotated(project)
    assert from_command == from_flake8


def test_the_corpus_covers_buggy_and_correct_code() -> None:
    expected = [annotated(project) for project in PROJECTS]
    assert len(PROJECTS) >= 6
    assert sum(len(e) for e in expected) >= 15
    ok_files = [
        path for project in PROJECTS for path in project.rglob("*.py")
        if "def " in path.read_text() and not expected_findings(path.read_text())
    ]
    assert len(ok_files) >= 5
