"""A cheap look at a source's shape before libcst parses it.

libcst's native parser recurses once per level of syntax: brackets, and also chains of
operators, attributes, calls, ``lambda``/``not``/unary prefixes and adjacent strings. Past
about 1,250 levels (1,265 nested parentheses survive, 1,284 do not, on an 8 MB stack) it
overflows the C stack and the interpreter dies with SIGSEGV: no exception can catch it.
``nesting_problem`` finds such a source with one regular-expression pass and no parse, so
the caller can report it (CLN900) instead of handing it to libcst.

libcst's tree also costs about 300 bytes of memory per character of code: ``size_problem``
refuses a text whose analysis would need more than the memory budget, for the same CLN900.
"""

from __future__ import annotations

import os
import re
from typing import List, Optional, Tuple

# Measured with libcst 1.9 on CPython 3.11 (8 MB main-thread stack), the first size that
# crashes (or takes over 20 s) and its estimate below:
#   nested parentheses   1,284   -> 5,136      a + a + ... terms      4,173 -> 8,345
#   unary minus chain    4,543   -> 4,543      lambda: lambda: ...    3,062 -> 6,124
#   adjacent strings     > 8,000
# The limit keeps twice that margin. The deepest estimate in 5,212 files (102 MB) of torch
# and transformers is far lower (a few hundred); CPython itself refuses brackets nested
# deeper than 200.
MAX_SYNTAX_DEPTH = 2000
# A bracket costs libcst's parser about four times the stack of a chained token.
BRACKET_WEIGHT = 4
# Below this many characters no source can pass the limit: skip the scan.
_SCAN_FROM_CHARS = MAX_SYNTAX_DEPTH // 2

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
    sits in (since the last ``,``, ``;`` or ``=``), plus ``BRACKET_WEIGHT`` per bracket: a
    chain of ``n`` operators, attributes, calls or prefixes counts ``n`` or more, and a flat
    list of any length counts little. Returns a 1-based line and 0-based column.
    """
    if len(source) < _SCAN_FROM_CHARS:
        return None
    found = _deepest_point(source)
    if found is None:
        return None
    offset, depth = found
    line, col = _position(source, offset)
    reason = (
        "the code nests too deeply to parse safely (brackets and chained operators reach a depth "
        f"of {depth} here; the limit is {MAX_SYNTAX_DEPTH})"
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
            depth_before += run + BRACKET_WEIGHT
            run = 0
        elif kind == "close":
            if outer:
                enclosing = outer.pop()
                depth_before -= enclosing + BRACKET_WEIGHT
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


# --- size: the memory a libcst analysis needs -------------------------------------------------

#: The environment variable that sets the memory budget of one module's analysis, in MB.
MEMORY_BUDGET_VARIABLE = "CLIP_LINT_MEMORY_BUDGET_MB"
DEFAULT_MEMORY_BUDGET_MB = 2048
#: Bytes of memory an analysis needs per character of the code handed to libcst, and per
#: character of the whole file (whose ``ast`` tree is held meanwhile), measured with libcst 1.9
#: on CPython 3.11 (``bench/fix_memory.py``): libcst's tree of 1 MB of dense code takes about
#: 300 MB, an ``ast`` tree about 90 MB, and the findings' positions and the fixer's check of its
#: edits the rest. The estimate errs high, so a run stays under its budget.
MEMORY_PER_PARSED_CHARACTER = 800
MEMORY_PER_FILE_CHARACTER = 150


def memory_budget_mb() -> int:
    """The budget of one module's analysis (``CLIP_LINT_MEMORY_BUDGET_MB``; 2048 by default)."""
    value = os.environ.get(MEMORY_BUDGET_VARIABLE, "").strip()
    try:
        budget = int(value) if value else DEFAULT_MEMORY_BUDGET_MB
    except ValueError:
        budget = DEFAULT_MEMORY_BUDGET_MB  # a typo must not stop the run; the default is safe
    return max(budget, 1)


def size_problem(text: str, file_characters: int = 0) -> Optional[str]:
    """Why ``text`` is too large to hand to libcst within the memory budget; None when it fits.

    ``file_characters`` is the length of the whole file ``text`` was cut from (the slicer
    blanks definitions that can't matter). Deterministic: it depends on the lengths and the
    budget only, never on the memory the process happens to use, so flake8, the command and
    ``-j N`` agree.
    """
    budget = memory_budget_mb()
    size = max(len(text), file_characters)
    needed = (len(text) * MEMORY_PER_PARSED_CHARACTER + size * MEMORY_PER_FILE_CHARACTER) / 2**20
    if needed <= budget:
        return None
    return (
        f"it is too large to analyse within the memory budget ({len(text) / 1e6:.1f} MB of code to parse "
        f"needs about {needed:,.0f} MB, the budget is {budget:,} MB; {MEMORY_BUDGET_VARIABLE} sets it), "
        "so it was skipped"
    )
