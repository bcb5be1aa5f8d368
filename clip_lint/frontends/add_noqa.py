"""``--add-noqa``: append ``# noqa: CODE`` to the line of each finding, and change nothing else.

A line that already has ``# noqa: CODES`` gets the new codes added to that comment. Cells and
Markdown code blocks count as lines, so the comment lands in the cell or block, and the
notebook or Markdown file is rewritten only there. Running it twice adds nothing.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import replace
from typing import Dict, Set, Tuple

from clip_lint.sources.documents import PYTHON, Document, load_document, parse_document
from clip_lint.frontends.runner import (
    CHECK, PARSE_ERROR, UNUSED_NOQA, FileResult, Settings, _broken_segments, _digest, _visible,
)  # fmt: skip
from clip_lint.config.selection import NOQA, noqa_codes
from clip_lint.sources.textedits import split_lines_keepends

LineKey = Tuple[int, int]  # (segment index, 1-based line in the segment)


def add_noqa_path(path: str, settings: Settings) -> FileResult:
    """The file with the noqa comments it needs in ``output``; ``fixed`` counts the lines changed.

    Like a fix, the new text is written by the parent process (``runner.write_fix``), and only
    if the file still holds the bytes read here.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return FileResult(path, errors=[f"cannot read it: {error.strerror or error}"], checked=False)
    document = load_document(path, data)
    result = FileResult(path, document.kind, encoding=document.encoding, digest=_digest(data))
    if document.problem is not None:
        return result
    wanted = _codes_by_line(document, replace(settings, mode=CHECK))
    new_texts = {}
    for segment, lines in _group_by_segment(wanted).items():
        text = document.segments[segment].text
        new_text, changed = _with_comments(text, lines, document.kind == PYTHON)
        if changed:
            new_texts[segment], result.fixed = new_text, result.fixed + changed
    if not new_texts:
        return result
    new_text = document.render(new_texts)
    candidate = parse_document(path, document.kind, new_text, document.bom, document.encoding)
    if candidate.problem is not None or _broken_segments(candidate) > _broken_segments(document):
        result.fixed = 0
        result.errors.append("adding noqa comments would break the file; left unchanged")
        return result
    result.output = ("\ufeff" if document.bom else "") + new_text
    return result


def _codes_by_line(document: Document, settings: Settings) -> Dict[LineKey, Set[str]]:
    wanted: Dict[LineKey, Set[str]] = {}
    for finding, lines in _visible(document, settings):
        if finding.code in (PARSE_ERROR, UNUSED_NOQA) or not 1 <= finding.line <= len(lines):
            continue  # an unused noqa is removed by --fix, never silenced by another noqa
        origin = lines[finding.line - 1]
        if origin.editable:
            wanted.setdefault((origin.segment, origin.local_line), set()).add(finding.code)
    return wanted


def _group_by_segment(wanted: Dict[LineKey, Set[str]]) -> Dict[int, Dict[int, Set[str]]]:
    grouped: Dict[int, Dict[int, Set[str]]] = {}
    for (segment, line), codes in wanted.items():
        grouped.setdefault(segment, {})[line] = codes
    return grouped


def _with_comments(text: str, wanted: Dict[int, Set[str]], python_file: bool) -> Tuple[str, int]:
    """``text`` with the codes of ``wanted`` (line -> codes) in each line's noqa comment."""
    lines = split_lines_keepends(text)
    inside_strings = _lines_ending_inside_strings(text)
    changed = 0
    for number, codes in sorted(wanted.items()):
        if not 1 <= number <= len(lines) or number in inside_strings:
            continue
        new_line = with_noqa(lines[number - 1], codes)
        if new_line != lines[number - 1]:
            lines[number - 1], changed = new_line, changed + 1
    return "".join(lines), changed


def with_noqa(line: str, codes: Set[str]) -> str:
    """``line`` with ``# noqa: CODES`` appended, or its codes merged into the noqa it has."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    existing = noqa_codes(body)
    if existing == ():  # a blanket noqa already silences every code
        return line
    if existing:
        merged = ", ".join(sorted(set(existing) | codes))
        match = NOQA.search(body)
        assert match is not None
        return f"{body[:match.start()]}# noqa: {merged}{body[match.end():]}{ending}"
    return f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}{ending}"


def _lines_ending_inside_strings(text: str) -> Set[int]:
    """Lines whose end lies inside a multi-line string: a comment there would change the string."""
    inside: Set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        pass
    return inside
