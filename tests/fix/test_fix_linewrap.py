"""Splitting fixed lines (``clip_lint.fix.linewrap``): the split code means exactly what the one
line meant, and keeps to the length when a split can."""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from clip_lint.fix.linewrap import fit_assignment, fit_call

ATOMS = st.sampled_from(
    ["x", "image_features", "model.encode_image(images)", "'a, (b'", '"]"', "t[:, 0]", "{'k': (1, 2)}", "-1"]
)


@st.composite
def calls(draw) -> str:
    head = draw(st.sampled_from(["F.normalize", "x.norm", "np.linalg.norm", "torch.nn.functional.normalize"]))
    arguments = draw(st.lists(ATOMS, min_size=1, max_size=4))
    keywords = draw(st.lists(st.sampled_from(["dim=-1", "keepdim=True", "axis=-1", "keepdims=True"]), max_size=2))
    return f"{head}({', '.join(arguments + keywords)})"


def same_meaning(first: str, second: str) -> bool:
    return ast.dump(ast.parse(first)) == ast.dump(ast.parse(second))


@settings(max_examples=300, deadline=None)
@given(calls(), st.sampled_from(["", "    ", "        "]), st.sampled_from(["", " @ t.T", ").argmax(-1)"]),
       st.integers(30, 100))
def test_a_split_call_means_the_same(call: str, indent: str, after: str, limit: int) -> None:
    before = f"{indent}scores = (" if after.startswith(")") else f"{indent}scores = "
    line = before + call + after
    wrapped = before + fit_call(before, call, after, indent, limit) + after
    if indent:
        line, wrapped = f"if x:\n{line}", f"if x:\n{wrapped}"
    assert same_meaning(line, wrapped)
    if len(before + call + after) <= limit:
        assert wrapped == line


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["x", "very_long_image_feature_variable_name"]), calls(), st.integers(30, 100))
def test_a_split_assignment_means_the_same(target: str, call: str, limit: int) -> None:
    value = f"{target} / {call}"
    statement = f"{target} = {value}"
    assert same_meaning(statement, fit_assignment(target, value, "", limit))
    if len(statement) <= limit:
        assert fit_assignment(target, value, "", limit) == statement
