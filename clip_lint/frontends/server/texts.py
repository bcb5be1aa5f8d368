"""Texts as an LSP client sees them: lines, positions in its units, changes and edits.

LSP breaks lines at ``\\r\\n``, ``\\r`` and ``\\n`` only (``str.splitlines`` also breaks at form
feeds and Unicode separators, and would shift every position after one), and counts a
position's character in the units the client and the server agreed on: UTF-16 code units
by default, or UTF-8 bytes, or code points. The server keeps each open text here, applies
the client's changes to it, and writes every position it sends in those units.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from clip_lint.sources.textedits import LINE_BREAK, line_starts, split_lines_keepends

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"

#: (0-based line, character in the client's units)
Position = Tuple[int, int]


def units(text: str, encoding: str) -> int:
    """How many of the client's units ``text`` takes."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _code_points(line: str, count: int, encoding: str) -> int:
    """How many code points of ``line`` the first ``count`` client units cover (clamped to the line)."""
    if encoding == UTF32:
        return min(max(count, 0), len(line))
    taken = 0
    for index, char in enumerate(line):
        if taken >= count:
            return index
        taken += units(char, encoding)
    return len(line)


@dataclass
class Text:
    """One open text (a file's buffer or a notebook cell), with its version."""

    text: str
    version: int = 0

    def lines(self) -> List[Tuple[int, int]]:
        """(start, end) offsets of each line, without its line break; one more past a final break."""
        starts = line_starts(self.text)
        ends = [match.start() for match in LINE_BREAK.finditer(self.text)] + [len(self.text)]
        return list(zip(starts, ends))

    def offset(self, position: Position, encoding: str) -> int:
        """The code-point offset of a client position; past the end of a line means its end."""
        line, character = position
        spans = self.lines()
        if line >= len(spans):
            return len(self.text)
        start, end = spans[max(line, 0)]
        return start + _code_points(self.text[start:end], character, encoding)

    def position(self, line: int, column: int, encoding: str) -> Position:
        """A (0-based line, code-point column) position in the client's units."""
        spans = self.lines()
        if line >= len(spans):
            return (len(spans) - 1, units(self.text[spans[-1][0]:], encoding)) if spans else (0, 0)
        start, end = spans[max(line, 0)]
        return line, units(self.text[start:min(start + max(column, 0), end)], encoding)

    def position_at(self, offset: int, encoding: str) -> Position:
        """The client position of a code-point offset."""
        spans = self.lines()
        for number, (start, end) in enumerate(spans):
            if offset <= end or number == len(spans) - 1:
                return number, units(self.text[start:min(offset, end)], encoding)
        return 0, 0

    def change(self, start: Position, end: Position, new_text: str, encoding: str) -> None:
        """Apply one incremental change of ``textDocument/didChange``."""
        first, last = self.offset(start, encoding), self.offset(end, encoding)
        first, last = min(first, last), max(first, last)
        self.text = self.text[:first] + new_text + self.text[last:]


@dataclass(frozen=True)
class Replacement:
    """Replace the code points ``start:end`` of a text by ``text``."""

    start: int
    end: int
    text: str


def replacements(old: str, new: str) -> List[Replacement]:
    """The smallest line-wise replacements that turn ``old`` into ``new``, first to last.

    A fix touches a few lines; sending those alone keeps the editor's cursor, folds and
    undo history where they were.
    """
    old_lines, new_lines = split_lines_keepends(old), split_lines_keepends(new)
    offsets = [0]
    for line in old_lines:
        offsets.append(offsets[-1] + len(line))
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    found = []
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag != "equal":
            found.append(Replacement(offsets[old_start], offsets[old_end], "".join(new_lines[new_start:new_end])))
    return found


def apply_replacements(text: str, found: Sequence[Replacement]) -> str:
    """``text`` with ``found`` spliced in (what a client does with the edits)."""
    for item in sorted(found, key=lambda r: r.start, reverse=True):
        text = text[:item.start] + item.text + text[item.end:]
    return text
