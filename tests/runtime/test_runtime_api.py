"""API edges: validated settings, explicit re-guarding, modes that restore exactly, unguard, threads."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import build_open_clip, images, tokens
from runtime_check.settings import current_settings, global_settings, modes_active
from runtime_check.tracking import provenance_of

BAD_TOLERANCES = ["abc", math.nan, math.inf, -1, 0, -0.0, True, {torch.float16: math.nan},
                  {"float32": -1e-3}, {"float32": "x"}]


@pytest.mark.parametrize("tolerance", BAD_TOLERANCES, ids=repr)
def test_invalid_tolerances_are_value_errors_naming_the_argument(tolerance) -> None:
    for call in (lambda: runtime_check.guard(build_open_clip(), tolerance=tolerance),
                 lambda: runtime_check.assert_mode(tolerance=tolerance),
                 lambda: runtime_check.configure(tolerance=tolerance)):
        with pytest.raises(ValueError, match=r"tolerance.* must be a finite positive number"):
            call()
    assert global_settings() == runtime_check.configure()  # nothing was half-applied


def test_invalid_flags_are_value_errors() -> None:
    with pytest.raises(ValueError, match="strict must be"):
        runtime_check.assert_mode(strict="yes")
    with pytest.raises(ValueError, match="check_recognized must be"):
        runtime_check.guard(build_open_clip(), check_recognized=1)


def _slightly_off(model) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rows stretched by 1% through a tensor (numerics decide, tolerance 1e-3 fails them)."""
    with torch.no_grad():
        image = F.normalize(model.encode_image(images()), dim=-1) * torch.full((1, 24), 1.01)
        text = F.normalize(model.encode_text(tokens()), dim=-1)
    return image, text


def _passes(model) -> bool:
    image, text = _slightly_off(model)
    try:
        image @ text.T
    except runtime_check.UnnormalizedFeaturesError:
        return False
    return True


def test_guarding_again_updates_only_the_settings_given() -> None:
    model = runtime_check.guard(build_open_clip(), tolerance=0.02)
    assert _passes(model)
    runtime_check.guard(model)  # no settings: keeps tolerance=0.02
    assert _passes(model)
    runtime_check.guard(model, check_recognized=True)  # one setting: the others stay
    assert _passes(model)
    runtime_check.guard(model, tolerance=1e-3)
    assert not _passes(model)
    runtime_check.unguard(model)
    runtime_check.guard(model)  # after unguard: a fresh guard, default settings
    assert not _passes(model)


def test_a_guard_inside_a_mode_does_not_keep_the_modes_settings() -> None:
    model = build_open_clip()
    with runtime_check.assert_mode(tolerance=0.02):
        runtime_check.guard(model)
        assert _passes(model)  # inside the mode its tolerance applies
    assert not modes_active() and current_settings() == global_settings()
    assert not _passes(model)  # after it, the default again
    with runtime_check.assert_mode(tolerance=1e-3):
        runtime_check.guard(model, tolerance=0.02)
        assert _passes(model)  # the guard's own setting wins over the mode's
    assert _passes(model)


def test_modes_restore_exactly_what_they_changed() -> None:
    runtime_check.configure(tolerance={"float32": 0.005})
    before = global_settings()
    outer = runtime_check.assert_mode(tolerance=0.02, strict=True)
    with outer:
        with runtime_check.assert_mode(check_recognized=True):
            inner = current_settings()
            assert inner.uniform_tolerance == 0.02 and inner.strict and inner.check_recognized
        assert current_settings().check_recognized is False
    assert global_settings() is before and current_settings() is before and not modes_active()
    with outer:  # the same object, entered again
        assert current_settings().strict
    assert current_settings() is before


def test_features_are_plain_after_unguard() -> None:
    model = runtime_check.guard(build_open_clip())
    with torch.no_grad():
        image = model.encode_image(images())
        scaled = 100.0 * image
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        image @ image.T  # noqa: CLN001 (deliberate)
    runtime_check.unguard(model)
    assert provenance_of(image) is None and provenance_of(scaled) is None
    logits = image @ scaled.T  # noqa: CLN001 (deliberate) - unchecked now
    assert type(logits) is torch.Tensor
    assert type(image + 1) is torch.Tensor and provenance_of(image.float()) is None


def test_features_made_in_a_mode_are_checked_only_while_a_mode_is_active() -> None:
    model = build_open_clip()
    with runtime_check.assert_mode():
        with torch.no_grad():
            image = model.encode_image(images())
    image @ image.T  # noqa: CLN001 (deliberate) - no mode active: plain
    with runtime_check.assert_mode():
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            image @ image.T  # noqa: CLN001 (deliberate)


def _in_thread(function):
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_assert_mode_is_per_thread() -> None:
    model = build_open_clip()

    def raw_features():
        with torch.no_grad():
            return model.encode_image(images())

    with runtime_check.assert_mode():
        assert provenance_of(raw_features()) is not None
        other_thread = _in_thread(raw_features)
        assert provenance_of(other_thread) is None  # the other thread entered no mode
        (other_thread @ other_thread.T)  # noqa: CLN001 (deliberate) - unchecked there

    def checked_in_its_own_mode():
        with runtime_check.assert_mode():
            features = raw_features()
            with pytest.raises(runtime_check.UnnormalizedFeaturesError):
                features @ features.T  # noqa: CLN001 (deliberate)
            return modes_active()

    assert _in_thread(checked_in_its_own_mode) is True
    assert not modes_active()
    assert provenance_of(raw_features()) is None  # its mode never leaked into this thread


def test_assert_mode_follows_asyncio_tasks_started_inside_it() -> None:
    model = build_open_clip()

    async def encode():
        with torch.no_grad():
            return model.encode_image(images())

    async def main():
        with runtime_check.assert_mode():
            inside = await asyncio.create_task(encode())
        outside = await asyncio.create_task(encode())
        return inside, outside

    inside, outside = asyncio.run(main())
    assert provenance_of(outside) is None
    with runtime_check.assert_mode():
        assert provenance_of(inside) is not None
