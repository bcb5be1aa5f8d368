"""The gate's text test for "may compare": a module whose only ``@`` are decorators needs no
parse, and no ``@`` operator is ever taken for a decorator, whatever the layout."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clip_lint.prefilter.gate import _names_comparison, compares, may_compare


@pytest.mark.parametrize(
    "source",
    [
        "@property\ndef f(self):\n    pass\n",
        "class A:\n    @staticmethod\n    # a comment\n\n    @torch.no_grad()\n    def f():\n        pass\n",
        '@pytest.mark.parametrize("case", [1, (2)])  # (\ndef test(case):\n    pass\n',
        "@dataclass(frozen=True)\nclass Config:\n    name: str = ')'\n",
    ],
)
def test_decorators_alone_need_no_parse(source: str) -> None:
    assert not may_compare(source)
    assert not compares(ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        "s = a @ b\n",
        "s = (a\n@b)\ndef f():\n    pass\n",  # an operator that opens a line
        "s = a \\\n@b\ndef f():\n    pass\n",  # after a backslash
        "s = (a\n    @b\n    @c)\n",
        "@register(a @ b)\ndef f():\n    pass\n",  # inside a decorator's expression
        's = (a\n@b.c("("))\ndef f():\n    pass\n',  # a bracket in a string on the closing line
        "s = (a\n@b).h('(\\'')\ndef f():\n    pass\n",  # ... in a string it can't read
        "s = (a\n@b)  # (\ndef f():\n    pass\n",  # ... in a comment
        "n = x.norm (dim=-1)\n",
        "n = (x.norm  # why\n    (dim=-1))\n",
    ],
)
def test_a_comparison_in_any_layout_is_seen(source: str) -> None:
    assert compares(ast.parse(source))
    assert may_compare(source)


# --- the property: whatever the layout, an ``@`` operator is never passed over ---------------

NAMES = st.sampled_from(["a", "b", "x.y", "f(a)", "t[0]", "(a)"])
GAPS = st.sampled_from([" ", "", "\n", "\n    ", " \\\n", "  # (\n", "  # )\n", '  # "\n'])
STRINGS = st.sampled_from(['"("', "')'", '"]"', "'#'", '"@"', "''", r"'\'('", r"'(\''", '"""(("""'])


@st.composite
def decorator(draw) -> str:
    name = draw(st.sampled_from(["dec", "torch.no_grad", "mark.parametrize"]))
    if draw(st.booleans()):
        args = ", ".join(draw(st.lists(st.one_of(NAMES, STRINGS), max_size=3)))
        gap = draw(st.sampled_from(["", "\n    "]))
        name += f"({gap}{args})"
    comment = draw(st.sampled_from(["", "  # (", "  # )", "  # @x"]))
    return f"@{name}{comment}\n"


@st.composite
def product(draw) -> str:
    """``left @ right`` inside brackets, with any line break and comment around the ``@``."""
    left, right = draw(NAMES), draw(NAMES)
    before, after = draw(GAPS), draw(st.sampled_from([" ", ""]))
    closing = draw(st.sampled_from([")", ") + g(", ").h(" + draw(STRINGS) + ")"]))
    tail = "1)" if closing.endswith("(") else ""
    comment = draw(st.sampled_from(["", "  # (", "  # ((", "  # [{"]))
    if draw(st.booleans()):  # continued by a backslash, outside brackets
        return f"s = {left} \\\n@{after}{right}{comment}\n"
    return f"s = ({left}{before}@{after}{right}{closing}{tail}{comment}\n"


@st.composite
def module(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["function", "product", "assign"]))
        if kind == "function":
            decorators = "".join(draw(st.lists(decorator(), max_size=2)))
            parts.append(decorators + "def f():\n    pass\n")
        elif kind == "product":
            parts.append(draw(product()))
        else:
            parts.append(f"v = {draw(STRINGS)}\n")
    return "".join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(module())
def test_an_at_operator_is_never_taken_for_a_decorator(source: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        assume(False)
        return
    if compares(tree):
        assert may_compare(source)


FRAGMENTS = st.sampled_from(
    ["norm", "normalize", "mm", "bmm", "dot", "inner", "matmul", "einsum", "x", "_", "1", ".", "(", " ", "\n",
     "\\\n", "# c\n", "é", "Norm", "tensordot"]
)


#: What ``_names_comparison`` means, as one regex (the gate's test before it was made faster).
COMPARING_WORDS = re.compile(r"matmul|einsum|tensordot|normalize|\b(?:b?mm|dot|inner|norm)(?:[\s\\]|#[^\r\n]*)*\(")


@given(st.lists(FRAGMENTS, max_size=12).map("".join))
def test_the_fast_name_test_agrees_with_its_regex(text: str) -> None:
    assert _names_comparison(text) == bool(COMPARING_WORDS.search(text))
