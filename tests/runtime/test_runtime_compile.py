"""torch.compile policy: an op on tracked features is a graph break, run eagerly and checked."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import build_hf_vision_with_projection, build_openai_clip, images, tokens
from runtime_check.tracking import provenance_of

BACKEND = "aot_eager"  # AOT autograd is where an untraceable subclass would break; no C++ build


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _similarity(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    return (100.0 * image @ text.T).softmax(dim=-1)


def test_similarity_inside_a_compiled_function_is_checked() -> None:
    model = runtime_check.guard(build_openai_clip())
    compiled = torch.compile(_similarity, backend=BACKEND)
    with torch.no_grad():
        image, text = model.encode_image(images()), model.encode_text(tokens())
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="never L2-normalized"):
            compiled(image, text)  # noqa: CLN001 (the raw comparison this test wants caught at run time)
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
        assert torch.equal(compiled(image, text), _similarity(image, text))


def test_compiled_model_still_returns_tracked_features() -> None:
    model = runtime_check.guard(build_hf_vision_with_projection())
    compiled = torch.compile(model, backend=BACKEND)
    with torch.no_grad():
        embeds = compiled(pixel_values=images()).image_embeds
        assert provenance_of(embeds) is not None
        assert torch.equal(embeds, model(pixel_values=images()).image_embeds)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            embeds @ embeds.T


def test_fullgraph_rejects_tracked_features_and_plain_views_compile() -> None:
    """fullgraph=True forbids graph breaks: hand it plain tensors (`x.as_subclass(torch.Tensor)`)."""
    model = runtime_check.guard(build_openai_clip())
    compiled = torch.compile(_similarity, backend=BACKEND, fullgraph=True)
    with torch.no_grad():
        image = F.normalize(model.encode_image(images()), dim=-1)
        text = F.normalize(model.encode_text(tokens()), dim=-1)
        with pytest.raises(torch._dynamo.exc.Unsupported):
            compiled(image, text)
        plain = compiled(image.as_subclass(torch.Tensor), text.as_subclass(torch.Tensor))
        assert torch.equal(plain, _similarity(image, text))
