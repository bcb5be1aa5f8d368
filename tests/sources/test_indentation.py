"""Indentation that Python accepts and libcst rejects (tabs mixed into spaces, form feeds)
is analysed as Python reads it; findings keep their true place and fixes the user's whitespace."""

from __future__ import annotations

import ast

import pytest

from clip_lint.project.checking import analyze_source
from clip_lint.sources.indentation import expand_indentation, indentation_width
from clip_lint.sources.textedits import apply_edits

MIXED = (
    "def score(model, images, tokens):\n"
    "    image_features = model.encode_image(images, normalize=True)\n"
    "    if tokens is not None:\n"
    "{ws}text_features = model.encode_text(tokens)\n"
    "{ws}return image_features @ text_features.T\n"
)


@pytest.mark.parametrize("whitespace, width", [("\t", 8), ("   \t   ", 11), ("\f    ", 4), ("  \f\t ", 9), ("", 0)])
def test_width_is_cpythons(whitespace: str, width: int) -> None:
    assert indentation_width(whitespace) == width


@pytest.mark.parametrize("whitespace", ["   \t   ", "\f        ", "\f    \t"])
def test_findings_keep_their_true_line_and_column(whitespace: str) -> None:
    source = MIXED.format(ws=whitespace)
    ast.parse(source)  # Python accepts it
    plain = MIXED.format(ws=" " * indentation_width(whitespace))
    (finding,) = analyze_source(source)
    (plain_finding,) = analyze_source(plain)
    assert (finding.code, finding.line) == (plain_finding.code, plain_finding.line) == ("CLN001", 5)
    assert source.split("\n")[4][finding.col:].startswith("@ ")  # at the operator
    assert source.split("\n")[4][:finding.col].endswith("image_features ")


def test_the_fix_writes_new_lines_with_the_users_whitespace() -> None:
    source = MIXED.format(ws="   \t   ")
    (finding,) = analyze_source(source)
    fixed = apply_edits(source, finding.fix.edits)
    assert fixed.splitlines() == [
        *source.splitlines()[:4],
        "   \t   text_features = text_features / text_features.norm(dim=-1, keepdim=True)",
        source.splitlines()[4],
    ]
    ast.parse(fixed)


def test_a_form_feed_line_is_analysed() -> None:
    source = (
        "def zero_shot(model, images, tokens):\n"
        "    img = model.encode_image(images)\n"
        "    if tokens is not None:\n"
        "\f        txt = model.encode_text(tokens)\n"
        "    return img @ txt.T\n"
    )
    assert [(f.code, f.line, f.col) for f in analyze_source(source)] == [("CLN001", 5, 15)]


def test_strings_and_brackets_are_left_as_they_are() -> None:
    source = "if x:\n   \t   y = f('''\n\tkept\n''', (1,\n\t\t2))\n"
    reindented = expand_indentation(source)
    assert reindented is not None
    assert reindented.text == "if x:\n           y = f('''\n\tkept\n''', (1,\n\t\t2))\n"
    assert reindented.position(2, 11) == (2, 7)


def test_what_python_rejects_is_still_cln900() -> None:
    source = "def f(model, t):\n    if t:\n        a = model.encode_image(t)\n\treturn a @ a.T\n"
    with pytest.raises(TabError):
        ast.parse(source)
    assert [f.code for f in analyze_source(source)] == ["CLN900"]
