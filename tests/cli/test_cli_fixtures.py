"""The annotated fixture corpus, checked by the ``clip-lint`` command: the same exact match
as the flake8 run (tests/test_fixtures_flake8.py), so the two front ends can't drift apart."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from annotations import expected_findings, fixture_files
from cli_helpers import FIXTURES, REPO, run_cli

LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) ")
FILES = fixture_files(FIXTURES)


@pytest.fixture(scope="module")
def cli_findings() -> dict:
    # The same custom encoder that setup.cfg gives flake8 for generic_custom_encoder_bad.py.
    paths = [path.relative_to(REPO) for path in FILES]
    result = run_cli("--extra-encoders", "embed_images", *paths, cwd=REPO)
    assert result.returncode == 1, result.stderr
    found: dict = {}
    for line in result.stdout.splitlines()[:-1]:
        match = LINE.match(line)
        assert match, f"unexpected clip-lint output: {line}"
        found.setdefault(Path(match["path"]).name, Counter())[(int(match["line"]), match["code"])] += 1
    return found


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_fixture_matches_annotations(path: Path, cli_findings: dict) -> None:
    assert cli_findings.get(path.name, Counter()) == expected_findings(path.read_text())
