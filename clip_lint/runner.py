"""Check one file: read it, hand its code to the engine, map findings back, fix in rounds.

This is the command's per-file pipeline. It holds no analysis of its own: findings and
fixes come from ``clip_lint.engine``; here they are located, filtered and applied.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import partial
from typing import List, Optional, Sequence, Tuple

from clip_lint.documents import NOTEBOOK, PYTHON, CodeLine, Document, Problem, load_document, parse_document
from clip_lint.engine.cache import NO_CACHE, CacheConfig, cached_parse_error, check_source
from clip_lint.findings import Finding
from clip_lint.fixer import is_applicable, plan_round, unified_diff
from clip_lint.options import AnalysisOptions
from clip_lint.selection import is_enabled, is_suppressed

PARSE_ERROR = "CLN900"
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


@dataclass
class FileResult:
    """The outcome for one file: its findings and what fixing did."""

    path: str
    kind: str = PYTHON
    findings: List[Reported] = field(default_factory=list)
    fixed: int = 0
    diff: str = ""
    output: Optional[str] = None  # the fixed text, for stdin
    write_error: Optional[str] = None
    encoding: str = "utf-8"  # the file's own, to write the fixed text back in


Located = Tuple[Finding, Sequence[CodeLine]]


def check_path(path: str, settings: Settings) -> FileResult:
    """Check (and in fix mode rewrite) the file at ``path``; never raises."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        problem = Reported(PARSE_ERROR, _cannot_analyse_message(f"cannot read it: {error.strerror or error}"), 1, 0)
        return FileResult(path, findings=_selected([problem], settings))
    result = check_bytes(path, data, settings)
    if settings.mode == FIX and result.output is not None:
        result.write_error = _write(path, result.output, result.encoding)
        result.output = None
    return result


def check_bytes(path: str, data: bytes, settings: Settings, kind: Optional[str] = None) -> FileResult:
    """Check a file's bytes; in fix or diff mode, also compute the fixed text."""
    try:
        return _check(path, data, settings, kind)
    except Exception as error:  # the engine promises not to raise; a bug must not stop the run
        message = _cannot_analyse_message(f"internal error {type(error).__name__}: {error}")
        return FileResult(path, findings=_selected([Reported(PARSE_ERROR, message, 1, 0)], settings))


def _check(path: str, data: bytes, settings: Settings, kind: Optional[str]) -> FileResult:
    original = load_document(path, data, kind)
    result = FileResult(path, original.kind, encoding=original.encoding)
    document = original
    if settings.mode != CHECK and original.problem is None:
        fixed, result.fixed = _fix_rounds(original, settings)
        before, after = _encoded_text(original), _encoded_text(fixed)
        if after != before:
            result.diff = unified_diff(path, before, after)
            if settings.mode == FIX:
                result.output = after
                document = fixed
    result.findings = [_report(document, located, settings) for located in _visible(document, settings)]
    return result


def _encoded_text(document: Document) -> str:
    return ("\ufeff" if document.bom else "") + document.text


def _write(path: str, text: str, encoding: str = "utf-8") -> Optional[str]:
    """Write the fixed text through a temporary file; the original stays if writing fails."""
    path = os.path.realpath(path)  # write through a symlink, don't replace it
    temporary = f"{path}.clip-lint-tmp"
    try:
        mode = os.stat(path).st_mode
        with open(temporary, "wb") as handle:
            handle.write(text.encode(encoding))
        os.chmod(temporary, mode)
        os.replace(temporary, path)
        return None
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        return f"cannot write the fixed file: {error}"


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
    """Report each unparseable cell or block on its own and analyse the others together."""
    located: List[Located] = []
    good: List[int] = []
    for index, segment in enumerate(document.segments):
        source, lines = document.analysis_source([index])
        reason = cached_parse_error(document.path, source, cache, partial(_parse_error, source))
        if reason is None:
            good.append(index)
            continue
        what = f"cell {segment.label}" if document.kind == NOTEBOOK else f"code block {segment.label}"
        message = _cannot_analyse_message(f"libcst cannot parse {what}, so it was skipped: {reason}")
        located.append((Finding(PARSE_ERROR, 1, 0, message), lines))
    if good:
        source, lines = document.analysis_source(good)
        located.extend((finding, lines) for finding in check_source(document.path, source, analysis, cache))
    return located


def _cannot_analyse_message(reason: str) -> str:
    from clip_lint.rules import format_message

    return format_message(PARSE_ERROR, reason=reason)


_PARSER_POSITION = re.compile(r"^(?:parser error: )?error at \d+:\d+: ")


def _parse_error(source: str) -> Optional[str]:
    """Why libcst rejects ``source`` (None when it parses)."""
    import libcst

    try:
        libcst.parse_module(source)
    except libcst.ParserSyntaxError as error:
        return _PARSER_POSITION.sub("", error.message) or "syntax error"
    except Exception as error:  # libcst raises other errors on some inputs (e.g. deep nesting)
        return f"{type(error).__name__}: {error}"
    return None


def _visible(document: Document, settings: Settings) -> List[Located]:
    """The findings the user asked for: problems first, then selected and not silenced."""
    if document.problem is not None:
        problem: Problem = document.problem
        if not _enabled(PARSE_ERROR, settings):
            return []
        return [(Finding(PARSE_ERROR, problem.line, problem.col, _cannot_analyse_message(problem.message)), ())]
    return [
        (finding, lines)
        for finding, lines in analyse(document, settings.analysis, settings.cache)
        if _enabled(finding.code, settings) and not _silenced(finding, lines)
    ]


def _enabled(code: str, settings: Settings) -> bool:
    return is_enabled(code, settings.select, settings.ignore)


def _silenced(finding: Finding, lines: Sequence[CodeLine]) -> bool:
    if 1 <= finding.line <= len(lines):
        return is_suppressed(finding.code, lines[finding.line - 1].text)
    return False


def _report(document: Document, located: Located, settings: Settings) -> Reported:
    finding, lines = located
    fix = finding.fix
    line, col, cell, file_line = _locate(document, finding, lines)
    return Reported(
        code=finding.code,
        message=_relocate_message(document, finding.message, lines),
        line=line,
        col=col,
        cell=cell,
        file_line=file_line,
        fix_title=fix.title if fix else None,
        fix_safe=fix.safe if fix else None,
        fixable=is_applicable(fix, settings.unsafe_fixes),
    )


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


def _fix_rounds(document: Document, settings: Settings) -> Tuple[Document, int]:
    """Fix in rounds until nothing fixable is left; a round that breaks parsing is undone."""
    fixed = 0
    for _ in range(MAX_FIX_ROUNDS):
        visible = _visible(document, settings)
        plan = plan_round(document, visible, settings.unsafe_fixes)
        if not plan.applied:
            break
        try:
            new_text = document.render(plan.new_texts(document))
        except ValueError:
            break
        candidate = parse_document(document.path, document.kind, new_text, document.bom, document.encoding)
        if candidate.problem is not None or _broken_segments(candidate) > _broken_segments(document):
            break
        document, fixed = candidate, fixed + plan.applied
    return document, fixed


def _broken_segments(document: Document) -> int:
    """How many segments libcst rejects: a fix must never add one."""
    if document.kind == PYTHON:
        return int(_parse_error(document.text) is not None)
    return sum(_parse_error(document.analysis_source([i])[0]) is not None for i in range(len(document.segments)))
