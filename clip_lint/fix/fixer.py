"""Apply the engine's fixes to a document, and show them as a unified diff.

The engine attaches a ``Fix`` (edits in the analysed source) to a finding. Here the edits
are mapped back onto the segments they touch, checked against each other, spliced in and
written back into the file's own text; the runner repeats this in rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from clip_lint.sources.documents import NOTEBOOK, CodeLine, Document
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.sources.textedits import LINE_BREAK, apply_edits, edits_overlap, split_lines

SegmentEdit = Tuple[int, TextEdit]


@dataclass
class FixPlan:
    """The fixes accepted in one round, and the new text of each segment they change."""

    applied: int = 0
    edits: Dict[int, List[TextEdit]] = field(default_factory=dict)

    def accept(self, mapped: Sequence[SegmentEdit]) -> bool:
        """Take a fix's edits unless they overlap an accepted fix (left for the next round)."""
        for segment, edit in mapped:
            if edits_overlap([edit], self.edits.get(segment, [])):
                return False
        for segment, edit in mapped:
            self.edits.setdefault(segment, []).append(edit)
        self.applied += 1
        return True

    def new_texts(self, document: Document) -> Dict[int, str]:
        """Each changed segment's text; inserted lines take the ending of the line they are put on.

        In a file with mixed line endings every line keeps its own: an inserted line gets the
        ending of the line it is inserted on (or before), so an untouched line never changes.
        """
        texts = {}
        for index, edits in self.edits.items():
            text = document.segments[index].text
            endings = _line_endings(text)
            texts[index] = apply_edits(text, [_with_newline(edit, _ending_of(endings, edit)) for edit in edits])
        return texts


def _line_endings(text: str) -> List[str]:
    """The line break of each line of ``text`` (the last, unterminated line has none)."""
    return [match.group() for match in LINE_BREAK.finditer(text)]


def _ending_of(endings: Sequence[str], edit: TextEdit) -> str:
    if not endings:
        return "\n"
    line = min(max(edit.start[0], 1), len(endings))
    return endings[line - 1]


def _with_newline(edit: TextEdit, newline: str) -> TextEdit:
    if newline == "\n" or "\n" not in edit.text:
        return edit
    return TextEdit(edit.start, edit.end, LINE_BREAK.sub(newline, edit.text))


def is_applicable(fix: Optional[Fix], unsafe_fixes: bool) -> bool:
    """A safe fix always applies; an unsafe one only with ``--unsafe-fixes``."""
    return fix is not None and bool(fix.edits) and (fix.safe or unsafe_fixes)


def map_edit(edit: TextEdit, lines: Sequence[CodeLine], document: Document) -> Optional[SegmentEdit]:
    """The edit in the coordinates of the one segment it touches; None if it can't be mapped.

    An edit spanning two segments, or rewriting a replaced magic line, is refused.
    """
    # An insertion between two segments follows the first one's code, unless it is whole
    # lines put before the second one's code (an import above the first statement).
    if edit.start == edit.end and _is_segment_boundary(edit.start, lines) and not edit.text.endswith("\n"):
        return _append_to_previous_segment(edit, lines, document)
    if edit.start == edit.end and edit.start[1] == 0:
        edit = _past_foreign_cells(edit, lines, document)
    start = _segment_position(edit.start, lines, document)
    end = _segment_position(edit.end, lines, document)
    if start is None or end is None or start[0] != end[0]:
        return None
    if _touches_frozen_line(edit, lines):
        return None
    return start[0], TextEdit(start[1], end[1], edit.text)


def _segment_position(
    position: Tuple[int, int], lines: Sequence[CodeLine], document: Document
) -> Optional[Tuple[int, Tuple[int, int]]]:
    line, col = position
    if 1 <= line <= len(lines):
        origin = lines[line - 1]
        # a notebook cell's text is the cell's own (IPython dedents it before running it);
        # a Markdown block's text is already the analysed one
        shift = origin.col_offset if document.kind == NOTEBOOK else 0
        return origin.segment, (origin.local_line, col + shift)
    if line == len(lines) + 1 and col == 0 and lines:
        segment = lines[-1].segment
        return segment, (len(document.segments[segment].lines) + 1, 0)
    return None


def _past_foreign_cells(edit: TextEdit, lines: Sequence[CodeLine], document: Document) -> TextEdit:
    """An insertion at a ``%%bash`` (or other non-Python) cell moves to the next Python line.

    Nothing between them runs Python, and put inside the foreign cell the line would run
    in its shell.
    """
    line = edit.start[0]
    while 1 <= line <= len(lines) and document.segments[lines[line - 1].segment].foreign:
        line += 1
    return edit if line == edit.start[0] else TextEdit((line, 0), (line, 0), edit.text)


def fix_is_mappable(fix: Fix, lines: Sequence[CodeLine], document: Document) -> bool:
    """Whether every edit of ``fix`` lands in one editable place of the file."""
    return all(map_edit(edit, lines, document) is not None for edit in fix.edits)


def _is_segment_boundary(position: Tuple[int, int], lines: Sequence[CodeLine]) -> bool:
    """True at column 0 of a line that starts a segment (or just past the last line)."""
    line, col = position
    if col != 0 or not 2 <= line <= len(lines) + 1:
        return False
    return line == len(lines) + 1 or lines[line - 1].segment != lines[line - 2].segment


def _append_to_previous_segment(edit: TextEdit, lines: Sequence[CodeLine], document: Document) -> SegmentEdit:
    """An insertion between two segments belongs to the end of the first: it follows that code.

    A notebook cell usually has no final newline, so the inserted line moves before it.
    """
    index = lines[edit.start[0] - 2].segment
    text = document.segments[index].text
    segment_lines = split_lines(text)
    if not text or text.endswith(("\n", "\r")):
        end = (len(segment_lines) + 1, 0)
        return index, TextEdit(end, end, edit.text)
    end = (len(segment_lines), len(segment_lines[-1]))
    inserted = edit.text[:-1] if edit.text.endswith("\n") else edit.text
    return index, TextEdit(end, end, "\n" + inserted)


def _touches_frozen_line(edit: TextEdit, lines: Sequence[CodeLine]) -> bool:
    first, last = edit.start[0], edit.end[0]
    for number in range(max(first, 1), min(last, len(lines)) + 1):
        if lines[number - 1].editable:
            continue
        pure_insert_before = edit.start == edit.end and edit.start == (number, 0)
        ends_at_line_start = number == last and edit.end[1] == 0 and number != first
        if not (pure_insert_before or ends_at_line_start):
            return True
    return False


def plan_round(
    document: Document,
    candidates: Sequence[Tuple[Finding, Sequence[CodeLine]]],
    unsafe_fixes: bool,
) -> FixPlan:
    """Choose the fixes of one round, in source order, skipping overlaps and unmappable ones."""
    plan = FixPlan()
    for finding, lines in sorted(candidates, key=lambda item: (item[0].line, item[0].col)):
        fix = finding.fix
        if not is_applicable(fix, unsafe_fixes):
            continue
        assert fix is not None
        mapped = [map_edit(edit, lines, document) for edit in fix.edits]
        if any(item is None for item in mapped):
            continue
        plan.accept([item for item in mapped if item is not None])
    return plan


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff of a file's text, as ``git diff`` shows it."""
    if before == after:
        return ""
    import difflib  # deferred: only --diff prints a diff

    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
