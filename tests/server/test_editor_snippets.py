"""docs/editors.md's set-up snippets: they parse, and the server they start is ``clip-lint server``.

Real editors run them in tests/server/editors/check_editors.sh, where they are installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from lsp_session import server_command, session

sys.path.insert(0, str(Path(__file__).resolve().parent / "editors"))

from snippets import snippets  # noqa: E402

COMMAND = ["clip-lint", "server"]


def commands() -> dict:
    found = snippets()
    vscode = json.loads(found["vscode-settings"])
    helix = tomllib.loads(found["helix-languages"])
    lua_command = re.compile(r'cmd = \{ "([^"]+)", "([^"]+)" \}')
    return {
        "vscode-settings": [vscode["glspc.server.command"], *vscode["glspc.server.commandArguments"]],
        "helix-languages": [helix["language-server"]["clip-lint"]["command"], *helix["language-server"]["clip-lint"]["args"]],
        "neovim-0.11": list(lua_command.search(found["neovim-0.11"]).groups()),
        "readme-neovim": list(lua_command.search(found["readme-neovim"]).groups()),
        "nvim-lspconfig": list(lua_command.search(found["nvim-lspconfig"]).groups()),
        "emacs-eglot": re.findall(r'"([^"]+)"', re.search(r"\. \(([^)]*)\)", found["emacs-eglot"]).group(1)),
    }


def test_every_editor_has_a_snippet_that_starts_the_server() -> None:
    assert commands() == {name: COMMAND for name in commands()}


def test_the_snippets_attach_it_to_python() -> None:
    found = snippets()
    vscode = json.loads(found["vscode-settings"])
    assert vscode["glspc.server.languageId"] == ["python"]
    assert vscode["editor.codeActionsOnSave"] == {"source.fixAll.clip-lint": "explicit"}
    helix = tomllib.loads(found["helix-languages"])
    python = next(language for language in helix["language"] if language["name"] == "python")
    assert "clip-lint" in python["language-servers"]
    for name in ("neovim-0.11", "nvim-lspconfig", "readme-neovim"):
        assert 'filetypes = { "python" }' in found[name], name
    assert found["readme-neovim"].splitlines()[-1] == 'vim.lsp.enable("clip_lint")'
    assert 'only = { "source.fixAll.clip-lint" }' in found["neovim-0.11"]
    assert "python-mode python-ts-mode" in found["emacs-eglot"]


def test_the_elisp_and_lua_snippets_are_balanced() -> None:
    """A cheap stand-in for the parsers check_editors.sh runs: brackets and quotes pair up."""
    found = snippets()
    for name in ("emacs-eglot", "neovim-0.11", "nvim-lspconfig", "readme-neovim"):
        code = re.sub(r'"[^"\n]*"', '""', found[name])
        code = re.sub(r"(--|;).*", "", code)
        assert code.count('"') % 2 == 0, name
        for opening, closing in ("()", "{}", "[]"):
            assert code.count(opening) == code.count(closing), (name, opening)


LUAC = shutil.which("luac5.4") or shutil.which("luac")


@pytest.mark.skipif(LUAC is None, reason="luac is not installed (apt-get install lua5.4)")
@pytest.mark.parametrize("name", ["neovim-0.11", "nvim-lspconfig", "readme-neovim"])
def test_the_lua_snippets_parse(name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.lua"
    script.write_text(snippets()[name], encoding="utf-8")
    parsed = subprocess.run([str(LUAC), "-p", str(script)], capture_output=True, text=True, timeout=60)
    assert parsed.returncode == 0, parsed.stderr


@pytest.mark.asyncio
async def test_the_configured_command_serves_a_python_file(project: Path) -> None:
    """The installed script, started with the snippets' arguments, answers an editor."""
    assert server_command()[1:] == COMMAND[1:]
    async with session(project) as editor:
        uri = editor.open("pkg/main.py")
        assert [d.code for d in await editor.diagnostics(uri)] == ["CLN001"]
