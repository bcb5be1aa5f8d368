"""guard() of TorchScript modules: traced, scripted, and what `clip.load(..., jit=True)` returns.

Their code runs in TorchScript, where the checker sees nothing; what their compiled encoder
methods return to Python is tracked.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import EMBED_DIM, IMAGE_SIZE, build_openai_clip, images, tokens
from runtime_check.tracking import provenance_of


@pytest.fixture(autouse=True)
def _quiet_jit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation warnings
        yield


def traced_openai_clip() -> torch.jit.ScriptModule:
    """OpenAI CLIP traced on the three methods its released JIT archives have."""
    model = build_openai_clip()
    model.register_buffer("input_resolution", torch.tensor(IMAGE_SIZE))  # clip.load reads it
    pixels, ids = images(), tokens()
    return torch.jit.trace_module(model, {"forward": (pixels, ids), "encode_image": (pixels,),
                                          "encode_text": (ids,)})


class ScriptableCLIP(torch.nn.Module):
    """A small CLIP that torch.jit.script compiles, encoders exported."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.visual = torch.nn.Linear(3 * IMAGE_SIZE * IMAGE_SIZE, EMBED_DIM)
        self.text = torch.nn.EmbeddingBag(99, EMBED_DIM)

    @torch.jit.export
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual(image.flatten(1))

    @torch.jit.export
    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        return self.text(text)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        image_features = F.normalize(self.encode_image(image), dim=-1)
        text_features = F.normalize(self.encode_text(text), dim=-1)
        return image_features @ text_features.t()


def clip_load_jit(tmp_path) -> torch.jit.ScriptModule:
    """The model `clip.load(path, jit=True)` returns: the archive loaded, its graphs patched for CPU."""
    clip = pytest.importorskip("clip")
    path = tmp_path / "tiny-ViT.pt"
    torch.jit.save(traced_openai_clip(), str(path))
    model, _ = clip.load(str(path), device="cpu", jit=True)
    return model


COMPILED = {
    "traced": lambda tmp_path: traced_openai_clip(),
    "scripted": lambda tmp_path: torch.jit.script(ScriptableCLIP().eval()),
    "clip.load(jit=True)": clip_load_jit,
}


@pytest.mark.parametrize("kind", COMPILED)
def test_raw_features_from_a_compiled_model_are_caught(kind: str, tmp_path) -> None:
    model = runtime_check.guard(COMPILED[kind](tmp_path))
    with torch.no_grad():
        image, text = model.encode_image(images()), model.encode_text(tokens())
        assert provenance_of(image).chain == ("encode_image",)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="never L2-normalized") as caught:
            image @ text.T  # noqa: CLN001 (deliberate)
    assert ".encode_image() called at" in str(caught.value)


@pytest.mark.parametrize("kind", COMPILED)
def test_unit_features_and_forward_of_a_compiled_model_pass(kind: str, tmp_path) -> None:
    model = COMPILED[kind](tmp_path)
    with torch.no_grad():
        expected = model(images(), tokens())
        runtime_check.guard(model)
        image, text = model.encode_image(images()), model.encode_text(tokens())
        F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        logits = model(images(), tokens())  # its own forward: TorchScript, unchecked
    for got, want in zip(logits if isinstance(logits, tuple) else [logits],
                         expected if isinstance(expected, tuple) else [expected]):
        assert torch.equal(got, want)


@pytest.mark.parametrize("kind", COMPILED)
def test_methods_looked_up_before_guard_are_guarded_too(kind: str, tmp_path) -> None:
    """A ScriptModule caches each method it looks up on the instance: guard() must see past it."""
    model = COMPILED[kind](tmp_path)
    compiled_class = type(model)
    with torch.no_grad():
        model.encode_image(images())  # now cached in the instance's __dict__
        runtime_check.guard(model)
        assert provenance_of(model.encode_image(images())) is not None
        runtime_check.unguard(model)
        assert type(model) is compiled_class
        assert provenance_of(model.encode_image(images())) is None


def test_assert_mode_checks_a_compiled_model_that_was_guarded() -> None:
    model = runtime_check.guard(traced_openai_clip())
    with runtime_check.assert_mode(), torch.no_grad():
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            model.encode_image(images()) @ model.encode_text(tokens()).T  # noqa: CLN001 (deliberate)


def test_a_compiled_module_without_encoders_is_refused_with_what_to_do() -> None:
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 3)))
    with pytest.raises(ValueError) as caught:
        runtime_check.guard(scripted)
    message = str(caught.value)
    assert "is a TorchScript module" in message
    assert "Guard the Python model instead, before scripting or tracing it" in message
    assert "clip.load(..., jit=False)" in message
