"""torch.compile policy: an op on tracked features is a graph break, run eagerly and checked;
under fullgraph=True the checker stays out of the graph."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

import runtime_check
import vendored_clip
from runtime_models import build_hf_clip, build_hf_vision_with_projection, build_openai_clip, images, tokens
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


# ---------------------------------------------------------------- fullgraph=True


def _c_compiler() -> bool:
    import shutil

    return any(shutil.which(name) for name in ("cc", "gcc", "clang"))


NEEDS_C_COMPILER = pytest.mark.skipif(not _c_compiler(), reason="inductor on CPU needs a C compiler")
FULLGRAPH_MODELS: dict[str, tuple[Callable[[], Any], Callable[[Any], torch.Tensor]]] = {
    "clip.model.CLIP": (build_openai_clip, lambda m: m(images(), tokens())[0]),  # logits only
    "CLIPModel": (build_hf_clip, lambda m: m(pixel_values=images(), input_ids=tokens()).logits_per_image),
    "vendored": (vendored_clip.build, lambda m: m(images(), tokens())[0]),
}
FULLGRAPH_CASES = [  # inductor on one model: each build takes seconds on two cores
    pytest.param("clip.model.CLIP", "aot_eager"),
    pytest.param("clip.model.CLIP", "inductor", marks=NEEDS_C_COMPILER),
    pytest.param("CLIPModel", "aot_eager"),
    pytest.param("vendored", "aot_eager"),
]


def _compiled_output(model: Any, call: Callable, backend: str) -> torch.Tensor:
    torch._dynamo.reset()
    with torch.no_grad():
        return call(torch.compile(model, backend=backend, fullgraph=True))


@pytest.mark.parametrize("name, backend", FULLGRAPH_CASES)
def test_a_guarded_model_compiles_with_fullgraph_and_computes_the_same(name: str, backend: str) -> None:
    build, call = FULLGRAPH_MODELS[name]
    unguarded = _compiled_output(build(), call, backend)
    guarded_model = runtime_check.guard(build())
    guarded = _compiled_output(guarded_model, call, backend)
    assert type(guarded) is torch.Tensor
    assert torch.equal(guarded, unguarded)
    with torch.no_grad():
        torch.testing.assert_close(guarded, call(build()))  # and what eager mode computes


def test_fullgraph_encoders_return_plain_features_and_eager_ones_stay_tracked() -> None:
    """Inside a fullgraph region the checker checks nothing; outside it nothing changed."""
    model = runtime_check.guard(build_openai_clip())
    encode = torch.compile(model.encode_image, backend=BACKEND, fullgraph=True)
    with torch.no_grad():
        compiled = encode(images())
        assert provenance_of(compiled) is None
        eager = model.encode_image(images())
        assert provenance_of(eager) is not None
        assert torch.equal(compiled, eager.as_subclass(torch.Tensor))
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            eager @ eager.T  # noqa: CLN001 (deliberate)


def test_error_on_graph_break_is_honoured_like_fullgraph() -> None:
    model = runtime_check.guard(build_openai_clip())
    with torch._dynamo.error_on_graph_break(True):
        torch._dynamo.reset()
        with torch.no_grad():
            logits = torch.compile(model, backend=BACKEND)(images(), tokens())[0]
    assert logits.shape == (2, 3)


def test_fullgraph_compiles_under_assert_mode() -> None:
    """assert_mode's class patches (encoders, scopes, tower lookups) stay out of the graph too."""
    model = build_openai_clip()
    with runtime_check.assert_mode():
        logits = _compiled_output(model, lambda m: m(images(), tokens())[0], BACKEND)
        with torch.no_grad():
            features = torch.compile(model.encode_image, backend=BACKEND, fullgraph=True)(images())
    assert provenance_of(features) is None and logits.shape == (2, 3)
