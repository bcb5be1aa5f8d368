"""The language server's analysis: the command's per-file pipeline on an editor's texts.

It runs in the analysis process (``worker``). Each open file is checked as the command would
check its bytes (``runner``): the same configuration, found from the file; the same
selection and ``# noqa``; the same findings. The unsaved texts of open modules stand in for
the disk (``Overlay``), and every project module the check read is returned, so that the
server knows which open files to check again when one of them changes.

Fixes are the command's: a quickfix is the round of ``--fix`` that applies that one
finding's fix, fix-all is ``--fix`` itself, and "add noqa" is ``--add-noqa`` for one line.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from clip_lint.config.selection import is_suppressed
from clip_lint.findings import Finding
from clip_lint.frontends.runner import (
    FIX,
    PARSE_ERROR,
    Located,
    Reported,
    Settings,
    _broken_segments,
    _report,
    _visible,
    cannot_analyse_message,
)
from clip_lint.project.cache import NO_CACHE
from clip_lint.sources.documents import NOTEBOOK, PYTHON, CodeLine, Document, kind_of, load_document, parse_document

#: Where a text lives in the document: None for the file itself, else a notebook cell's index.
Target = Optional[int]


class FileSettings(Protocol):
    """What the command knows of each file's configuration (``cli.FileSettings``)."""

    def settings(self, path: str) -> Settings: ...

    def excluded(self, path: str) -> bool: ...


@dataclass(frozen=True)
class Source:
    """An open document: a file's text, or a notebook's cells as (is code, text)."""

    path: str
    text: str = ""
    cells: Tuple[Tuple[bool, str], ...] = ()
    notebook: bool = False
    on_disk: bool = False  # the text is the file's saved content: the command's cache may answer

    @property
    def kind(self) -> str:
        return NOTEBOOK if self.notebook else kind_of(self.path)

    def data(self) -> bytes:
        """The bytes the command would read."""
        if self.notebook:
            return notebook_json(self.cells).encode("utf-8")
        return encode_source(self.text) if self.kind == PYTHON else self.text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Spot:
    """One finding where the editor shows it: 0-based lines, code-point columns, end included."""

    code: str
    message: str
    line: int
    col: int
    end_line: int
    end_col: int
    cell: Target = None
    fix_title: Optional[str] = None
    fix_safe: Optional[bool] = None
    fixable: bool = False  # ``--fix`` would apply it (``--unsafe-fixes`` too, when unsafe)
    can_noqa: bool = False


@dataclass
class Checked:
    """A check's answer: the spots, and every project module (real path) the check read."""

    spots: List[Spot] = field(default_factory=list)
    reads: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """A code action's edit, as the new text of each target it changes."""

    kind: str  # QUICKFIX, NOQA or FIX_ALL
    title: str
    texts: Dict[Target, str]
    spot: Optional[int] = None  # index in ``Checked.spots`` of the finding it acts on
    preferred: bool = False


QUICKFIX, NOQA, FIX_ALL = "quickfix", "noqa", "fixAll"


def notebook_json(cells: Sequence[Tuple[bool, str]]) -> str:
    """A notebook file holding ``cells`` as the command would read it from disk."""
    notebook = {
        "cells": [
            {"cell_type": "code" if code else "markdown", "metadata": {}, "source": text}
            | ({"execution_count": None, "outputs": []} if code else {})
            for code, text in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False)


_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def encode_source(text: str) -> bytes:
    """A Python buffer as the bytes of its file: in the encoding its PEP 263 line declares."""
    data = text.encode("utf-8", "surrogatepass")
    for line in data.splitlines()[:2]:
        match = _CODING.match(line)
        if match is not None:
            try:
                return text.encode(match.group(1).decode("ascii"))
            except (LookupError, UnicodeError):
                return data  # the check reports the unusable declaration, as for the file
    return data


class Analysis:
    """Checks open documents and builds their code actions; one per analysis process."""

    def __init__(self, make_settings: Callable[[], FileSettings]) -> None:
        self._make_settings = make_settings
        self._settings: Optional[FileSettings] = None
        self._last: Dict[str, Tuple[bytes, Document, List[Located], List[Reported], Settings]] = {}

    # --- the state shared with the project layer

    def set_texts(self, texts: Dict[str, Optional[str]], files_changed: bool = False) -> None:
        """Open modules' unsaved texts (None: closed, read the disk again); forget memos by path."""
        from clip_lint.project.cache import forget_resolutions
        from clip_lint.project.modules import OVERLAY

        for path, text in texts.items():
            if text is None:
                OVERLAY.texts.pop(path, None)
            else:
                OVERLAY.texts[path] = text
        OVERLAY.forget()
        if files_changed:
            forget_resolutions()

    def reload_settings(self) -> None:
        """A configuration file changed: find and read each file's configuration again."""
        self._settings = None

    def _file_settings(self) -> FileSettings:
        if self._settings is None:
            self._settings = self._make_settings()
        return self._settings

    # --- checking

    def check(self, source: Source) -> Checked:
        """The findings the command reports for ``source``, and the modules the check read."""
        from clip_lint.project.modules import OVERLAY

        per_file = self._file_settings()
        if per_file.excluded(source.path):
            self._last.pop(source.path, None)
            return Checked()
        settings = per_file.settings(source.path)
        if not source.on_disk:
            settings = replace(settings, cache=NO_CACHE)  # an unsaved text is nobody else's: don't store it
        data = source.data()
        OVERLAY.reads = set()
        try:
            document, located, reported = self._analyse(source, data, settings)
            reads = OVERLAY.reads
        finally:
            OVERLAY.reads = None
        self._last[source.path] = (data, document, located, reported, settings)
        spots = [self._spot(document, found, shown, settings) for found, shown in zip(located, reported)]
        return Checked(spots, tuple(sorted(reads - {source.path})))

    def forget(self, path: str) -> None:
        self._last.pop(path, None)

    def _analyse(
        self, source: Source, data: bytes, settings: Settings
    ) -> Tuple[Document, List[Located], List[Reported]]:
        document = load_document(source.path, data, source.kind)
        try:
            located = _visible(document, settings)
        except Exception as error:  # the engine promises not to raise; a bug must not stop the server
            message = cannot_analyse_message(f"internal error {type(error).__name__}: {error}")
            located = [(Finding(PARSE_ERROR, 1, 0, message), ())] if _selected(PARSE_ERROR, settings) else []
        return document, located, [_report(document, found, settings) for found in located]

    def _spot(self, document: Document, found: Located, shown: Reported, settings: Settings) -> Spot:
        from clip_lint.fix.fixer import fix_is_mappable

        finding, lines = found
        line, col = shown.line - 1, shown.col
        end_line, end_col = finding_end(document, found, (line, col))
        fix = finding.fix
        mappable = fix is not None and bool(fix.edits) and fix_is_mappable(fix, lines, document)
        return Spot(
            code=shown.code,
            message=shown.message,
            line=line,
            col=col,
            end_line=end_line,
            end_col=end_col,
            cell=shown.cell - 1 if shown.cell is not None else None,
            fix_title=shown.fix_title if mappable else None,
            fix_safe=shown.fix_safe if mappable else None,
            fixable=mappable,
            can_noqa=_noqa_line(finding, lines) is not None,
        )

    # --- code actions

    def actions(self, source: Source, spots: Sequence[int], fix_all: bool) -> List[Action]:
        """Quickfix and noqa actions for the findings ``spots`` (indices of the last check), and fix-all."""
        data = source.data()
        last = self._last.get(source.path)
        if last is None or last[0] != data:
            self.check(source)
            last = self._last.get(source.path)
        if last is None:
            return []
        _, document, located, _, settings = last
        found: List[Action] = []
        for index in spots:
            if 0 <= index < len(located):
                found.extend(self._finding_actions(document, located[index], index))
        if fix_all:
            action = self._fix_all(source, data, document, settings)
            if action is not None:
                found.append(action)
        return found

    def _finding_actions(self, document: Document, found: Located, index: int) -> List[Action]:
        finding, lines = found
        actions = []
        fixed = quickfix_texts(document, found)
        if fixed is not None and finding.fix is not None:
            title = finding.fix.title + ("" if finding.fix.safe else " (unsafe fix)")
            actions.append(Action(QUICKFIX, title, fixed, index, preferred=finding.fix.safe))
        silenced = noqa_texts(document, found)
        if silenced is not None:
            actions.append(Action(NOQA, f"Add '# noqa: {finding.code}'", silenced, index))
        return actions

    def _fix_all(self, source: Source, data: bytes, document: Document, settings: Settings) -> Optional[Action]:
        from clip_lint.frontends.runner import check_bytes

        result = check_bytes(source.path, data, replace(settings, mode=FIX), source.kind)
        if result.output is None or not result.fixed:
            return None
        return Action(FIX_ALL, "Fix all clip-lint findings", _target_texts(document, result.output))


def _selected(code: str, settings: Settings) -> bool:
    from clip_lint.frontends.runner import is_selected

    return is_selected(code, settings)


# --- one finding's edits ------------------------------------------------------------------


def quickfix_texts(document: Document, found: Located) -> Optional[Dict[Target, str]]:
    """The new texts after the ``--fix`` round that applies only this finding's fix.

    Unsafe fixes are offered too (a person chooses a quickfix); none that would make a
    segment unparseable, as ``--fix`` refuses such a round.
    """
    from clip_lint.fix.fixer import plan_round

    plan = plan_round(document, [found], unsafe_fixes=True)
    if not plan.applied:
        return None
    return _checked_texts(document, plan.new_texts(document))


def noqa_texts(document: Document, found: Located) -> Optional[Dict[Target, str]]:
    """The new texts with ``# noqa: CODE`` on the finding's line, as ``--add-noqa`` writes it."""
    from clip_lint.frontends.add_noqa import _with_comments

    finding, lines = found
    origin = _noqa_line(finding, lines)
    if origin is None:
        return None
    segment = document.segments[origin.segment]
    new_text, changed = _with_comments(segment.text, {origin.local_line: {finding.code}}, document.kind == PYTHON)
    if not changed:
        return None
    return _checked_texts(document, {origin.segment: new_text})


def _noqa_line(finding: Finding, lines: Sequence[CodeLine]) -> Optional[CodeLine]:
    """The line a noqa comment for ``finding`` goes on; None where it can't (CLN900, a magic)."""
    if finding.code == PARSE_ERROR or not 1 <= finding.line <= len(lines):
        return None
    origin = lines[finding.line - 1]
    if not origin.editable or is_suppressed(finding.code, origin.text):
        return None
    return origin


def _checked_texts(document: Document, new_texts: Dict[int, str]) -> Optional[Dict[Target, str]]:
    """Segment texts as texts of the document's targets; None if they would break a segment."""
    try:
        rendered = document.render(new_texts)
    except ValueError:
        return None
    candidate = parse_document(document.path, document.kind, rendered, document.bom, document.encoding)
    if candidate.problem is not None:
        return None
    broken = _broken_segments(candidate)
    if broken and broken > _broken_segments(document):
        return None
    if document.kind == NOTEBOOK:
        return {_cell_index(document, index): text for index, text in new_texts.items()}
    return {None: rendered}


def _cell_index(document: Document, segment: int) -> int:
    label = document.segments[segment].label
    assert label is not None  # every notebook segment is a numbered cell
    return label - 1


def _target_texts(document: Document, output: str) -> Dict[Target, str]:
    """The command's fixed output as texts of the document's targets."""
    output = output[1:] if output.startswith("\ufeff") and not document.bom else output
    if document.kind != NOTEBOOK:
        return {None: output}
    before = json.loads(document.text)["cells"]
    after = json.loads(output)["cells"]
    return {
        index: _joined(cell["source"])
        for index, (old, cell) in enumerate(zip(before, after))
        if _joined(cell["source"]) != _joined(old["source"])
    }


def _joined(source: object) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


# --- where a finding ends -------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|\S")
#: An expression that starts at a finding but runs over more lines than this is cut at its first line.
MAX_RANGE_LINES = 8


def finding_end(document: Document, found: Located, start: Tuple[int, int]) -> Tuple[int, int]:
    """Where a finding's range ends (0-based line, code-point column, in the document's terms).

    Findings carry a start only; the range covers the largest expression that starts there
    (the similarity op, the call), or the word at the start when none does.
    """
    finding, lines = found
    if not 1 <= finding.line <= len(lines):
        return start
    origin = lines[finding.line - 1]
    end = _expression_end(document, lines, finding.line, finding.col)
    if end is not None and end[0] - finding.line <= MAX_RANGE_LINES:
        end_origin = lines[end[0] - 1]
        if end_origin.segment == origin.segment:
            end_line = end_origin.local_line if document.kind == NOTEBOOK else end_origin.file_line
            return end_line - 1, end[1] + end_origin.col_offset
    word = _TOKEN.match(origin.text, finding.col)
    return start[0], start[1] + (word.end() - finding.col if word is not None else 0)


_TREES: Dict[int, Tuple[Sequence[CodeLine], Optional[ast.Module]]] = {}


def _expression_end(document: Document, lines: Sequence[CodeLine], line: int, col: int) -> Optional[Tuple[int, int]]:
    """The end (1-based line, code-point column) of the largest expression starting at the position."""
    tree = _tree_of(document, lines)
    if tree is None:
        return None
    text = lines[line - 1].text
    byte_col = len(text[:col].encode("utf-8"))
    best: Optional[ast.expr] = None
    for node in ast.walk(tree):
        if isinstance(node, ast.expr) and node.lineno == line and node.col_offset == byte_col:
            if best is None or (node.end_lineno, node.end_col_offset) > (best.end_lineno, best.end_col_offset):
                best = node
    if best is None or best.end_lineno is None or best.end_col_offset is None:
        return None
    end_text = lines[best.end_lineno - 1].text.encode("utf-8")
    return best.end_lineno, len(end_text[:best.end_col_offset].decode("utf-8", "replace"))


def _tree_of(document: Document, lines: Sequence[CodeLine]) -> Optional[ast.Module]:
    """The ``ast`` of the analysed source ``lines`` make up, parsed once per check.

    A Python file's is the one the project layer parsed for the analysis, when it has it.
    """
    known = _TREES.get(id(lines))
    if known is not None and known[0] is lines:
        return known[1]
    tree = _project_tree(document) if document.kind == PYTHON else None
    if tree is None:
        try:
            tree = ast.parse("".join(line.text + "\n" for line in lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
    _TREES.clear()  # one source at a time: the findings of one check share their lines
    _TREES[id(lines)] = (lines, tree)
    return tree


def _project_tree(document: Document) -> Optional[ast.Module]:
    from clip_lint.project.cache import project_for

    project = project_for(document.path)
    return project.tree_of(document.path, document.text) if project is not None else None
