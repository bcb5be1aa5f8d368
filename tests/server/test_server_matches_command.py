"""The server publishes exactly what the command reports, on every fixture the project has."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_session import command_findings, session

from clip_lint.frontends.server.texts import Text

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def fixture_files():
    files = sorted(FIXTURES.glob("*.py")) + sorted(FIXTURES.glob("fix/*.in.py")) + sorted(FIXTURES.glob("markdown/*.md"))
    return files + sorted((FIXTURES / "projects").rglob("*.py"))


async def test_every_fixture_gets_the_commands_findings() -> None:
    files = fixture_files()
    assert len(files) > 150
    expected = command_findings(files, ROOT)
    served = []
    async with session(ROOT) as editor:
        for path in files:
            language = "markdown" if path.suffix == ".md" else "python"
            uri = editor.open(str(path.relative_to(ROOT)), language=language)
            text = Text(editor.texts[uri])
            for diagnostic in await editor.diagnostics(uri):
                start = diagnostic.range.start
                # the command counts columns in code points; the client in UTF-16 units
                column = len(text.text[text.offset((start.line, 0), "utf-16"):text.offset((start.line, start.character), "utf-16")])
                served.append((str(path.resolve()), start.line, column, diagnostic.code, diagnostic.message))
            editor.close(uri)
    assert sorted(served) == expected
    assert len(expected) > 100
