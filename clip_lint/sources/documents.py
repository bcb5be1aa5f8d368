"""The file kinds clip-lint reads: Python sources, Jupyter notebooks and Markdown.

Each kind is cut into *segments* (the whole file, a notebook code cell, a fenced block).
The engine analyses segments joined in order as one source; every analysed line remembers
where it came from, so a finding maps back to ``cell 4:line 2`` or to a Markdown file's own
line, and a fix maps back onto the segment it edits. ``render`` writes changed segments
back into the file's text and leaves every other byte alone.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from clip_lint.sources.textedits import LINE_BREAK, line_starts, split_lines, split_lines_keepends

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.sources.ipython import RunLine
    from clip_lint.sources.jsonspans import Span

# The readers of notebooks and Markdown (clip_lint.sources.ipython, clip_lint.sources.jsonspans) are imported
# by the functions that read those kinds: a run over Python files alone never loads them.

PYTHON, NOTEBOOK, MARKDOWN = "python", "notebook", "markdown"
NOTEBOOK_SUFFIXES = (".ipynb",)
MARKDOWN_SUFFIXES = (".md", ".markdown")
PYTHON_SUFFIXES = (".py", ".pyi")

# Cell magics whose body is still Python; any other %%magic makes the cell foreign.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "pypy", "python", "python3"})
_LINE_MAGIC = re.compile(r"^\s*[%!?]|^\s*[\w.]+\?{1,2}\s*$|^\s*[\w.\[\], ]+=\s*[%!]")
_FENCE_OPEN = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)[^`]*$")
_MARKDOWN_PYTHON_INFO = frozenset({"python", "py", "python3", "py3"})


@dataclass(frozen=True)
class CodeLine:
    """One analysed line and where it lives in the file."""

    text: str  # as analysed: magics and shell lines are replaced by ``pass``
    segment: int  # index into Document.segments
    local_line: int  # 1-based line within the segment's text
    col_offset: int  # columns to add to reach the file's column (a fence's indentation)
    file_line: int  # 1-based line of the file's text (for a notebook: of its JSON text)
    editable: bool = True  # False for a replaced magic: a fix must not rewrite it


@dataclass
class Segment:
    """A run of code: a whole .py file, a notebook code cell or a fenced Markdown block."""

    label: Optional[int]  # the 1-based cell number (notebooks) or block number (Markdown)
    text: str  # the segment's own text, before magics are replaced
    _lines: Optional[List[CodeLine]] = None
    foreign: bool = False  # a cell run by a non-Python cell magic (%%bash): no line is Python

    @property
    def lines(self) -> List[CodeLine]:
        """The analysed lines; a whole Python file's are built only when a finding needs them."""
        if self._lines is None:
            numbered = enumerate(split_lines(self.text), 1)
            self._lines = [CodeLine(text, 0, number, 0, number) for number, text in numbered]
        return self._lines


@dataclass(frozen=True)
class Problem:
    """Why a file could not be read as its kind: reported as CLN900."""

    message: str
    line: int = 1
    col: int = 0


@dataclass
class Document:
    """A file read as its kind, ready to be analysed segment by segment."""

    path: str
    kind: str
    text: str
    segments: List[Segment] = field(default_factory=list)
    problem: Optional[Problem] = None  # the file can't be read as its kind: nothing is analysed
    notices: List[Problem] = field(default_factory=list)  # parts skipped while the rest is analysed
    skipped_blocks: int = 0  # set by the analysis: cells or blocks that don't parse and don't matter
    bom: bool = False
    encoding: str = "utf-8"  # a Python file's declared encoding (PEP 263), used to write it back
    _cells: Dict[int, Span] = field(default_factory=dict)  # segment index -> source span
    _fences: Dict[int, Tuple[int, int, str]] = field(default_factory=dict)  # first/last line, indent

    def analysis_source(self, segment_ids: Optional[Sequence[int]] = None) -> Tuple[str, List[CodeLine]]:
        """The joined source of ``segment_ids`` (default: all) and the origin of each line."""
        ids = range(len(self.segments)) if segment_ids is None else segment_ids
        if self.kind == PYTHON and list(ids) == [0]:
            return self.segments[0].text, self.segments[0].lines
        lines = [line for index in ids for line in self.segments[index].lines]
        return "".join(line.text + "\n" for line in lines), lines

    def render(self, new_texts: Dict[int, str]) -> str:
        """The file's text with the segments in ``new_texts`` replaced."""
        if not new_texts:
            return self.text
        if self.kind == PYTHON:
            return new_texts[0]
        if self.kind == NOTEBOOK:
            return _render_notebook(self, new_texts)
        return _render_markdown(self, new_texts)


def kind_of(path: str) -> str:
    """The kind a path is read as; an unknown suffix is read as Python (a script)."""
    lowered = path.lower()
    if lowered.endswith(NOTEBOOK_SUFFIXES):
        return NOTEBOOK
    if lowered.endswith(MARKDOWN_SUFFIXES):
        return MARKDOWN
    return PYTHON


def decode(data: bytes, kind: str = PYTHON) -> Tuple[Optional[str], bool, Optional[Problem], str]:
    """The text of ``data``, whether it had a BOM, the problem that stops decoding, the encoding.

    Notebooks and Markdown are UTF-8; a Python file may declare another encoding (PEP 263).
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    encoding = "utf-8"
    if kind == PYTHON and not bom:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except (SyntaxError, LookupError) as error:
            if "unknown encoding" in str(error):
                return None, bom, Problem(f"its encoding declaration is unusable: {error}"), encoding
            # otherwise the first lines are undecodable: the UTF-8 decoding below says where
    try:
        return data.decode("utf-8-sig" if bom else encoding), bom, None, encoding
    except (UnicodeDecodeError, LookupError) as error:
        start = getattr(error, "start", 0)
        reason = getattr(error, "reason", str(error))
        line = data[:start].count(b"\n") + 1
        label = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        return None, bom, Problem(f"it is not valid {label} ({reason} at byte {start})", line), encoding


def load_document(path: str, data: bytes, kind: Optional[str] = None) -> Document:
    """Read ``data`` (the file's bytes) as a document of ``kind`` (default: from the suffix)."""
    kind = kind or kind_of(path)
    text, bom, problem, encoding = decode(data, kind)
    if text is None:
        return Document(path, kind, "", problem=problem, bom=bom, encoding=encoding)
    return parse_document(path, kind, text, bom, encoding)


def parse_document(path: str, kind: str, text: str, bom: bool = False, encoding: str = "utf-8") -> Document:
    """Cut decoded ``text`` into the segments of its kind."""
    document = Document(path, kind, text, bom=bom, encoding=encoding)
    if kind == NOTEBOOK:
        _read_notebook(document)
    elif kind == MARKDOWN:
        _read_markdown(document)
    else:
        _read_python(document)
    return document


def _read_python(document: Document) -> None:
    nul = document.text.find("\0")
    if nul >= 0:  # CPython refuses them too; say where, not at 1:1
        line_start = max(document.text.rfind("\n", 0, nul), document.text.rfind("\r", 0, nul)) + 1
        line = len(split_lines(document.text[:line_start])) + 1
        document.problem = Problem("it contains a NUL byte, which Python source cannot hold", line, nul - line_start)
        return
    document.segments = [Segment(None, document.text)]


# --- notebooks ---------------------------------------------------------------------------


def _read_notebook(document: Document) -> None:
    from clip_lint.sources.jsonspans import parse_spans

    try:
        root = parse_spans(document.text)
    except (json.JSONDecodeError, IndexError) as error:
        line, col = (error.lineno, error.colno - 1) if isinstance(error, json.JSONDecodeError) else (1, 0)
        document.problem = Problem(f"the notebook is not valid JSON: {getattr(error, 'msg', error)}", line, col)
        return
    cells = root.get("cells")
    if cells is None or cells.items is None:
        document.problem = _not_a_notebook(root)
        return
    if not _is_python_notebook(root):
        return
    starts = line_starts(document.text)
    incomplete: List[Tuple[int, int]] = []  # (cell number, JSON line) of cells without type or source
    for number, cell in enumerate(cells.items, 1):
        source = cell.get("source")
        cell_type = cell.get("cell_type")
        if source is None or cell_type is None:
            incomplete.append((number, _line_at(starts, cell.start)))
            continue
        if cell_type.value != "code":
            continue
        pieces = _source_pieces(source)
        if pieces is None:
            document.problem = Problem(f"cell {number} has a malformed 'source'", _line_at(starts, cell.start))
            return
        _add_cell(document, number, source, pieces, starts)
    if incomplete:
        numbers = ", ".join(str(number) for number, _ in incomplete)
        which = f"cell {numbers} has" if len(incomplete) == 1 else f"cells {numbers} have"
        skipped = "it was" if len(incomplete) == 1 else "they were"
        message = f"{which} no 'cell_type' or no 'source', so {skipped} skipped"
        document.notices.append(Problem(message, incomplete[0][1]))


def _not_a_notebook(root: Span) -> Problem:
    version = root.get("nbformat")
    if root.get("worksheets") is not None or (version is not None and version.value in (1, 2, 3)):
        return Problem(
            f"it is an nbformat {version.value if version is not None else 3} notebook (cells in 'worksheets'), "
            "which clip-lint does not read; convert it with 'jupyter nbconvert --to notebook --nbformat 4'"
        )
    return Problem("it is not a Jupyter notebook: there is no 'cells' list at the top level")


def _is_python_notebook(root: Span) -> bool:
    metadata = root.get("metadata")
    language = None
    if metadata is not None and metadata.members is not None:
        kernelspec = metadata.get("kernelspec")
        info = metadata.get("language_info")
        for holder, key in ((kernelspec, "language"), (info, "name")):
            value = holder.get(key) if holder is not None else None
            if value is not None and isinstance(value.value, str):
                language = value.value
                break
    return language is None or language.lower().startswith("python")


def _source_pieces(source: Span) -> Optional[List[Span]]:
    """The string spans a cell's source is stored in: one string or a list of them."""
    pieces = source.items if source.items is not None else [source]
    if all(isinstance(piece.value, str) for piece in pieces):
        return pieces
    return None


def _line_at(starts: Sequence[int], offset: int) -> int:
    low, high = 0, len(starts)
    while low + 1 < high:
        middle = (low + high) // 2
        if starts[middle] <= offset:
            low = middle
        else:
            high = middle
    return low + 1


def _add_cell(document: Document, number: int, source: Span, pieces: List[Span], starts: Sequence[int]) -> None:
    text = "".join(str(piece.value) for piece in pieces)
    json_lines: List[int] = []
    for piece in pieces:
        json_line = _line_at(starts, piece.start)
        json_lines.extend([json_line] * max(len(split_lines_keepends(str(piece.value))), 0))
    index = len(document.segments)
    code_lines = []
    foreign = _is_foreign_cell(text)
    for local, (line, run) in enumerate(_as_ipython_runs(split_lines(text) if text else [], foreign), 1):
        replaced = _replace_magic(run.text, foreign)
        json_line = json_lines[local - 1] if local - 1 < len(json_lines) else _line_at(starts, source.start)
        editable = run.editable and replaced == run.text
        code_lines.append(CodeLine(replaced, index, local, run.col_offset, json_line, editable=editable))
    document.segments.append(Segment(number, text, code_lines, foreign=foreign))
    document._cells[index] = source


def _as_ipython_runs(lines: List[str], foreign: bool) -> List[Tuple[str, RunLine]]:
    """Each line of a cell and the Python IPython runs for it: dedented, prompts stripped.

    A line that only a prompt made Python is not editable: a fix would have to keep the prompt.
    """
    from clip_lint.sources.ipython import RunLine, dedent_cell, strip_prompts

    if foreign:
        return [(line, RunLine(line)) for line in lines]
    dedented = dedent_cell(lines)
    session = strip_prompts([run.text for run in dedented])
    if session is None:
        return list(zip(lines, dedented))
    return [
        (line, RunLine(prompted.text, run.col_offset + prompted.col_offset, editable=False))
        for line, run, prompted in zip(lines, dedented, session)
    ]


def _is_foreign_cell(text: str) -> bool:
    """A cell run by a non-Python cell magic (``%%bash``, ``%%html``...)."""
    first = text.lstrip().split("\n", 1)[0]
    if not first.startswith("%%"):
        return False
    name = first[2:].split(None, 1)[0] if first[2:].strip() else ""
    return name not in PYTHON_CELL_MAGICS


def _replace_magic(line: str, foreign: bool) -> str:
    """``pass`` at the line's indentation for a magic, shell, automagic or help line; else the line."""
    from clip_lint.sources.ipython import is_automagic

    if not foreign and not _LINE_MAGIC.search(line) and not is_automagic(line):
        return line
    if not line.strip():
        return line
    indent = line[: len(line) - len(line.lstrip())]
    return indent + "pass" if not foreign else ""


def _render_notebook(document: Document, new_texts: Dict[int, str]) -> str:
    text = document.text
    for index in sorted(new_texts, key=lambda i: document._cells[i].start, reverse=True):
        span = document._cells[index]
        replacement = _serialize_source(text, span, new_texts[index])
        text = text[:span.start] + replacement + text[span.end:]
    _check_only_sources_changed(document, text, new_texts)
    return text


def _serialize_source(text: str, span: Span, new_source: str) -> str:
    """The new source in the layout of the old: one string, or a list of lines."""
    ensure_ascii = "\\u" in text[span.start:span.end] and text.isascii()
    if span.items is None:
        return json.dumps(new_source, ensure_ascii=ensure_ascii)
    lines = split_lines_keepends(new_source)
    old_items = span.items
    old_lines = [str(item.value) for item in old_items]
    reused = _unchanged_lines(old_lines, lines)
    items = [
        text[old_items[reused[i]].start:old_items[reused[i]].end] if i in reused
        else json.dumps(line, ensure_ascii=ensure_ascii)
        for i, line in enumerate(lines)
    ]  # fmt: skip
    if not items:
        return "[]"
    before_first, between, after_last = _list_layout(text, span)
    return "[" + before_first + between.join(items) + after_last + "]"


def _list_layout(text: str, span: Span) -> Tuple[str, str, str]:
    """The whitespace an existing JSON list uses: after '[', between items, before ']'."""
    items = span.items or []
    if not items:
        indent = _indent_before(text, span.start)
        return "\n" + indent + " ", ",\n" + indent + " ", "\n" + indent
    before_first = text[span.start + 1:items[0].start]
    after_last = text[items[-1].end:span.end - 1]
    between = text[items[0].end:items[1].start] if len(items) > 1 else "," + before_first
    return before_first, between, after_last


def _indent_before(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[: len(line) - len(line.lstrip())]


def _check_only_sources_changed(document: Document, new_text: str, new_texts: Dict[int, str]) -> None:
    """Refuse a rewrite that would change anything but the edited cells' sources."""
    before, after = json.loads(document.text), json.loads(new_text)
    for index, source in new_texts.items():
        number = document.segments[index].label
        if number is None:
            raise ValueError("notebook segment without a cell number")
        cell = before["cells"][number - 1]
        cell["source"] = split_lines_keepends(source) if isinstance(cell["source"], list) else source
    if before != after:
        raise ValueError("rewriting the notebook would change more than the fixed cells' sources")


# --- Markdown ------------------------------------------------------------------------------


def _read_markdown(document: Document) -> None:
    file_lines = split_lines(document.text)
    number = 0
    index = 0
    while index < len(file_lines):
        opening = _FENCE_OPEN.match(file_lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing_fence(file_lines, index + 1, opening.group("fence"))
        info = opening.group("info").lower().lstrip("{.").rstrip("}")
        if info in _MARKDOWN_PYTHON_INFO:
            number += 1
            _add_block(document, number, file_lines, index + 1, end, len(opening.group("indent")))
        index = end + 1


def _closing_fence(file_lines: Sequence[str], index: int, fence: str) -> int:
    """The line index of the fence that closes a block (the end of the file if none)."""
    closing = re.compile(r"^ *" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
    while index < len(file_lines) and not closing.match(file_lines[index]):
        index += 1
    return index


def _add_block(document: Document, number: int, file_lines: Sequence[str], first: int, end: int, indent: int) -> None:
    from clip_lint.sources.ipython import doctest_lines

    segment_index = len(document.segments)
    code_lines = []
    block = file_lines[first:end]
    session = doctest_lines(block)
    for offset, line in enumerate(block):
        if session is not None:  # a doctest session: its code, not editable (a fix would lose the prompts)
            run = session[offset]
            code_lines.append(CodeLine(run.text, segment_index, offset + 1, run.col_offset, first + offset + 1, False))
            continue
        stripped = len(line) - len(line.lstrip(" ")) if indent else 0
        removed = min(stripped, indent)
        code_lines.append(CodeLine(line[removed:], segment_index, offset + 1, removed, first + offset + 1))
    text = "".join(line.text + "\n" for line in code_lines)
    document.segments.append(Segment(number, text, code_lines))
    document._fences[segment_index] = (first, end, " " * indent)


def _render_markdown(document: Document, new_texts: Dict[int, str]) -> str:
    """Put changed blocks back at their fence's indentation; unchanged lines keep their bytes."""
    newline = _dominant_newline(document.text)
    file_lines = split_lines_keepends(document.text)
    for index in sorted(new_texts, reverse=True):
        first, end, indent = document._fences[index]
        old_lines = [line.text for line in document.segments[index].lines]
        new_lines = split_lines(new_texts[index])
        reused = _unchanged_lines(old_lines, new_lines)
        block = [
            file_lines[first + reused[i]] if i in reused else (indent + line if line else line) + newline
            for i, line in enumerate(new_lines)
        ]
        file_lines[first:end] = block
    return "".join(file_lines)


def _unchanged_lines(old: Sequence[str], new: Sequence[str]) -> Dict[int, int]:
    """For each line of ``new`` that an edit left alone, the index of the same line in ``old``."""
    import difflib  # deferred: only fixing a Markdown block needs it

    matcher = difflib.SequenceMatcher(a=list(old), b=list(new), autojunk=False)
    reused: Dict[int, int] = {}
    for tag, old_start, old_end, new_start, _ in matcher.get_opcodes():
        if tag == "equal":
            reused.update({new_start + k: old_start + k for k in range(old_end - old_start)})
    return reused


def _dominant_newline(text: str) -> str:
    match = LINE_BREAK.search(text)
    return match.group() if match else "\n"
