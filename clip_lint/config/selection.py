"""Which findings a user sees: ``--select`` / ``--ignore`` prefixes and ``# noqa`` comments."""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from clip_lint.options import DEFAULT_SELECT

if TYPE_CHECKING:
    from clip_lint.config.patterns import Matcher

# flake8's own grammar: "# noqa" alone silences the line, "# noqa: A1,B2" (or "A1 B2") only
# those codes or prefixes, and a "# noqa:" followed by anything else is a blanket noqa too.
NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


def _longest_match(code: str, prefixes: Sequence[str]) -> int:
    """Length of the longest prefix in ``prefixes`` that ``code`` starts with (-1: none)."""
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix)), default=-1)


#: Rules a run reports only when asked by name, as ruff's RUF100: ``CLN`` alone does not select them.
#: The rules table marks the same ones ``default=False`` (a test checks that they agree).
OFF_BY_DEFAULT = frozenset({"CLN100"})


def is_enabled(code: str, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> bool:
    """True when ``code`` is selected: the more specific of select and ignore wins.

    ``--select CLN001 --ignore CLN`` keeps CLN001; on a tie ``ignore`` wins. A rule that is off
    by default is selected only by a code or prefix more specific than ``CLN`` (``CLN100``, ``CLN1``).
    """
    selectors = select or DEFAULT_SELECT
    if code in OFF_BY_DEFAULT:
        selectors = [selector for selector in selectors if selector not in DEFAULT_SELECT]
    selected = _longest_match(code, selectors)
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


# A file-level exemption, as flake8 reads it: a line that starts with the comment. As in
# flake8, anything after ``noqa`` (even codes) still exempts the whole file.
FILE_NOQA = re.compile(r"^[ \t]*# (?:flake8|clip-lint)[:=]\s*noqa", re.IGNORECASE | re.MULTILINE)


def has_file_noqa(texts: Sequence[str]) -> bool:
    """True when one of ``texts`` (a file, or its cells and code blocks) opts out of checking."""
    return any(FILE_NOQA.search(text) for text in texts)


class UnknownCodeError(ValueError):
    """A code or prefix that names no rule; the message names the nearest known codes."""


def known_codes() -> Tuple[str, ...]:
    """Every rule code, from the rules table."""
    from clip_lint.rules import RULES

    return tuple(sorted(RULES))


def check_codes(codes: Sequence[str], where: str, known: Optional[Sequence[str]] = None) -> None:
    """Raise ``UnknownCodeError`` for the first of ``codes`` that is no code or prefix of one.

    Codes are case-sensitive, as in ruff: ``cln001`` is refused with a hint to ``CLN001``.
    """
    if not codes:
        return  # nothing to look up: the rules table is not even imported
    known = tuple(known) if known is not None else known_codes()
    for code in codes:
        if not code or not any(rule.startswith(code) for rule in known):
            raise UnknownCodeError(f"unknown code or prefix {code!r} in {where}; {_hint(code, known)}")


def _hint(code: str, known: Sequence[str]) -> str:
    import difflib

    if code.upper() != code and any(rule.startswith(code.upper()) for rule in known):
        return f"codes are case-sensitive: did you mean {code.upper()!r}?"
    nearest = difflib.get_close_matches(code.upper(), known, n=3, cutoff=0.5)
    known_list = ", ".join(known)
    if nearest:
        suggestions = " or ".join(repr(name) for name in nearest)
        return f"did you mean {suggestions}? (codes are case-sensitive; known: {known_list})"
    return f"codes are case-sensitive; known codes: {known_list}"


@functools.lru_cache(maxsize=None)
def _glob_spec(pattern: str) -> Matcher:
    from clip_lint.config.patterns import compile_patterns

    return compile_patterns([pattern])


def matches_glob(pattern: str, path: str, root: str) -> bool:
    """Whether gitignore-style ``pattern``, relative to ``root``, names ``path``.

    A path outside ``root`` is matched by its name only.
    """
    spec = _glob_spec(pattern)
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root)).replace(os.sep, "/")
    if not relative.startswith("../") and spec.match_file(relative):
        return True
    return spec.match_file(os.path.basename(os.path.normpath(path)))
