"""Which findings a user sees: ``--select`` / ``--ignore`` prefixes and ``# noqa`` comments."""

from __future__ import annotations

import re
from typing import Optional, Sequence, Tuple

DEFAULT_SELECT: Tuple[str, ...] = ("CLN",)

# flake8's own grammar: "# noqa" alone silences the line, "# noqa: A1,B2" (or "A1 B2") only
# those codes or prefixes, and a "# noqa:" followed by anything else is a blanket noqa too.
NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


def _longest_match(code: str, prefixes: Sequence[str]) -> int:
    """Length of the longest prefix in ``prefixes`` that ``code`` starts with (-1: none)."""
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix)), default=-1)


def is_enabled(code: str, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> bool:
    """True when ``code`` is selected: the more specific of select and ignore wins.

    ``--select CLN001 --ignore CLN`` keeps CLN001; on a tie ``ignore`` wins.
    """
    selected = _longest_match(code, select or DEFAULT_SELECT)
    ignored = _longest_match(code, ignore)
    return selected >= 0 and selected > ignored


def noqa_codes(line: str) -> Optional[Tuple[str, ...]]:
    """None when the line has no ``# noqa``; () for a blanket one; else the codes it names."""
    match = NOQA.search(line)
    if match is None:
        return None
    codes = match.group("codes")
    return tuple(code.upper() for code in _CODE.findall(codes)) if codes else ()


def is_suppressed(code: str, line: str) -> bool:
    """True when ``line``'s ``# noqa`` comment silences ``code`` (codes match as prefixes)."""
    codes = noqa_codes(line)
    if codes is None:
        return False
    return not codes or any(code.startswith(prefix) for prefix in codes)
