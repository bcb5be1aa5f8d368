"""The editor snippets of docs/editors.md, by name (``<!-- snippet: NAME -->`` above a fenced block),
and the README's Neovim set-up ("readme-neovim": the ``vim.lsp`` code spans of "In your editor").

    python tests/server/editors/snippets.py NAME      prints one snippet
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict

DOC = Path(__file__).resolve().parents[3] / "docs" / "editors.md"
README = DOC.parents[1] / "README.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w.-]+) -->\n```\w*\n(?P<code>.*?)\n```", re.DOTALL)


def snippets() -> Dict[str, str]:
    found = {match["name"]: match["code"] + "\n" for match in SNIPPET.finditer(DOC.read_text(encoding="utf-8"))}
    found["readme-neovim"] = readme_neovim()
    return found


def readme_neovim() -> str:
    """The Lua the README's "In your editor" section gives inline, one statement a line."""
    section = README.read_text(encoding="utf-8").split("## In your editor", 1)[1].split("\n## ", 1)[0]
    return "".join(span + "\n" for span in re.findall(r"`(vim\.lsp\.[^`]*)`", section.replace("\n", " ")))


if __name__ == "__main__":
    sys.stdout.write(snippets()[sys.argv[1]])
