"""Shapes the slicer or the ``ast`` pre-filter once dropped while the analysis needed them (found
by ``test_speedups_property.py``): each keeps its finding with every speed-up on."""

from __future__ import annotations

import textwrap

import pytest

from clip_lint.project.checking import analyze_source

RANKER = """
class Ranker:
    def __init__(self, scale=100.0):
        self.scale = scale

    def rank(self, queries, gallery):
        return self.scale * queries @ gallery.T


RANKER = Ranker()
"""
ENCODERS = """
import torch.nn.functional as F


def pictures(model, images):
    return model.encode_image(images)


def words(model, tokens):
    return model.encode_text(tokens)


def similarity(a, b):
    return a @ b.T


ENCODERS = {"image": pictures, "text": words}
"""
SHAPES = {
    # a method that only another class's method calls, on a module-global instance
    "another class's method": RANKER + """

class Pipeline:
    def run(self, model, images, tokens):
        return RANKER.rank(model.encode_image(images), model.encode_text(tokens))
""",
    # the same method kept as a bound method, never called by its name
    "bound method": RANKER + """

def run(model, images, tokens):
    rank = RANKER.rank
    return rank(model.encode_image(images), model.encode_text(tokens))
""",
    # functions named only as values in a global registry, looked up with a computed key (the
    # pre-filter took a function's name for a value that carries nothing; the slicer blanked them)
    "registry of functions": ENCODERS + """

def run(model, images, tokens, kind):
    a = ENCODERS["image"](model, images)
    b = ENCODERS[kind](model, tokens)
    a = F.normalize(a, dim=-1)
    return similarity(a, b)
""",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_slicing_keeps_what_the_finding_needs(shape: str) -> None:
    source = textwrap.dedent(SHAPES[shape])
    whole = analyze_source(source, use_slicing=False)
    assert [f.code for f in whole] == ["CLN001"]
    assert analyze_source(source) == whole
