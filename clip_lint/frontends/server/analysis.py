"""The language server's analysis: the command's per-file pipeline on an editor's texts.

It runs in the analysis process (``worker``). Each open file is checked as the command would
check its bytes (``runner``): the same configuration, found from the file; the same
selection and ``# noqa``; the same findings. Every request starts a new run of the project
layer (``new_run``) whose reader reads the unsaved texts of open modules in place of the disk
(an overlay, never cached), and a check returns the record of every file it read and every
existence probe it made, so that the server knows which open files to check again when a
module changes, appears or disappears.

Fixes are the command's: a quickfix is the round of ``--fix`` that applies that one
finding's fix, fix-all is ``--fix`` itself, and "add noqa" is ``--add-noqa`` for one line.
"""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Callable, ContextManager, Dict, List, Optional, Protocol, Sequence, Tuple

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
from clip_lint.project.cache import STDIN_NAMES
from clip_lint.project.modules import Project, new_run
from clip_lint.project.reading import Reads
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
    """A check's answer: the spots, and what the check read of the project (real paths, the
    checked file's own left out): the files whose text it used, and the paths whose existence
    (a file, a folder, where a link leads) it asked about."""

    spots: List[Spot] = field(default_factory=list)
    reads: Tuple[str, ...] = ()
    probes: Tuple[str, ...] = ()


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
        self._buffers: Dict[str, str] = {}  # real path -> an open module's text, read before the disk
        self._last: Dict[str, Tuple[bytes, Document, List[Located], List[Reported], Settings]] = {}

    def set_texts(self, texts: Dict[str, Optional[str]]) -> None:
        """Open modules' texts (None: closed, the disk's text counts again), for the next runs."""
        for path, text in texts.items():
            if text is None:
                self._buffers.pop(path, None)
            else:
                self._buffers[path] = text

    def reload_settings(self) -> None:
        """A configuration file changed: find and read each file's configuration again."""
        self._settings = None

    def _file_settings(self) -> FileSettings:
        if self._settings is None:
            self._settings = self._make_settings()
        return self._settings

    def _new_run(self, path: str) -> ContextManager[Reads]:
        """Start a run of the project layer with the open buffers, and record what it reads.

        A run reads each file and asks each probe once; a new one per request sees every file
        created, changed or deleted since, with nothing memoized by path to forget by hand.
        Parses stay memoized by content (``modules._LOADED``): the server stays warm.
        """
        new_run(overlay=self._buffers)
        if path in STDIN_NAMES:
            return nullcontext(Reads())  # an untitled buffer has no project, as stdin
        return Project.for_path(path).reader.recording()

    # --- checking

    def check(self, source: Source) -> Checked:
        """The findings the command reports for ``source``, and what the check read."""
        per_file = self._file_settings()
        if per_file.excluded(source.path):
            self._last.pop(source.path, None)
            return Checked()
        settings = per_file.settings(source.path)
        if not source.on_disk:  # an unsaved text is nobody else's: the cache neither answers nor keeps it
            settings = replace(settings, cache=replace(settings.cache, enabled=False))
        data = source.data()
        with self._new_run(source.path) as record:
            document, located, reported = self._analyse(source, data, settings)
        self._last[source.path] = (data, document, located, reported, settings)
        spots = [self._spot(document, found, shown) for found, shown in zip(located, reported)]
        read = record.flatten()
        files = sorted(set(read.files) - {source.path})
        probed = sorted({path for _, path in read.probes} - {source.path})
        return Checked(spots, tuple(files), tuple(probed))

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

    def _spot(self, document: Document, found: Located, shown: Reported) -> Spot:
        from clip_lint.fix.fixer import fix_is_mappable

        finding, lines = found
        line, col = shown.line - 1, shown.col
        end_line, end_col = shown.end_line - 1, shown.end_col
        if (end_line, end_col) <= (line, col):  # the finding marks a point: show the word there
            end_line, end_col = line, col + _word_length(finding, lines)
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

        with self._new_run(source.path):
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


def _word_length(finding: Finding, lines: Sequence[CodeLine]) -> int:
    """How many code points the word (or sign) at a finding's start takes; 0 past its line."""
    if not 1 <= finding.line <= len(lines):
        return 0
    word = _TOKEN.match(lines[finding.line - 1].text, finding.col)
    return word.end() - finding.col if word is not None else 0
