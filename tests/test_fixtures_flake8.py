"""The annotated fixture corpus, checked by a real flake8 run in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from annotations import expected_findings, fixture_files

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) ")


def run_flake8(*args: str) -> subprocess.CompletedProcess:
    """``flake8 --select CLN ...`` from the repository root, with the project's setup.cfg."""
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CLN", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def flake8_findings() -> dict:
    result = run_flake8("fixtures/")
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    found: dict = {}
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        assert match, f"unexpected flake8 output: {line}"
        key = Path(match["path"]).name
        found.setdefault(key, Counter())[(int(match["line"]), match["code"])] += 1
    return found


FILES = fixture_files(FIXTURES)


def test_corpus_is_large_and_balanced() -> None:
    bad = [f for f in FILES if expected_findings(f.read_text())]
    assert len(FILES) >= 80
    assert len(bad) >= 30 and len(FILES) - len(bad) >= 30


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_fixture_matches_annotations(path: Path, flake8_findings: dict) -> None:
    expected = expected_findings(path.read_text())
    assert flake8_findings.get(path.name, Counter()) == expected
