"""Keep fixed lines within the line length, split the way Black and ruff-format split a call.

A call that does not fit is split after its opening bracket: its arguments go on one line
indented by four more spaces, and the closing bracket on a line of its own at the line's
indentation. If the arguments still do not fit, each goes on its own line, with a trailing
comma. Only the text a fix writes is split; the user's own code keeps its layout.
"""

from __future__ import annotations

import io
import tokenize
from typing import List, Optional, Tuple

DEFAULT_LINE_LENGTH = 88
OPENING, CLOSING = "([{", ")]}"


def fit_call(before: str, call: str, after: str, indent: str, limit: int) -> str:
    """``call`` as written between ``before`` and ``after`` on one line, split if too long.

    ``call`` must end with the closing bracket of its last opening one at depth zero
    (``F.normalize(x, dim=-1)``, ``x / x.norm(dim=-1, keepdim=True)``). Text that can't be
    split is returned as it is.
    """
    if len(before) + len(call) + len(after) <= limit or "\n" in call:
        return call
    parts = trailing_bracket(call)
    if parts is None:
        return call
    head, arguments = parts
    closing = call[-1]
    inner = indent + "    "
    one_line = inner + ", ".join(arguments)
    if len(one_line) <= limit or len(arguments) == 1:
        body = one_line
    else:
        body = "\n".join(f"{inner}{argument}," for argument in arguments)
    return f"{head}\n{body}\n{indent}{closing}"


def fit_assignment(target: str, value: str, indent: str, limit: int) -> str:
    """``target = value`` at ``indent``, split as Black splits an assignment that is too long.

    The value's trailing call is split first; if the line before it still does not fit, the
    value goes inside parentheses on lines of its own (and is split there if need be).
    """
    statement = f"{target} = {value}"
    split = fit_call(indent, statement, "", indent, limit)
    if split.split("\n")[0] and len(indent) + len(split.split("\n")[0]) <= limit:
        return split
    inner = indent + "    "
    if len(inner) + len(value) <= limit:
        return f"{target} = (\n{inner}{value}\n{indent})"
    # the value's operands one per line, the operator first (Black's delimiter split)
    operands = split_at_operator(value, "/")
    lines = [operands[0]] + [f"/ {operand}" for operand in operands[1:]]
    body = "\n".join(inner + fit_call(inner, line, "", inner, limit) for line in lines)
    return f"{target} = (\n{body}\n{indent})"


def split_at_operator(text: str, operator: str) -> List[str]:
    """``text`` cut at each ``operator`` outside brackets, the pieces stripped."""
    depth, cuts = 0, []
    for string, offset in _tokens(text):
        if string in OPENING:
            depth += 1
        elif string in CLOSING:
            depth -= 1
        elif string == operator and depth == 0:
            cuts.append(offset)
    bounds = [-len(operator), *cuts, len(text)]
    return [text[start + len(operator): end].strip() for start, end in zip(bounds, bounds[1:])]


def trailing_bracket(text: str) -> Optional[Tuple[str, List[str]]]:
    """(the text up to and including the opening bracket that the last character closes,
    the arguments inside it, split at their top-level commas)."""
    tokens = _tokens(text)
    if not tokens or tokens[-1][0] not in CLOSING:
        return None
    depth, opening, commas = 0, -1, []
    for string, offset in reversed(tokens):
        if string in CLOSING:
            depth += 1
        elif string in OPENING:
            depth -= 1
            if depth == 0:
                opening = offset
                break
        elif string == "," and depth == 1:
            commas.append(offset)
    if opening < 0:
        return None
    bounds = [opening, *sorted(commas), len(text) - 1]
    arguments = [text[start + 1: end].strip() for start, end in zip(bounds, bounds[1:])]
    arguments = [argument for argument in arguments if argument]
    if not arguments:
        return None
    return text[: opening + 1], arguments


def _tokens(text: str) -> List[Tuple[str, int]]:
    """The operator tokens of one line of code, with their offsets; [] if it can't be read."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
            if token.type == tokenize.OP and token.start[0] == 1:
                found.append((token.string, token.start[1]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return found
