"""Notebooks and Markdown through the command, against their annotated fixtures; and the
fixture corpus through the command, against the flake8 plugin."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, REPO, locations, read_expected, run_json

NOTEBOOKS = sorted((FIXTURES / "notebooks").glob("*.ipynb"))
MARKDOWN = sorted((FIXTURES / "markdown").glob("*.md"))
FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CLN\d{3}) ")


def test_every_document_fixture_has_expectations() -> None:
    assert NOTEBOOKS and MARKDOWN
    for path in NOTEBOOKS + MARKDOWN:
        assert path.with_suffix(".expected").is_file(), path


@pytest.mark.parametrize("path", NOTEBOOKS + MARKDOWN, ids=lambda p: p.name)
def test_document_fixture_findings(path: Path) -> None:
    _, report = run_json(path.relative_to(REPO), cwd=REPO)
    assert locations(report) == read_expected(path.with_suffix(".expected"))


def test_documents_checked_together_in_parallel_match_one_by_one() -> None:
    _, together = run_json("-j", "2", "fixtures/notebooks", "fixtures/markdown", cwd=REPO)
    one_by_one = []
    for path in NOTEBOOKS + MARKDOWN:
        one_by_one += run_json(path.relative_to(REPO), cwd=REPO)[1]["findings"]
    key = lambda f: (f["path"], f["cell"] or 0, f["line"], f["column"], f["code"])  # noqa: E731
    assert sorted(map(key, together["findings"])) == sorted(map(key, one_by_one))


def test_markdown_columns_are_the_files_own_columns() -> None:
    _, report = run_json("fixtures/markdown/open_clip_readme.md", cwd=REPO)
    lines = (FIXTURES / "markdown" / "open_clip_readme.md").read_text(encoding="utf-8").splitlines()
    for finding in report["findings"]:
        text = lines[finding["line"] - 1]
        # the column points at code in the file's own line, past a list item's fence indentation
        assert finding["column"] - 1 >= len(text) - len(text.lstrip())
        assert not text[finding["column"] - 1].isspace()


def test_notebook_messages_name_cells_not_joined_lines() -> None:
    _, report = run_json("fixtures/notebooks/zero_shot_prompt_ensemble.ipynb", cwd=REPO)
    for finding in report["findings"]:
        for cell, line in re.findall(r"cell (\d+) line (\d+)", finding["message"]):
            notebook = json.loads((FIXTURES / "notebooks" / "zero_shot_prompt_ensemble.ipynb").read_text())
            source = "".join(notebook["cells"][int(cell) - 1]["source"]).splitlines()
            assert "encode_" in source[int(line) - 1]


def flake8_report(paths: list) -> list:
    # clip-lint reads the repository's [flake8] clip-encoders; flake8 must not read its excludes
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--clip-encoders", "embed_images", "--select", "CLN",
         *map(str, paths)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    return sorted(
        (m["path"], int(m["line"]), int(m["col"]), m["code"]) for m in map(FLAKE8_LINE.match, result.stdout.splitlines()) if m
    )


def test_python_fixture_corpus_gives_the_same_findings_as_flake8() -> None:
    paths = sorted(path.relative_to(REPO) for path in FIXTURES.glob("*.py"))
    assert len(paths) >= 50
    _, report = run_json(*paths, cwd=REPO)
    ours = sorted((f["path"], f["line"], f["column"], f["code"]) for f in report["findings"])
    assert ours == flake8_report(paths)
    assert ours, "the corpus has bugs; an empty report means nothing ran"
