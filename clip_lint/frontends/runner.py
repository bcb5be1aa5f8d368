"""Check one file: read it, hand its code to the engine, map findings back, fix in rounds.

This is the command's per-file pipeline. It holds no analysis of its own: findings and
fixes come from ``clip_lint.engine``; here they are located, filtered and applied.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import re
import stat
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Dict, List, Optional, Sequence, Set, Tuple

from clip_lint.sources.documents import (
    MARKDOWN, NOTEBOOK, PYTHON, CodeLine, Document, Problem, load_document, parse_document,
)  # fmt: skip
from clip_lint.project.cache import (
    LOOKUPS, NO_CACHE, CacheConfig, CacheMiss, answers_only, cached_parse_error, check_source, refuse_work,
)  # fmt: skip
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.sources.textedits import LINE_BREAK
from clip_lint.options import AnalysisOptions
from clip_lint.config.selection import has_file_noqa, is_enabled, is_suppressed

PARSE_ERROR = "CLN900"
HIT, MISS = "hit", "miss"
UNUSED_NOQA = "CLN100"  # reported here, after the analysis: clip_lint.config.noqa
MAX_FIX_ROUNDS = 5
CHECK, FIX, DIFF = "check", "fix", "diff"


@dataclass(frozen=True)
class Settings:
    """What every worker needs to check a file; picklable for the process pool."""

    analysis: AnalysisOptions = AnalysisOptions()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    mode: str = CHECK
    unsafe_fixes: bool = False
    cache: CacheConfig = NO_CACHE
    edits: bool = False  # locate each fix's edits in the file (the JSON report shows them)


@dataclass(frozen=True)
class FileEdit:
    """One edit of a fix where the user sees it: 1-based lines, 0-based columns, as ``Reported``.

    In a notebook the position is within cell ``cell``; elsewhere it is the file's.
    """

    line: int
    col: int
    end_line: int
    end_col: int
    text: str
    cell: Optional[int] = None


@dataclass(frozen=True)
class Reported:
    """A finding located in the file as the user sees it.

    ``line`` is 1-based and ``col`` 0-based. In a notebook, ``line`` counts within cell
    ``cell`` (1-based index in the notebook's cell list) and ``file_line`` is the line of
    the notebook's JSON text that holds it; elsewhere ``file_line == line``.
    """

    code: str
    message: str
    line: int
    col: int
    cell: Optional[int] = None
    file_line: int = 1
    fix_title: Optional[str] = None
    fix_safe: Optional[bool] = None
    fixable: bool = False
    source: str = ""  # the line as the user sees it (in a notebook: the cell's line), for --show-source
    end_line: int = 0  # where the reported expression ends (0: a point, at the start)
    end_col: int = 0
    edits: Optional[Tuple[FileEdit, ...]] = None  # the fix's edits, when asked for and they map onto the file


@dataclass
class FileResult:
    """The outcome for one file: its findings and what fixing did.

    ``errors`` are failures that are not findings (the file could not be read, or its fix
    not written): each one makes the run fail, whatever ``--select`` says.
    """

    path: str
    kind: str = PYTHON
    findings: List[Reported] = field(default_factory=list)
    fixed: int = 0
    diff: str = ""
    output: Optional[str] = None  # the fixed text, to write back (or print, for stdin)
    errors: List[str] = field(default_factory=list)
    encoding: str = "utf-8"  # the file's own, to write the fixed text back in
    checked: bool = True  # False when the file could not be read at all
    digest: str = ""  # of the bytes analysed: the file must still hold them when the fix is written
    unfixed_findings: List[Reported] = field(default_factory=list)  # reported if the fix is not written
    skipped_blocks: int = 0  # notebook cells and Markdown blocks that don't parse and mention no encoder
    has_code: bool = False  # the file holds Python to check (a Markdown file may have no Python block)
    seconds: float = 0.0  # how long checking it took (``-v`` names the slow files)
    cache: str = ""  # HIT: every analysis came from the cache; MISS: some did not; "": none was looked up


Located = Tuple[Finding, Sequence[CodeLine]]


def check_path(path: str, settings: Settings) -> FileResult:
    """Check the file at ``path``; in fix mode, leave the fixed text in ``output``.

    Never raises and never writes: ``write_fix`` does that, once the analysis is done.
    """
    try:
        data = _read_regular_file(path)
    except OSError as error:
        return FileResult(path, errors=[f"cannot read it: {error.strerror or error}"], checked=False)
    return check_bytes(path, data, settings)


def check_from_cache(path: str, settings: Settings) -> Optional[FileResult]:
    """``check_path``'s result when it needs no work beyond the substring gate and the cache's
    answers (no parse, no analysis); None when it does. Safe to run outside a worker process."""
    try:
        with answers_only():
            return check_path(path, settings)
    except CacheMiss:
        return None


def _read_regular_file(path: str) -> bytes:
    """The bytes of a regular file; a FIFO or device is refused without blocking on it."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"not a regular file: {path}")
        return handle.read()


def check_bytes(path: str, data: bytes, settings: Settings, kind: Optional[str] = None) -> FileResult:
    """Check a file's bytes; in fix or diff mode, also compute the fixed text."""
    started, looked_up = time.perf_counter(), dict(LOOKUPS)
    try:
        result = _check(path, data, settings, kind)
    except CacheMiss:
        raise  # asked inside ``answers_only()``: the file goes to a worker
    except Exception as error:  # the engine promises not to raise; a bug must not stop the run
        message = cannot_analyse_message(f"internal error {type(error).__name__}: {error}")
        result = FileResult(path, findings=_selected([Reported(PARSE_ERROR, message, 1, 0)], settings))
    result.digest = _digest(data)
    result.seconds = time.perf_counter() - started
    if LOOKUPS["misses"] > looked_up["misses"]:
        result.cache = MISS
    elif LOOKUPS["hits"] > looked_up["hits"]:
        result.cache = HIT
    return result


def _check(path: str, data: bytes, settings: Settings, kind: Optional[str]) -> FileResult:
    original = load_document(path, data, kind)
    result = FileResult(path, original.kind, encoding=original.encoding)
    document, located = original, None
    if settings.mode != CHECK and original.problem is None:
        from clip_lint.fix.fixer import unified_diff  # deferred, as every use of the fixer: a plain check needs none

        rounds = _fix_rounds(original, settings)
        result.fixed = rounds.fixed
        located = rounds.original_findings
        before, after = _encoded_text(original), _encoded_text(rounds.document)
        if after != before and settings.mode == DIFF:
            result.diff = unified_diff(path, before, after)  # only --diff prints it: never built for --fix
        elif after != before:
            result.output = after
            result.unfixed_findings = [_report(original, found, settings) for found in located]
            document, located = rounds.document, rounds.final_findings
    if located is None:
        located = _visible(document, settings)
    result.findings = [_report(document, found, settings) for found in located]
    result.skipped_blocks = document.skipped_blocks
    result.has_code = original.problem is not None or any(
        segment.text.strip() and not segment.foreign for segment in original.segments
    )
    return result


def _encoded_text(document: Document) -> str:
    return ("\ufeff" if document.bom else "") + document.text


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


CHANGED_DURING_FIX = "changed during --fix, not written"


def write_fix(result: FileResult) -> None:
    """Write ``result.output`` over the file, unless it changed since it was read.

    A fix that is not written is an error of the file: its fixes don't count, and its
    findings are the ones still in the file.
    """
    if result.output is None:
        return
    problem = _replace_file(result.path, result.output.encode(result.encoding), result.digest)
    result.output = None
    if problem is not None:
        result.errors.append(problem)
        result.fixed = 0
        result.findings = result.unfixed_findings
    result.unfixed_findings = []


def _replace_file(path: str, data: bytes, expected_digest: str) -> Optional[str]:
    """Atomically put ``data`` in place of ``path``; why not, or None when written.

    The new text goes to a fresh temporary file in the same folder (``tempfile`` picks a
    name nothing else holds), takes the file's mode and owner, and replaces it in one
    ``os.replace``. A symlink is written through, not replaced.
    """
    target = os.path.realpath(path)
    try:
        with open(target, "rb") as handle:
            if _digest(handle.read()) != expected_digest:
                return CHANGED_DURING_FIX
        status = os.stat(target)
    except OSError as error:
        return f"cannot write the fixed file: {error.strerror or error}"
    import tempfile  # deferred: only a run that writes fixes needs it

    folder, name = os.path.split(target)
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".clip-lint-tmp", dir=folder or ".")
        with open(descriptor, "wb") as handle:
            handle.write(data)
            _copy_owner_and_mode(handle.fileno(), status)
        os.replace(temporary, target)
        return None
    except OSError as error:
        if temporary is not None and os.path.lexists(temporary):
            os.unlink(temporary)
        return f"cannot write the fixed file: {error.strerror or error}"


def _copy_owner_and_mode(descriptor: int, status: os.stat_result) -> None:
    if hasattr(os, "fchown"):
        try:
            os.fchown(descriptor, status.st_uid, status.st_gid)
        except OSError:
            pass  # only root may give a file away; the mode still applies
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, stat.S_IMODE(status.st_mode))


# --- analysis and location ------------------------------------------------------------------


def analyse(document: Document, analysis: AnalysisOptions, cache: CacheConfig = NO_CACHE) -> List[Located]:
    """All engine findings of ``document``, each with the line map it is located by."""
    if document.problem is not None or not document.segments:
        return []
    if document.kind == PYTHON:
        findings = check_source(document.path, document.text, analysis, cache)
        return [(finding, document.segments[0].lines) for finding in findings]
    source, lines = document.analysis_source()
    findings = check_source(document.path, source, analysis, cache)
    if not any(f.code == PARSE_ERROR for f in findings):
        return [(finding, lines) for finding in findings]
    return _analyse_around_broken_segments(document, analysis, cache)


def _analyse_around_broken_segments(document: Document, analysis: AnalysisOptions, cache: CacheConfig) -> List[Located]:
    """Report each unparseable cell or block on its own and analyse the others together.

    A cell or block that mentions no encoder (nor a configured name) hides nothing that
    could be reported: it is skipped without a finding, and counted in ``skipped_blocks``.
    """
    from clip_lint.prefilter.gate import passes_gate

    located: List[Located] = []
    good: List[int] = []
    document.skipped_blocks = 0
    for index, segment in enumerate(document.segments):
        source, lines = document.analysis_source([index])
        reason = cached_parse_error(document.path, source, cache, partial(_parse_error, source))
        if reason is None:
            good.append(index)
            continue
        if not passes_gate(source, analysis):
            document.skipped_blocks += 1
            continue
        what = f"cell {segment.label}" if document.kind == NOTEBOOK else f"code block {segment.label}"
        message = cannot_analyse_message(f"libcst cannot parse {what}, so it was skipped: {reason}")
        located.append((Finding(PARSE_ERROR, 1, 0, message), lines))
    if good:
        source, lines = document.analysis_source(good)
        located.extend((finding, lines) for finding in check_source(document.path, source, analysis, cache))
    return located


def cannot_analyse_message(reason: str) -> str:
    from clip_lint.rules import format_message

    return format_message(PARSE_ERROR, reason=reason)


_PARSER_POSITION = re.compile(r"^(?:parser error: )?error at \d+:\d+: ")


def _parse_error(source: str) -> Optional[str]:
    """Why libcst rejects ``source`` (None when it parses)."""
    import libcst

    from clip_lint.sources.parse_guard import nesting_problem  # deferred with libcst: only a parse needs it

    too_deep = nesting_problem(source)
    if too_deep is not None:
        return too_deep[2]
    pieces = _top_level_pieces(source) if len(source) > WHOLE_PARSE_CHARACTERS else None
    for piece in pieces or [source]:
        try:
            libcst.parse_module(piece)
        except libcst.ParserSyntaxError as error:
            return _PARSER_POSITION.sub("", error.message) or "syntax error"
        except Exception as error:  # libcst raises other errors on some inputs (e.g. deep nesting)
            return f"{type(error).__name__}: {error}"
    return None


#: Above this many characters a text is parsed in pieces of whole top-level statements, so that
#: only one piece's tree is alive at a time (libcst's tree of 1 MB of code takes about 300 MB).
WHOLE_PARSE_CHARACTERS = 1_000_000
PIECE_CHARACTERS = 250_000


_CLAUSES = frozenset({"else", "elif", "except", "finally"})  # at column 0, they continue a statement


def _top_level_pieces(source: str) -> Optional[List[str]]:
    """``source`` cut between top-level statements into pieces of about ``PIECE_CHARACTERS``.

    A module parses when each of its top-level statements does: nothing carries from one to
    the next in Python's grammar. Decorators stay with what they decorate. None when the text
    does not tokenize: it is then parsed whole.
    """
    import io
    import tokenize

    starts: List[int] = []  # the first line of each top-level statement, decorators included
    depth, at_statement_start, after_decorator = 0, True, False
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = token.type
            if kind == tokenize.INDENT:
                depth += 1
            elif kind == tokenize.DEDENT:
                depth -= 1
            elif kind == tokenize.NEWLINE:
                at_statement_start = True
            elif kind not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER) and at_statement_start:
                at_statement_start = False
                if depth == 0 and token.start[1] == 0 and token.string not in _CLAUSES:
                    if not after_decorator:
                        starts.append(token.start[0])
                    after_decorator = token.string == "@"
    except (tokenize.TokenError, SyntaxError, ValueError):  # IndentationError is a SyntaxError
        return None
    lines = io.StringIO(source).readlines()  # the tokenizer's lines: only "\n" ends one
    pieces: List[str] = []
    piece: List[str] = []
    size, previous = 0, 1
    for start in starts[1:] + [len(lines) + 1]:
        statement = lines[previous - 1:start - 1]
        previous = start
        if piece and size + sum(map(len, statement)) > PIECE_CHARACTERS:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.extend(statement)
        size += sum(map(len, statement))
    pieces.append("".join(piece))
    return pieces


def _visible(document: Document, settings: Settings) -> List[Located]:
    """The findings the user asked for: problems first, then selected and not silenced."""
    if document.problem is not None:
        problem: Problem = document.problem
        if not _enabled(PARSE_ERROR, settings):
            return []
        return [(Finding(PARSE_ERROR, problem.line, problem.col, cannot_analyse_message(problem.message)), ())]
    if has_file_noqa([document.text] if document.kind == PYTHON else [s.text for s in document.segments]):
        return []  # "# flake8: noqa" / "# clip-lint: noqa" exempts the whole file, as in flake8
    notices: List[Located] = [
        (Finding(PARSE_ERROR, notice.line, notice.col, cannot_analyse_message(notice.message)), ())
        for notice in document.notices
        if _enabled(PARSE_ERROR, settings)
    ]
    analysed = analyse(document, settings.analysis, settings.cache)
    visible = [(finding, lines) for finding, lines in analysed if _enabled(finding.code, settings)]
    shown = [(finding, lines) for finding, lines in visible if not _silenced(finding, lines)]
    if _enabled(UNUSED_NOQA, settings):
        shown = sorted(shown + _unused_noqa(document, visible, settings), key=_place)
    return notices + shown


def _place(located: Located) -> Tuple[int, int, int, str]:
    """Where a finding is, in file order: its segment, its line there and its column."""
    finding, lines = located
    if not 1 <= finding.line <= len(lines):
        return (0, finding.line, finding.col, finding.code)
    origin = lines[finding.line - 1]
    return (origin.segment, origin.local_line, finding.col + origin.col_offset, finding.code)


def _unused_noqa(document: Document, visible: Sequence[Located], settings: Settings) -> List[Located]:
    """CLN100 for each ``# noqa: CLN...`` of a segment that no selected finding there needed.

    A segment the analysis could not read (CLN900) is not judged: what it hides is unknown.
    """
    from clip_lint.config.noqa import unused_noqa
    from clip_lint.rules import RULES

    reported: Dict[Tuple[int, int], Set[str]] = {}  # (segment, line in it) -> codes found there
    unread = set()
    for finding, lines in visible:
        if not 1 <= finding.line <= len(lines):
            continue
        origin = lines[finding.line - 1]
        if finding.code == PARSE_ERROR:
            unread.add(origin.segment)
        reported.setdefault((origin.segment, origin.local_line), set()).add(finding.code)
    if document.kind == PYTHON and unread:
        return []
    located: List[Located] = []
    for index, segment in enumerate(document.segments):
        if index in unread or segment.foreign:
            continue
        lines = segment.lines
        by_line = {line: codes for (where, line), codes in reported.items() if where == index}
        texts = [line.text for line in lines]
        for finding in unused_noqa(texts, by_line, settings.select, settings.ignore, tuple(RULES)):
            located.append((finding, lines))
    return located


def is_selected(code: str, settings: Settings) -> bool:
    """Whether the user asked for ``code`` (``--select``/``--ignore``)."""
    return is_enabled(code, settings.select, settings.ignore)


_enabled = is_selected


def _silenced(finding: Finding, lines: Sequence[CodeLine]) -> bool:
    if 1 <= finding.line <= len(lines):
        return is_suppressed(finding.code, lines[finding.line - 1].text)
    return False


def _report(document: Document, located: Located, settings: Settings) -> Reported:
    finding, lines = located
    fix = finding.fix
    line, col, cell, file_line = _locate(document, finding, lines)
    end_line, end_col = _locate_end(document, finding, lines, (line, col, cell))
    fixable = fix is not None and _fix_applies(fix, lines, document, settings)
    return Reported(
        code=finding.code,
        message=_relocate_message(document, finding.message, lines),
        line=line,
        col=col,
        cell=cell,
        file_line=file_line,
        fix_title=fix.title if fix else None,
        fix_safe=fix.safe if fix else None,
        fixable=fixable,
        source=_source_line(finding, lines),
        end_line=end_line,
        end_col=end_col,
        edits=_file_edits(document, fix, lines) if settings.edits and fix is not None else None,
    )


def _locate_end(
    document: Document, finding: Finding, lines: Sequence[CodeLine], start: Tuple[int, int, Optional[int]]
) -> Tuple[int, int]:
    """Where the reported expression ends, as the user sees it; the start when that is not known."""
    if finding.end_line is None or finding.end_col is None:
        return start[0], start[1]
    end = Finding(finding.code, finding.end_line, finding.end_col, "")
    line, col, cell, _ = _locate(document, end, lines)
    if cell != start[2] or (line, col) < (start[0], start[1]):
        return start[0], start[1]  # a node that runs into another cell: only its start is reported
    return line, col


def _file_edits(document: Document, fix: Fix, lines: Sequence[CodeLine]) -> Optional[Tuple[FileEdit, ...]]:
    """The fix's edits in the file (in a notebook: in each cell), as ``--fix`` would write them.

    In a Python file and a notebook's cells the edits map one to one. A Markdown block may be
    indented (inside a list item), so there the block is written back as ``--fix`` writes it and
    the change is described as the smallest edits between the two texts.
    """
    from clip_lint.fix.fixer import FixPlan, map_edit

    mapped = [map_edit(edit, lines, document) for edit in fix.edits]
    if not mapped or any(edit is None for edit in mapped):
        return None
    if document.kind != MARKDOWN:
        segments = document.segments
        located = [
            (index, _smallest(_as_written(edit, segments[index].text), segments[index].text))
            for index, edit in mapped  # type: ignore[misc]
        ]
        cell = (lambda index: document.segments[index].label) if document.kind == NOTEBOOK else (lambda index: None)
        return tuple(
            FileEdit(edit.start[0], edit.start[1], edit.end[0], edit.end[1], edit.text, cell(index))
            for index, edit in sorted(located, key=lambda item: (item[0], item[1].start))
        )
    plan = FixPlan()
    plan.accept(mapped)  # type: ignore[arg-type]
    try:
        return tuple(text_changes(document.text, document.render(plan.new_texts(document))))
    except ValueError:
        return None


def _smallest(edit: TextEdit, text: str) -> TextEdit:
    """The same change with what it rewrites unchanged left out: adding ``keepdim=True`` is one insertion."""
    from clip_lint.sources.textedits import offset_of

    starts = _line_starts(text)
    begin, end = offset_of(starts, len(text), edit.start), offset_of(starts, len(text), edit.end)
    old, new = text[begin:end], edit.text
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    begin, end, new = begin + prefix, end - suffix, new[prefix:len(new) - suffix]
    if begin == end:  # an insertion of "\nline" at a line's end reads better as "line\n" before the next
        ending = LINE_BREAK.match(text, begin)
        if ending and new.startswith(ending.group()):
            begin = end = ending.end()
            new = new[len(ending.group()):] + ending.group()
    return TextEdit(_position_in(starts, begin), _position_in(starts, end), new)


@functools.lru_cache(maxsize=8)
def _line_starts(text: str) -> List[int]:
    """Each line's first offset; a file's fixes all ask it of the same text (its hash is kept)."""
    from clip_lint.sources.textedits import line_starts

    return line_starts(text)


def _position_in(starts: Sequence[int], offset: int) -> Tuple[int, int]:
    line = bisect.bisect_right(starts, offset) - 1
    return line + 1, offset - starts[line]


def _as_written(edit: TextEdit, text: str) -> TextEdit:
    """The edit with the line breaks ``--fix`` writes: those of the line it is put on (FixPlan.new_texts)."""
    endings = [match.group() for match in LINE_BREAK.finditer(text)]
    ending = endings[min(max(edit.start[0], 1), len(endings)) - 1] if endings else "\n"
    if ending == "\n" or "\n" not in edit.text:
        return edit
    return TextEdit(edit.start, edit.end, LINE_BREAK.sub(ending, edit.text))


def text_changes(before: str, after: str) -> List[FileEdit]:
    """The fewest ranges of ``before`` to replace, each with its new text, to make ``after``.

    Lines are compared first, then each changed run of lines is trimmed to the characters that
    differ, so adding ``keepdim=True`` is one insertion, not a rewritten line.
    """
    import difflib

    from clip_lint.sources.textedits import split_lines_keepends

    old_lines, new_lines = split_lines_keepends(before), split_lines_keepends(after)
    old_starts = [0]
    for piece in old_lines:
        old_starts.append(old_starts[-1] + len(piece))
    new_starts = [0]
    for piece in new_lines:
        new_starts.append(new_starts[-1] + len(piece))
    changes = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_starts[i1], old_starts[i2]
        new_start, new_end = new_starts[j1], new_starts[j2]
        while start < end and new_start < new_end and before[start] == after[new_start]:
            start, new_start = start + 1, new_start + 1
        while start < end and new_start < new_end and before[end - 1] == after[new_end - 1]:
            end, new_end = end - 1, new_end - 1
        (line, col), (end_line, end_col) = _position(before, start), _position(before, end)
        changes.append(FileEdit(line, col, end_line, end_col, after[new_start:new_end]))
    return changes


def _position(text: str, offset: int) -> Tuple[int, int]:
    """The (1-based line, 0-based column) of a character offset, lines broken as libcst breaks them."""
    return _position_in(_line_starts(text), offset)


def _fix_applies(fix: Fix, lines: Sequence[CodeLine], document: Document, settings: Settings) -> bool:
    """Whether ``--fix`` would apply ``fix``: allowed by the flags, and its edits map onto the file."""
    from clip_lint.fix.fixer import fix_is_mappable, is_applicable

    return is_applicable(fix, settings.unsafe_fixes) and fix_is_mappable(fix, lines, document)


def _source_line(finding: Finding, lines: Sequence[CodeLine]) -> str:
    if not 1 <= finding.line <= len(lines):
        return ""
    origin = lines[finding.line - 1]
    return " " * origin.col_offset + origin.text


def _locate(document: Document, finding: Finding, lines: Sequence[CodeLine]) -> Tuple[int, int, Optional[int], int]:
    if not lines:
        return finding.line, finding.col, None, finding.line
    origin = lines[min(max(finding.line, 1), len(lines)) - 1]
    col = finding.col + origin.col_offset
    if document.kind == NOTEBOOK:
        return origin.local_line, col, document.segments[origin.segment].label, origin.file_line
    return origin.file_line, col, None, origin.file_line


_LINE_REFERENCE = re.compile(r"\bline (\d+)\b")


def _relocate_message(document: Document, message: str, lines: Sequence[CodeLine]) -> str:
    """Rewrite ``line N`` of the joined source, as the engine words it, into the file's terms."""
    if document.kind == PYTHON or not lines:
        return message

    def relocate(match: "re.Match[str]") -> str:
        number = int(match.group(1))
        if not 1 <= number <= len(lines):
            return match.group()
        origin = lines[number - 1]
        if document.kind == NOTEBOOK:
            return f"cell {document.segments[origin.segment].label} line {origin.local_line}"
        return f"line {origin.file_line}"

    return _LINE_REFERENCE.sub(relocate, message)


def _selected(findings: List[Reported], settings: Settings) -> List[Reported]:
    return [finding for finding in findings if _enabled(finding.code, settings)]


# --- fixing ---------------------------------------------------------------------------------


@dataclass
class _Rounds:
    """What fixing in rounds did: the last document, the fixes, and findings already computed."""

    document: Document
    fixed: int
    original_findings: List[Located]
    final_findings: Optional[List[Located]]  # of ``document``, when the last round computed them


def _fix_rounds(document: Document, settings: Settings) -> _Rounds:
    """Fix in rounds until nothing fixable is left; a round that breaks parsing is undone.

    Each analysis is done once: the unfixed document's findings and, when the rounds stop
    because nothing fixable is left, the fixed document's are kept for the report.
    """
    from clip_lint.fix.fixer import plan_round

    fixed = 0
    original: Optional[List[Located]] = None
    broken: Optional[int] = None  # how many segments libcst rejects in ``document``
    for _ in range(MAX_FIX_ROUNDS):
        visible = _visible(document, settings)
        original = visible if original is None else original
        plan = plan_round(document, visible, settings.unsafe_fixes)
        if not plan.applied:
            return _Rounds(document, fixed, original, visible)
        try:
            new_text = document.render(plan.new_texts(document))
        except ValueError:
            return _Rounds(document, fixed, original, visible)
        candidate = parse_document(document.path, document.kind, new_text, document.bom, document.encoding)
        # The candidate first: when it parses, the document before it needs no parse of its own
        # (a large module's tree is the costliest thing a fix builds).
        candidate_broken = _broken_segments(candidate) if candidate.problem is None else None
        if candidate_broken != 0:
            broken = _broken_segments(document) if broken is None else broken
            if candidate_broken is None or candidate_broken > broken:
                return _Rounds(document, fixed, original, visible)
        document, fixed, broken = candidate, fixed + plan.applied, candidate_broken
    return _Rounds(document, fixed, original or [], None)


def _broken_segments(document: Document) -> int:
    """How many segments libcst rejects: a fix must never add one."""
    refuse_work()
    if document.kind == PYTHON:
        return int(_parse_error(document.text) is not None)
    return sum(_parse_error(document.analysis_source([i])[0]) is not None for i in range(len(document.segments)))
