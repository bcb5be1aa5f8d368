"""Indentation that CPython accepts and libcst rejects: tabs mixed into it, form feeds.

CPython's tokenizer measures indentation with tabs to the next multiple of 8 and a form
feed resetting the column. ``expand_indentation`` rewrites the indentation of each logical
line as that many spaces, so libcst parses what Python runs; ``Reindented`` maps findings
(their columns and fix edits) back to the user's text, and a fix's new lines reuse the
user's own indentation: the user's whitespace is never rewritten.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.sources.textedits import split_lines_keepends

TAB_SIZE = 8
NOT_CODE = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


def indentation_width(whitespace: str) -> int:
    """The column CPython's tokenizer gives to code after this leading whitespace."""
    column = 0
    for char in whitespace:
        if char == "\t":
            column = (column // TAB_SIZE + 1) * TAB_SIZE
        elif char == "\f":
            column = 0
        else:
            column += 1
    return column


@dataclass
class Reindented:
    """The text with plain-space indentation, and what each changed line was."""

    text: str
    original: Dict[int, Tuple[str, str]]  # line -> (the user's leading whitespace, the spaces now)
    lines: List[str]  # the user's lines

    def position(self, line: int, column: int) -> Tuple[int, int]:
        """A position in the reindented text, as a position in the user's text."""
        changed = self.original.get(line)
        if changed is None:
            return line, column
        users, spaces = changed
        return line, len(users) + max(column - len(spaces), 0)

    def finding(self, finding: Finding) -> Finding:
        line, column = self.position(finding.line, finding.col)
        fix = finding.fix
        if fix is not None:
            fix = Fix(fix.title, tuple(self.edit(edit) for edit in fix.edits), fix.safe)
        return replace(finding, line=line, col=column, fix=fix)

    def edit(self, edit: TextEdit) -> TextEdit:
        start = self.position(*edit.start)
        end = self.position(*edit.end)
        return TextEdit(start, end, self.indented_like_the_user(edit.text, edit.start[0]))

    def indented_like_the_user(self, text: str, near_line: int) -> str:
        """New lines in a fix take the indentation of the user's nearest line of that width."""
        pieces = text.split("\n")
        for index in range(1, len(pieces)):
            piece = pieces[index]
            spaces = piece[: len(piece) - len(piece.lstrip(" "))]
            users = self.users_indentation(len(spaces), near_line)
            if users is not None:
                pieces[index] = users + piece[len(spaces):]
        return "\n".join(pieces)

    def users_indentation(self, width: int, near_line: int) -> Optional[str]:
        for number in range(min(near_line, len(self.lines)), 0, -1):
            line = self.lines[number - 1]
            if not line.strip():
                continue
            whitespace = line[: len(line) - len(line.lstrip(" \t\f"))].rpartition("\f")[2]
            if indentation_width(whitespace) == width:
                return whitespace  # after any form feed: it resets the column, so it is not needed
        return None


def expand_indentation(text: str) -> Optional[Reindented]:
    """The text with each logical line's indentation in spaces; None when nothing changes
    or Python's own tokenizer rejects the text."""
    lines = split_lines_keepends(text)
    starts = _logical_line_starts(text)
    if starts is None:
        return None
    original: Dict[int, Tuple[str, str]] = {}
    new_lines = list(lines)
    for number, column in starts.items():
        line = lines[number - 1]
        whitespace = line[:column]
        if whitespace.strip(" \t\f") or not any(char in whitespace for char in "\t\f"):
            continue
        spaces = " " * indentation_width(whitespace)
        new_lines[number - 1] = spaces + line[column:]
        original[number] = (whitespace, spaces)
    if not original:
        return None
    return Reindented("".join(new_lines), original, lines)


def _logical_line_starts(text: str) -> Optional[Dict[int, int]]:
    """Line -> column of its first token, for lines that start outside brackets and strings."""
    starts: Dict[int, int] = {}
    depth = 0
    last_line = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in NOT_CODE:
                continue
            line, column = token.start
            if depth == 0 and line != last_line:
                starts[line] = column
            last_line = token.end[0]
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth = max(depth - 1, 0)
    except (tokenize.TokenError, SyntaxError):
        return None
    return starts
