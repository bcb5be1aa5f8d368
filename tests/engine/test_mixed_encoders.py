"""CLN005: raw features of different encoders added or averaged before each is normalized,
reported at the mix only when the mix is later compared."""

from __future__ import annotations

import pytest

from clip_lint.project.checking import analyze_source
from clip_lint.sources.textedits import apply_edits

RAW = "img = model.encode_image(images)\ntxt = model.encode_text(tokens)\n"


def found(source: str) -> list:
    return [(f.code, f.line) for f in analyze_source(source)]


@pytest.mark.parametrize(
    "mix",
    [
        "q = (img + txt) / 2",
        "q = torch.stack([img, txt]).mean(dim=0)",
        "q = torch.cat([img, txt], dim=0).sum(0)",
        "q = np.mean([img, txt], axis=0)",
        "q = img.clone()\nq += txt",
    ],
)
def test_a_normalized_mix_that_is_compared_is_reported_at_the_mix(mix: str) -> None:
    source = RAW + mix + "\nq = q / q.norm(dim=-1, keepdim=True)\ns = q @ gallery.T\n"
    assert found(source) == [("CLN005", 2 + mix.count("\n") + 1)]


def test_a_raw_mix_that_is_compared_is_also_cln001_at_the_op() -> None:
    assert found(RAW + "q = img + txt\nindex = faiss.IndexFlatIP(512)\nindex.add(q)\n") == [
        ("CLN005", 3), ("CLN001", 5)
    ]


@pytest.mark.parametrize(
    "use",
    [
        "torch.save(img + txt, path)",
        "probe = torch.cat([img, txt], dim=-1)\nclf.fit(probe.numpy(), labels)",
        "both = torch.cat([img, txt], dim=1).mean(0)\ns = both @ w",
        "a = model.encode_image(more)\nq = (img + a) / 2\nq = q / q.norm(dim=-1, keepdim=True)\ns = q @ g.T",
        "q = F.normalize(img, dim=-1) + F.normalize(txt, dim=-1)\nq = q / q.norm(dim=-1, keepdim=True)\ns = q @ g.T",
        "q = img + txt\ns = q @ head_weight.weight.T",
    ],
)
def test_no_mix_to_report(use: str) -> None:
    assert "CLN005" not in [code for code, _ in found(RAW + use + "\n")]


def test_two_models_of_the_same_kind_are_different_encoders() -> None:
    source = "a = vit_b.encode_image(x)\nb = vit_l.encode_image(x)\nq = F.normalize(a + b, dim=-1)\ns = q @ g.T\n"
    assert found(source) == [("CLN005", 3)]


def test_the_message_names_each_operand_and_the_fix_normalizes_each() -> None:
    source = RAW + "q = (img + txt) / 2\nq = q / q.norm(dim=-1, keepdim=True)\ns = q @ gallery.T\n"
    (finding,) = analyze_source(source)
    assert "'img' (from encode_image, line 1) and 'txt' (from encode_text, line 2)" in finding.message
    assert "reaches '@'" in finding.message
    assert finding.fix.title == "Normalize 'img' and 'txt' before combining them"
    fixed = apply_edits(source, finding.fix.edits)
    assert "img = img / img.norm(dim=-1, keepdim=True)\n" in fixed
    assert "txt = txt / txt.norm(dim=-1, keepdim=True)\n" in fixed
    assert analyze_source(fixed) == []
