"""Features are tracked wherever the model makes them, not only where the outermost encoder is asked.

Each way of reaching raw features that a guarded `encode_*` call does not cover has a buggy use
(raw features compared: it must raise) and its correct twin (normalized first: it must pass), on
the real model classes and on a vendored copy, under guard() and assert_mode():
- a fork's `forward` that returns one modality's features (`model(images, None)`);
- encoder methods captured before checking began (a registry built in `__init__`);
- a tower called directly (`model.visual(images)`, `vision_model` + `visual_projection`).
"""

from __future__ import annotations

import contextlib
import pickle
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
import transformers

import runtime_check
import vendored_clip
from runtime_models import FAMILIES, FamilyCase, build_hf_clip, build_open_clip, build_openai_clip, images, tokens
from runtime_check.tracking import provenance_of

MODES = ["guard", "assert_mode"]


@contextlib.contextmanager
def checking(mode: str, model: Any):
    if mode == "guard":
        runtime_check.guard(model)
        try:
            yield
        finally:
            runtime_check.unguard(model)
    else:
        with runtime_check.assert_mode():
            yield


def unit(features: torch.Tensor) -> torch.Tensor:
    return F.normalize(features, dim=-1)


VENDORED = [
    FamilyCase("vendored OpenAI model.py", lambda: vendored_clip.build(vendored_clip.VendoredCLIP),
               lambda m, p: m.encode_image(p), lambda m, t: m.encode_text(t)),
    FamilyCase("vendored open_clip", lambda: vendored_clip.build(vendored_clip.VendoredOpenClip),
               lambda m, p: m.encode_image(p), lambda m, t: m.encode_text(t)),
]
ALL_CASES = FAMILIES + VENDORED


# ---------------------------------------------------------------- forward dispatch


def _library_forks() -> list[tuple[str, Callable[[], Any], type, type]]:
    """(name, builder, buggy fork class, correct fork class): forks of the real library classes."""
    forks = [("vendored", vendored_clip.build, vendored_clip.RawOneModalityFork, vendored_clip.UnitOneModalityFork)]
    try:
        import open_clip
    except ImportError:
        open_clip = None
    if open_clip is not None:
        forks.append(("open_clip.CLIP", build_open_clip, *_forks_of(open_clip.model.CLIP, _encode_one)))
    try:
        import clip.model
    except ImportError:
        clip = None
    if clip is not None:
        forks.append(("clip.model.CLIP", build_openai_clip, *_forks_of(clip.model.CLIP, _encode_one)))
    forks.append(("CLIPModel", build_hf_clip, *_forks_of(transformers.CLIPModel, _features_of_one)))
    return forks


def _encode_one(model, image, text, normalize):
    features = model.encode_image(image) if text is None else model.encode_text(text)
    return unit(features) if normalize else features


def _features_of_one(model, image, text, normalize):
    if text is None:
        features = model.get_image_features(pixel_values=image).pooler_output
    else:
        features = model.get_text_features(input_ids=text).pooler_output
    return unit(features) if normalize else features


def _forks_of(base: type, one_modality: Callable) -> tuple[type, type]:
    """A fork of `base` whose forward returns one modality's features: raw (the bug), or unit."""

    def make(normalize: bool) -> type:
        def forward(self, image=None, text=None, **kwargs):
            if image is None or text is None:
                return one_modality(self, image, text, normalize)
            return base.forward(self, image, text, **kwargs)

        name = f"{'Unit' if normalize else 'Raw'}OneModality{base.__name__}Fork"
        return type(name, (base,), {"forward": forward, "__module__": __name__})

    return make(False), make(True)


FORKS = _library_forks()


def _fork(builder: Callable[[], Any], fork_class: type) -> Any:
    model = builder()
    model.__class__ = fork_class  # the fork's class over the library's weights and config
    return model


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, builder, raw_fork, unit_fork", FORKS, ids=[fork[0] for fork in FORKS])
def test_one_modality_forward_returning_raw_features_is_caught(name, builder, raw_fork, unit_fork, mode) -> None:
    model = _fork(builder, raw_fork)
    with checking(mode, model), torch.no_grad():
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="never L2-normalized") as caught:
            model(images(), None) @ model(None, tokens()).t()  # noqa: CLN001 (deliberate)
    assert "left and right operands" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, builder, raw_fork, unit_fork", FORKS, ids=[fork[0] for fork in FORKS])
def test_one_modality_forward_returning_unit_features_passes(name, builder, raw_fork, unit_fork, mode) -> None:
    model = _fork(builder, unit_fork)
    with checking(mode, model), torch.no_grad():
        logits = model(images(), None) @ model(None, tokens()).t()
        runtime_check.verify()
    assert logits.shape == (2, 3)


# ---------------------------------------------------------------- encoders captured early


class CapturedEncoders:
    """The model seen through encoder methods bound when this was built (before checking began),
    as a registry made at import time or in `__init__` holds them; anything else is the model's."""

    _ENCODERS = ("encode_image", "encode_text", "get_image_features", "get_text_features")

    def __init__(self, model: Any) -> None:
        self._model = model
        self._bound = {name: getattr(model, name) for name in self._ENCODERS if hasattr(model, name)}
        self._forward = model.forward

    def __getattr__(self, name: str) -> Any:
        bound = self.__dict__["_bound"]
        return bound[name] if name in bound else getattr(self.__dict__["_model"], name)

    def __call__(self, *args, **kwargs):
        return self._forward(*args, **kwargs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ALL_CASES, ids=str)
def test_raw_features_from_encoders_captured_before_checking_are_caught(case: FamilyCase, mode: str) -> None:
    model = case.build()
    registry = CapturedEncoders(model)
    with checking(mode, model), torch.no_grad():
        a, b = case.two_sides(registry)
        assert provenance_of(a) is not None and provenance_of(b) is not None
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="never L2-normalized"):
            a @ b.T  # noqa: CLN001 (deliberate)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ALL_CASES, ids=str)
def test_unit_features_from_encoders_captured_before_checking_pass(case: FamilyCase, mode: str) -> None:
    model = case.build()
    registry = CapturedEncoders(model)
    with checking(mode, model), torch.no_grad():
        a, b = case.two_sides(registry)
        assert (unit(a) @ unit(b).T).shape == (len(a), len(b))
        runtime_check.verify()


# ---------------------------------------------------------------- towers called directly


def _hf_projected_image(m, pixels):
    return m.visual_projection(m.vision_model(pixel_values=pixels).pooler_output)


TOWER_CALLS: dict[str, Callable[[Any], torch.Tensor]] = {
    "open_clip.CLIP": lambda m: m.visual(images()),
    "open_clip.CustomTextCLIP": lambda m: m.text(tokens()),
    "open_clip.CoCa": lambda m: m.visual(images())[0],  # (pooled, tokens)
    "clip.model.CLIP": lambda m: m.visual(images()),
    "CLIPModel": lambda m: _hf_projected_image(m, images()),
    "CLIPModel-4.x-tensors": lambda m: m.text_projection(m.text_model(input_ids=tokens()).pooler_output),
    "SiglipModel": lambda m: m.vision_model(pixel_values=images()).pooler_output,
    "CLIPVisionModelWithProjection": lambda m: _hf_projected_image(m, images()),
    "CLIPTextModelWithProjection": lambda m: m.text_projection(m.text_model(input_ids=tokens()).pooler_output),
    "vendored OpenAI model.py": lambda m: m.visual(images()),
    "vendored open_clip": lambda m: m.visual(images()),
}
TOWER_CASES = [case for case in ALL_CASES if case.name in TOWER_CALLS]


def test_every_case_has_a_tower_call() -> None:
    assert {case.name for case in ALL_CASES} <= set(TOWER_CALLS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", TOWER_CASES, ids=str)
def test_raw_features_from_a_tower_called_directly_are_caught(case: FamilyCase, mode: str) -> None:
    model = case.build()
    with checking(mode, model), torch.no_grad():
        features = TOWER_CALLS[case.name](model)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="never L2-normalized") as caught:
            features @ features.T  # noqa: CLN001 (deliberate)
    assert f"features from {type(model).__name__}." in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", TOWER_CASES, ids=str)
def test_unit_features_from_a_tower_called_directly_pass(case: FamilyCase, mode: str) -> None:
    model = case.build()
    with checking(mode, model), torch.no_grad():
        features = unit(TOWER_CALLS[case.name](model))
        features @ features.T
        runtime_check.verify()


# ---------------------------------------------------------------- what instrumenting towers leaves


def test_assert_mode_restores_the_towers_it_instrumented() -> None:
    model = build_openai_clip()
    tower_class = type(model.visual)
    with runtime_check.assert_mode(), torch.no_grad():
        assert provenance_of(model.visual(images())) is not None
        assert type(model.visual) is not tower_class  # swapped for the mode
    assert type(model.visual) is tower_class
    with torch.no_grad():
        assert provenance_of(model.visual(images())) is None


def test_a_copy_made_under_assert_mode_has_plain_towers() -> None:
    import copy

    model = build_openai_clip()
    tower_class = type(model.visual)
    with runtime_check.assert_mode(), torch.no_grad():
        model.visual(images())  # the mode swapped the towers
        copied = copy.deepcopy(model)
        restored = pickle.loads(pickle.dumps(model))
        assert provenance_of(copied.visual(images())) is not None  # the copy is checked by the mode
    assert type(copied.visual) is tower_class and type(restored.visual) is tower_class


def test_guarded_towers_pickle_and_unguard_restores_them() -> None:
    model = runtime_check.guard(build_hf_clip())
    restored = pickle.loads(pickle.dumps(model))
    with torch.no_grad():
        assert provenance_of(_hf_projected_image(restored, images())) is not None
    runtime_check.unguard(model)
    assert type(model.visual_projection) is torch.nn.Linear
    with torch.no_grad():
        assert provenance_of(_hf_projected_image(model, images())) is None


def test_towers_used_inside_the_models_own_forward_stay_silent() -> None:
    """The vendored forward normalizes and compares by itself, as the libraries' forwards do."""
    for cls in (vendored_clip.VendoredCLIP, vendored_clip.VendoredOpenClip):
        model = runtime_check.guard(vendored_clip.build(cls), check_recognized=True)
        with torch.no_grad():
            outputs = model(images(), tokens())
            if cls is vendored_clip.VendoredOpenClip:
                image, text, scale = outputs
                outputs = scale * image @ text.T
        runtime_check.verify()
        assert outputs[0].shape[-1] == 3


def test_model_code_that_rewrites_a_towers_output_in_place_untags_it() -> None:
    """A tower's output scaled in place inside the model is not the features that were tagged."""

    class ScaledInPlace(vendored_clip.VendoredCLIP):
        def forward(self, image, text):
            logits = self.visual(image)
            logits.mul_(100.0)
            return logits

    model = runtime_check.guard(vendored_clip.build(ScaledInPlace))
    with torch.no_grad():
        logits = model(images(), tokens())
    assert provenance_of(logits) is None
    logits @ torch.randn(vendored_clip.EMBED_DIM, 4)  # a head on logits: nothing to check
