"""A cheap look at a source's shape before libcst parses it.

libcst's native parser recurses once per level of syntax: brackets, and also chains of
operators, attributes, calls, ``lambda``/``not``/unary prefixes and adjacent strings. Past
about 1,250 levels (1,265 nested parentheses survive, 1,284 do not, on an 8 MB stack) it
overflows the C stack and the interpreter dies with SIGSEGV: no exception can catch it.
``nesting_problem`` finds such a source with one regular-expression pass and no parse, so
the caller can report it (CLN900) instead of handing it to libcst.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

# The deepest syntax, in the estimate below, that the analysis accepts. libcst crashed at an
# estimate of about 2,500 for its weakest construct (see tests/reliability/test_parse_guard.py
# for the measurements this is set from); CPython itself refuses brackets nested deeper than
# 200, so real code stays far below.
MAX_SYNTAX_DEPTH = 1000
# Below this many characters no source can reach MAX_SYNTAX_DEPTH: skip the scan.
_SCAN_FROM_CHARS = MAX_SYNTAX_DEPTH

_TOKEN = re.compile(
    r"""
    (?P<skip>[ \t\f]+|\\\r?\n|\#[^\r\n]*)
  | (?P<string>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
        |"(?:\\.|[^"\\\r\n])*"|'(?:\\.|[^'\\\r\n])*'))
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<newline>\r\n|\r|\n)
  | (?P<separator>,|;|(?<![=!<>:+\-*/%@&|^~])=(?!=))
  | (?P<token>\w+|\S)
    """,
    re.VERBOSE | re.DOTALL,
)


def nesting_problem(source: str) -> Optional[Tuple[int, int, str]]:
    """Where and why ``source`` nests too deeply to parse safely; None when it is fine.

    The estimate counts, at each open bracket, the tokens of the expression that the bracket
    sits in (since the last ``,``, ``;`` or ``=``), plus one per bracket: a chain of ``n``
    operators, attributes, calls or prefixes counts about ``n`` or more, and a flat list of
    any length counts 1. Returns a 1-based line and 0-based column.
    """
    if len(source) < _SCAN_FROM_CHARS:
        return None
    found = _deepest_point(source)
    if found is None:
        return None
    offset, depth = found
    line, col = _position(source, offset)
    reason = (
        f"the code nests too deeply to parse safely (about {depth} levels of brackets and chained "
        f"operators here; the limit is {MAX_SYNTAX_DEPTH})"
    )
    return line, col, reason


def _deepest_point(source: str) -> Optional[Tuple[int, int]]:
    """The offset where the depth estimate first passes the limit, and that depth."""
    outer: List[int] = []  # for each open bracket: the depth of the expression it sits in
    depth_before = 0  # the depth of the enclosing brackets' expressions
    run = 0  # tokens of the current expression at this bracket level
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup
        if kind == "skip":
            continue
        if kind == "open":
            outer.append(run)
            depth_before += run + 1
            run = 0
        elif kind == "close":
            if outer:
                enclosing = outer.pop()
                depth_before -= enclosing + 1
                run = enclosing + 1  # the closed group is one more token of its expression
            else:
                run = 0
        elif kind == "separator" or (kind == "newline" and not outer):
            run = 0
        elif kind != "newline":
            run += 1
        if depth_before + run > MAX_SYNTAX_DEPTH:
            return match.start(), depth_before + run
    return None


def _position(source: str, offset: int) -> Tuple[int, int]:
    before = source[:offset]
    line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
    line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
    return line, offset - line_start
