"""In-process tests of the command's building blocks: JSON spans, edit splicing, noqa and
selection, Markdown fences and notebook cells (no engine involved)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clip_lint.sources.documents import MARKDOWN, NOTEBOOK, load_document
from clip_lint.findings import TextEdit
from clip_lint.sources.jsonspans import Span, parse_spans
from clip_lint.config.selection import is_enabled, is_suppressed
from clip_lint.sources.textedits import apply_edits, edits_overlap, split_lines

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


def decoded(span: Span, text: str) -> object:
    return json.loads(text[span.start:span.end])


@settings(max_examples=100, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 1, 2]), ensure_ascii=st.booleans())
def test_json_spans_cover_exactly_each_value(value: object, indent: object, ensure_ascii: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    root = parse_spans(text)
    assert decoded(root, text) == value

    def check(span: Span, expected: object) -> None:
        assert decoded(span, text) == expected
        if isinstance(expected, list):
            assert span.items is not None
            for item, child in zip(span.items, expected):
                check(item, child)
        if isinstance(expected, dict):
            assert span.members is not None and set(span.members) == set(expected)
            for key, child in expected.items():
                check(span.members[key], child)

    check(root, value)


def test_invalid_json_raises_the_standard_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_spans('{"cells": [}')


def test_apply_edits_last_first_and_overlap() -> None:
    text = "a = 1\r\nb = 2\nc = 3"
    edits = [TextEdit((1, 4), (1, 5), "10"), TextEdit((3, 0), (3, 0), "# c\n"), TextEdit((2, 0), (2, 1), "bb")]
    assert apply_edits(text, edits) == "a = 10\r\nbb = 2\n# c\nc = 3"
    assert split_lines("x\x0cy\n") == ["x\x0cy"]  # a form feed is not a line break
    insert = TextEdit((2, 0), (2, 0), "x")
    assert edits_overlap([insert], [TextEdit((2, 0), (2, 0), "y")])
    assert edits_overlap([insert], [TextEdit((1, 2), (2, 3), "")])
    assert not edits_overlap([insert], [TextEdit((1, 0), (2, 0), "")])


@pytest.mark.parametrize(
    "code, select, ignore, enabled",
    [
        ("CLN001", (), (), True),
        ("CLN001", ("CLN00",), (), True),
        ("CLN001", ("CLN002",), (), False),
        ("CLN001", (), ("CLN",), False),
        ("CLN001", ("CLN001",), ("CLN",), True),
        ("CLN001", ("CLN",), ("CLN001",), False),
        ("CLN900", ("CLN9",), (), True),
    ],
)
def test_selection_prefixes(code: str, select: tuple, ignore: tuple, enabled: bool) -> None:
    assert is_enabled(code, select, ignore) is enabled


@pytest.mark.parametrize(
    "line, suppressed",
    [
        ("x = a @ b  # noqa", True),
        ("x = a @ b  # NoQA: CLN001", True),
        ("x = a @ b  # noqa:CLN002,CLN001", True),
        ("x = a @ b  # noqa: CLN002 CLN001", True),
        ("x = a @ b  # noqa: CLN0", True),
        ("x = a @ b  # noqa: E501", False),
        ("x = a @ b  # noqa: this is fine", True),
        ("x = a @ b", False),
    ],
)
def test_noqa_comments(line: str, suppressed: bool) -> None:
    assert is_suppressed("CLN001", line) is suppressed


MARKDOWN_TEXT = """\
Intro
````markdown
```python
not_a_block = 1
```
````
- item

    ```py
    indented = 2
      deeper = 3
    ```

~~~ python3 title="x"
tilde = 4
~~~
```python
unclosed = 5
"""


def test_markdown_fences_and_line_mapping() -> None:
    document = load_document("README.md", MARKDOWN_TEXT.encode(), None)
    assert document.kind == MARKDOWN
    blocks = [[(line.text, line.file_line, line.col_offset) for line in segment.lines] for segment in document.segments]
    assert blocks == [
        [("indented = 2", 10, 4), ("  deeper = 3", 11, 4)],
        [("tilde = 4", 15, 0)],
        [("unclosed = 5", 18, 0)],
    ]
    new_text = document.render({0: "indented = 2\nadded = 0\n  deeper = 3\n"})
    assert new_text.splitlines()[9:12] == ["    indented = 2", "    added = 0", "      deeper = 3"]
    assert document.render({}) == MARKDOWN_TEXT


def notebook_text(*sources: object, indent: int = 1) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s} for s in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=indent)


def test_notebook_magics_keep_line_numbers() -> None:
    text = notebook_text(["%matplotlib inline\n", "x = 1\n", "y = !ls\n", "x?\n", "for i in y:\n", "    !echo $i\n"])
    document = load_document("nb.ipynb", text.encode(), None)
    assert document.kind == NOTEBOOK
    lines = document.segments[0].lines
    assert [line.text for line in lines] == ["pass", "x = 1", "pass", "pass", "for i in y:", "    pass"]
    assert [line.editable for line in lines] == [False, True, False, False, True, False]
    assert [line.local_line for line in lines] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("source", ["a = 1\nb = 2", ["a = 1\n", "b = 2"]])
@pytest.mark.parametrize("indent", [None, 1, 2])
def test_notebook_render_keeps_the_source_layout(source: object, indent: object) -> None:
    text = notebook_text(source, "untouched = 0", indent=indent)
    document = load_document("nb.ipynb", text.encode(), None)
    new_text = document.render({0: "a = 1\nz = 9\nb = 2"})
    new = json.loads(new_text)
    expected_source = "a = 1\nz = 9\nb = 2" if isinstance(source, str) else ["a = 1\n", "z = 9\n", "b = 2"]
    assert new["cells"][0]["source"] == expected_source
    assert new_text.replace(json.dumps(new["cells"][0]["source"], indent=indent), "") != ""
    # everything outside the edited source is the same text
    old_span = load_document("nb.ipynb", text.encode(), None)._cells[0]
    assert new_text.startswith(text[:old_span.start]) and new_text.endswith(text[old_span.end:])


def test_non_python_notebooks_and_cells_are_skipped() -> None:
    text = json.dumps({"cells": [{"cell_type": "code", "source": "x <- 1"}], "metadata": {"kernelspec": {"language": "R"}}})
    assert load_document("r.ipynb", text.encode(), None).segments == []
    bash = notebook_text("%%bash\necho hi")
    assert [line.text for line in load_document("b.ipynb", bash.encode(), None).segments[0].lines] == ["", ""]


markdown_pieces = st.lists(
    st.one_of(
        st.sampled_from(["Some prose.", "", "- a list item", "    indented code", "# Heading"]),
        st.builds(
            lambda indent, fence, info, body: "\n".join(
                [" " * indent + fence + info] + [" " * (indent + extra) + code for extra, code in body] + [" " * indent + fence]
            ),
            st.integers(0, 4),
            st.sampled_from(["```", "~~~", "````"]),
            st.sampled_from(["python", "py", "bash", "", "python3"]),
            st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["x = 1", "if x:", "    y = x @ x.T", ""])), max_size=4),
        ),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(pieces=markdown_pieces, newline=st.sampled_from(["\n", "\r\n"]))
def test_markdown_lines_map_back_to_the_file(pieces: list, newline: str) -> None:
    text = newline.join(pieces) + newline
    document = load_document("doc.md", text.encode(), None)
    file_lines = split_lines(text)
    for segment in document.segments:
        for line in segment.lines:
            assert file_lines[line.file_line - 1][line.col_offset:] == line.text
            assert file_lines[line.file_line - 1][:line.col_offset].strip() == ""
    # rendering blocks unchanged gives the file back byte for byte
    assert document.render({i: s.text for i, s in enumerate(document.segments)}) == text


cell_sources = st.lists(
    st.sampled_from(["x = 1\n", "%time f()\n", "!ls\n", "y = x @ x.T\n", "é = 'ü'\n", "\n", "z"]), max_size=5
).map(lambda lines: [line if line.endswith("\n") else line + "\n" for line in lines[:-1]] + lines[-1:])


@settings(max_examples=100, deadline=None)
@given(
    sources=st.lists(st.one_of(cell_sources, cell_sources.map("".join)), min_size=1, max_size=4),
    indent=st.sampled_from([None, 1, 2]),
    edit=st.integers(0, 3),
)
def test_notebook_cells_map_back_and_render_only_what_changed(sources: list, indent: object, edit: int) -> None:
    text = notebook_text(*sources, indent=indent)
    document = load_document("nb.ipynb", text.encode(), None)
    cells = json.loads(text)["cells"]
    file_lines = text.splitlines()
    for segment in document.segments:
        source_lines = split_lines("".join(cells[segment.label - 1]["source"]))
        assert [line.local_line for line in segment.lines] == list(range(1, len(source_lines) + 1))
        for line, original in zip(segment.lines, source_lines):
            assert line.text == original or (not line.editable and line.text.strip() in ("pass", ""))
            assert json.dumps(original)[1:-1][:5] in file_lines[line.file_line - 1]
    assert document.render({i: s.text for i, s in enumerate(document.segments)}) == text
    target = edit % len(document.segments)
    changed = document.render({target: document.segments[target].text + "\nadded = 1\n"})
    new_cells = json.loads(changed)["cells"]
    for number, (old, new) in enumerate(zip(cells, new_cells), 1):
        if number == document.segments[target].label:
            assert "".join(new["source"]) == "".join(old["source"]) + "\nadded = 1\n"
        else:
            assert old == new
