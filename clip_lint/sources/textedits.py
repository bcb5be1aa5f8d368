"""Line splitting and edit splicing shared by the document kinds and the fixer.

Lines break at ``\\r\\n``, ``\\r`` or ``\\n`` only, as libcst counts them; ``str.splitlines``
also breaks at form feeds and Unicode separators and would shift every position after one.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Sequence, Tuple

from clip_lint.findings import TextEdit

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> List[str]:
    """The lines of ``text`` without their line breaks ("a\\n" gives ["a"], "" gives [])."""
    lines = LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def split_lines_keepends(text: str) -> List[str]:
    """The lines of ``text`` with their line breaks, as nbformat stores a cell's source."""
    pieces: List[str] = []
    start = 0
    for match in LINE_BREAK.finditer(text):
        pieces.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def line_starts(text: str) -> List[int]:
    """Offset of the first character of each line; one extra entry for a line after the end."""
    starts = [0]
    starts.extend(match.end() for match in LINE_BREAK.finditer(text))
    return starts


def offset_of(starts: Sequence[int], text_length: int, position: Tuple[int, int]) -> int:
    """The character offset of a (1-based line, 0-based column) position, clamped to the text."""
    line, col = position
    if line - 1 >= len(starts):
        return text_length
    return min(starts[max(line - 1, 0)] + col, text_length)


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """Splice ``edits`` into ``text``, last first, so earlier positions stay valid."""
    starts = line_starts(text)
    spans = sorted(
        ((offset_of(starts, len(text), e.start), offset_of(starts, len(text), e.end), e.text) for e in edits),
        key=lambda span: (span[0], span[1]),
        reverse=True,
    )
    for start, end, replacement in spans:
        text = text[:start] + replacement + text[end:]
    return text


def edits_overlap(first: Sequence[TextEdit], second: Sequence[TextEdit]) -> bool:
    """True when any edit of ``first`` touches any edit of ``second``.

    Two insertions at the same point count as overlapping: their order would be arbitrary.
    """
    for a in first:
        for b in second:
            if a.start == b.start or (a.start < b.end and b.start < a.end):
                return True
    return False
