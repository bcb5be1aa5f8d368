"""Buggy user patterns raise with an actionable message; correct ones pass, for every family."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

import runtime_check
from runtime_models import FAMILIES, FamilyCase
from runtime_patterns import BUGGY, CORRECT, Pattern

OPEN_CLIP = {"open_clip.CLIP", "open_clip.CustomTextCLIP", "open_clip.CoCa"}
HAS_LOGIT_SCALE = OPEN_CLIP | {"clip.model.CLIP", "CLIPModel", "CLIPModel-4.x-tensors", "SiglipModel"}
MODES = ["guard", "assert_mode"]


def _applies(case: FamilyCase, pattern: Pattern) -> bool:
    if pattern.open_clip_only and case.name not in OPEN_CLIP:
        return False
    return not (pattern.needs_logit_scale and case.name not in HAS_LOGIT_SCALE)


def _cases(patterns, modes=MODES):
    return [
        pytest.param(case, pattern, mode, id=f"{case}-{pattern}-{mode}")
        for case in FAMILIES for pattern in patterns if _applies(case, pattern) for mode in modes
    ]


@contextlib.contextmanager
def checking(mode: str, model):
    if mode == "guard":
        runtime_check.guard(model)
        try:
            yield
        finally:
            runtime_check.unguard(model)
    else:  # "check_recognized": recognized normalizations are measured too
        with runtime_check.assert_mode(check_recognized=mode == "check_recognized"):
            yield


@pytest.mark.parametrize("case, pattern, mode", _cases(BUGGY))
def test_buggy_pattern_raises(case: FamilyCase, pattern: Pattern, mode: str) -> None:
    model = case.build()
    with checking(mode, model), torch.no_grad():
        a, b = case.two_sides(model)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
            pattern.run(a, b, model)
    message = str(caught.value)
    assert message.startswith(f"{pattern.operand} operand"), message
    assert pattern.cause in message, message
    for step in pattern.chain:
        assert step in message.split("ops since:")[1].splitlines()[0], message
    assert f"{Path(__file__).parent / 'runtime_patterns.py'}:" in message  # the user's similarity line
    assert f"called at {Path(__file__).parent}" in message  # where the encoder was called
    assert "fix:" in message


@pytest.mark.parametrize("case, pattern, mode", _cases(CORRECT, MODES + ["check_recognized"]))
def test_correct_pattern_passes(case: FamilyCase, pattern: Pattern, mode: str) -> None:
    model = case.build()
    with checking(mode, model), torch.no_grad():
        a, b = case.two_sides(model)
        pattern.run(a, b, model)
        runtime_check.verify()


@pytest.mark.parametrize("case", FAMILIES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_features_are_tracked_from_every_encoder(case: FamilyCase, mode: str) -> None:
    """The encoder outputs themselves carry provenance: proof that each family is instrumented."""
    from runtime_check.tracking import provenance_of

    model = case.build()
    with checking(mode, model), torch.no_grad():
        a, b = case.two_sides(model)
        assert provenance_of(a) is not None and provenance_of(b) is not None
        assert provenance_of(a).chain[0] in {"encode_image", "encode_text", "get_image_features",
                                             "get_text_features", "forward"}
    plain_a, _ = case.two_sides(model)
    assert provenance_of(plain_a) is None  # nothing is tracked once checking is off


@pytest.mark.parametrize("case", [case for case in FAMILIES if case.own_forward], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_model_forward_is_never_flagged(case: FamilyCase, mode: str) -> None:
    """The model's own normalization and similarity run unchecked, and its outputs compare fine."""
    from runtime_models import images, tokens

    model = case.build()
    with checking(mode, model), torch.no_grad():
        if case.name in OPEN_CLIP:
            out = model(images(3), tokens(3))  # CoCa pairs images with their captions
            if isinstance(out, dict):
                out = out["image_features"], out["text_features"], out["logit_scale"]
            image, text, scale = out[:3]
            logits = (scale * image @ text.T)[:2]
        elif case.name == "clip.model.CLIP":
            logits, _ = model(images(), tokens())
        elif case.image_features and case.text_features:
            logits = model(pixel_values=images(), input_ids=tokens()).logits_per_image
        else:
            logits = None
            out = model(pixel_values=images()) if case.image_features else model(input_ids=tokens())
            assert out.last_hidden_state is not None
        if logits is not None:
            assert logits.shape == (2, 3)
        runtime_check.verify()
