"""The ast-based locator agrees with libcst's PositionProvider wherever it answers."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from clip_lint.sources.indentation import expand_indentation
from clip_lint.engine.locator import Locator, kind_key

ROOT = Path(__file__).resolve().parents[2]
TRICKY = '''\
"""Docstring: é ü ✓"""
import torch.nn.functional as F
from a.b import c as d
x = "héllo ✓"; y = model.encode_image(imgs)  # ünïcode
s = (y @ y.T)
t = f"{model.encode_text(tok).norm(dim=-1)} and {(a @ b)!r}"
@decorate(call(1))
def f(a=g(h(2)), *, b=a.b.c):
    return ((a / b.norm(dim=-1, keepdim=True)) @ z)
z /= z.norm(
    dim=-1,
    keepdim=True,
)
w: int = q(1)(2)(3)
'''


def sources() -> list:
    texts = [TRICKY]
    texts += [as_parsed(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "fixtures").glob("*.py"))]
    return texts


def as_parsed(text: str) -> str:
    """The text the engine parses: reindented where only its indentation stops libcst."""
    reindented = expand_indentation(text)
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        assert reindented is not None
        return reindented.text
    return text


@pytest.mark.parametrize("text", sources(), ids=lambda t: t.splitlines()[0][:40])
def test_ast_positions_match_position_provider(text: str) -> None:
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    locator = Locator(module, text)
    answered = 0
    for node, where in expected.items():
        if kind_key(node) is None:
            continue
        found = locator.from_ast(node)
        if found is not None:
            answered += 1
            assert found == where, module.code_for_node(node)
    assert answered > 0


ORDER_TRAPS = '''\
@dec(a.b())
def f(x=g(1), /, y=h(2), *args, z=k(3), **kw) -> r.s():
    v = p() if q() else w()
    try:
        pass
    except e.E() as err:
        m()
    match t():
        case [1] if u():
            n()
'''


def test_walk_order_matches_source_order_in_the_traps() -> None:
    module = cst.parse_module(ORDER_TRAPS)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    from clip_lint.engine.locator import walk_in_source_order

    calls = [n for n in walk_in_source_order(module) if isinstance(n, cst.Call)]
    starts = [(expected[c].start.line, expected[c].start.column) for c in calls]
    assert len(calls) == 14 and starts == sorted(starts)
