"""The server's model of the editor's texts: LSP line breaks, position units, edits that round-trip."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clip_lint.frontends.server.texts import UTF8, UTF16, UTF32, Text, apply_replacements, replacements, units

# Line breaks LSP knows, characters str.splitlines also breaks at, and characters that take
# two UTF-16 units or several UTF-8 bytes.
PIECES = st.sampled_from(["\n", "\r\n", "\r", "\x0c", "\u2028", "\x85", "😀", "é", "x", "y", " ", "#"])
TEXTS = st.lists(PIECES, max_size=40).map("".join)
ENCODINGS = st.sampled_from([UTF8, UTF16, UTF32])


@settings(max_examples=300, deadline=None)
@given(old=TEXTS, new=TEXTS)
def test_replacements_turn_the_old_text_into_the_new(old: str, new: str) -> None:
    assert apply_replacements(old, replacements(old, new)) == new


@settings(max_examples=300, deadline=None)
@given(old=TEXTS, new=TEXTS, encoding=ENCODINGS)
def test_edits_sent_as_positions_turn_the_old_text_into_the_new(old: str, new: str, encoding: str) -> None:
    """What an editor does with a fix: positions in its units, applied last first."""
    text = Text(old)
    edits = [(text.position_at(r.start, encoding), text.position_at(r.end, encoding), r.text) for r in replacements(old, new)]
    editor = Text(old)
    for start, end, replacement in reversed(edits):
        editor.change(start, end, replacement, encoding)
    assert editor.text == new


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, encoding=ENCODINGS, data=st.data())
def test_a_position_and_its_offset_agree(text: str, encoding: str, data: st.DataObject) -> None:
    model = Text(text)
    offset = data.draw(st.integers(0, len(text)))
    if 0 < offset < len(text) and text[offset - 1:offset + 1] == "\r\n":
        offset -= 1  # the middle of a line break is no position
    assert model.offset(model.position_at(offset, encoding), encoding) == offset


def test_only_lsp_line_breaks_start_a_line() -> None:
    text = Text("a\x0cb\u2028c = 1\r\nd\re\n")
    assert text.position_at(text.text.index("c"), UTF16) == (0, 4)
    assert text.position_at(text.text.index("d"), UTF16) == (1, 0)
    assert text.position_at(text.text.index("e"), UTF16) == (2, 0)


def test_columns_count_in_the_clients_units() -> None:
    text = Text("s = '😀é' + x\n")
    column = text.text.index("x")  # 11 code points
    assert [text.position(0, column, encoding)[1] for encoding in (UTF32, UTF16, UTF8)] == [11, 12, 15]
    assert units("😀", UTF16) == 2 and units("😀", UTF8) == 4


def test_an_incremental_change_lands_where_the_client_says() -> None:
    text = Text("x = '😀'; y = 1\nz = 2\n")
    text.change((0, 14), (0, 15), "2", UTF16)  # the emoji takes two UTF-16 units: the "1" is at 14
    assert text.text == "x = '😀'; y = 2\nz = 2\n"
    text.change((5, 0), (9, 0), "w = 3\n", UTF16)  # past the end: appended
    assert text.text.endswith("z = 2\nw = 3\n")
