"""The editor snippets of docs/editors.md, by name (``<!-- snippet: NAME -->`` above a fenced block).

    python tests/server/editors/snippets.py NAME      prints one snippet
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict

DOC = Path(__file__).resolve().parents[3] / "docs" / "editors.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w.-]+) -->\n```\w*\n(?P<code>.*?)\n```", re.DOTALL)


def snippets() -> Dict[str, str]:
    return {match["name"]: match["code"] + "\n" for match in SNIPPET.finditer(DOC.read_text(encoding="utf-8"))}


if __name__ == "__main__":
    sys.stdout.write(snippets()[sys.argv[1]])
