"""A similarity finding names the operands that are not unit, all of them, and its fix
normalizes exactly those."""

from __future__ import annotations

import pytest

from clip_lint.project.checking import analyze_source
from clip_lint.sources.textedits import apply_edits

UNIT_A = (
    "import torch\n"
    "a = model.encode_image(images)\n"
    "a /= a.norm(dim=-1, keepdim=True)\n"
    "b = model.encode_text(tokens)\n"
)


@pytest.mark.parametrize(
    "sink",
    ["a @ b.T", "b @ a.T", "100.0 * a @ b.t()", "(a * b).sum(dim=-1)", "torch.sum(b * a, dim=-1)",
     "torch.matmul(a, b.T)", "a.mm(b.T)", "torch.einsum('bd,nd->bn', a, b)"],
)
def test_the_raw_operand_is_named_and_only_it_is_fixed(sink: str) -> None:
    source = UNIT_A + f"s = {sink}\n"
    (finding,) = analyze_source(source)
    assert finding.code == "CLN001"
    assert finding.message.startswith("'b' (from encode_text, line 4) reaches")
    fixed = apply_edits(source, finding.fix.edits)
    assert fixed == UNIT_A + "b = b / b.norm(dim=-1, keepdim=True)\n" + f"s = {sink}\n"


def test_an_inline_raw_operand_is_named_by_its_own_expression() -> None:
    source = UNIT_A + "s = (a * model.encode_text(more_tokens).float()).sum(-1)\n"
    (finding,) = analyze_source(source)
    assert finding.message.startswith("'model.encode_text(more_tokens)' (from encode_text, line 5)")
    assert "F.normalize(model.encode_text(more_tokens), dim=-1)" in finding.message


def test_a_transposed_inline_operand_is_advised_along_its_own_feature_dim() -> None:
    (finding,) = analyze_source(UNIT_A + "s = a @ model.encode_text(more_tokens).T\n")
    assert "use F.normalize(model.encode_text(more_tokens), dim=-1)" in finding.message


def test_both_raw_give_one_finding_that_names_both_and_fixes_both() -> None:
    source = "c = model.encode_image(images)\nd = model.encode_text(tokens)\ns = c @ d.T\n"
    (finding,) = analyze_source(source)
    assert finding.message == (
        "'c' (from encode_image, line 1) and 'd' (from encode_text, line 2) reach '@' without L2 "
        "normalization; use F.normalize(c, dim=-1) and F.normalize(d, dim=-1)"
    )
    assert finding.fix.title == "Normalize 'c' and 'd' along the feature dim"
    assert apply_edits(source, finding.fix.edits) == (
        "c = model.encode_image(images)\nc = c / c.norm(dim=-1, keepdim=True)\n"
        "d = model.encode_text(tokens)\nd = d / d.norm(dim=-1, keepdim=True)\ns = c @ d.T\n"
    )


def test_raw_and_pooled_give_one_cln001_naming_both() -> None:
    source = (
        "p = F.normalize(model.encode_text(tokens), dim=-1).mean(dim=0)\n"
        "q = model.encode_image(images)\n"
        "s = q @ p\n"
    )
    (finding,) = analyze_source(source)
    assert finding.code == "CLN001"
    assert finding.message.startswith(
        "'q' (from encode_image, line 2) and 'p' (a mean or sum of normalized embeddings from encode_text, line 1)"
    )
    fixed = apply_edits(source, finding.fix.edits)
    assert "p = p / p.norm(dim=-1, keepdim=True)" in fixed and "q = q / q.norm(dim=-1, keepdim=True)" in fixed


def test_a_self_similarity_names_its_operand_once() -> None:
    (finding,) = analyze_source("x = model.encode_image(images)\ns = x @ x.T\n")
    assert finding.message.startswith("'x' (from encode_image, line 1) reaches '@'")


def test_a_torch_value_compared_as_numpy_is_fixed_with_torch_where_it_is_bound() -> None:
    source = (
        "import numpy as np\n"
        "img = model.encode_image(images)\n"
        "txt = F.normalize(model.encode_text(tokens), dim=-1)\n"
        "s = np.dot(img.cpu().numpy(), txt.cpu().numpy().T)\n"
    )
    (finding,) = analyze_source(source)
    fixed = apply_edits(source, finding.fix.edits)
    assert "img = img / img.norm(dim=-1, keepdim=True)\n" in fixed
