"""Small random-weight CLIP models of every supported family, built offline from configs.

(A plain module, not conftest.py: tests import these builders by a name no other suite uses.)

Each `FamilyCase` knows how to build its model and how to call its encoders the way a user
would; the raw features come back as tensors whatever the family's return type.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import pytest

import torch

import transformers

# CI installs every family (requirements-test.txt). The lent GPU machine has transformers only,
# so the open_clip and OpenAI families drop out of FAMILIES there instead of breaking collection.
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clip-anytorch imports the deprecated pkg_resources
        import clip.model as openai_clip
except ImportError:
    openai_clip = None
try:
    import open_clip
    from open_clip.coca_model import CoCa, MultimodalCfg
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg
except ImportError:
    open_clip = None

EMBED_DIM = 24
IMAGE_SIZE = 32
CONTEXT = 16
VOCAB = 99


@dataclass(frozen=True)
class FamilyCase:
    """One model family: a builder, and the user's way to get raw image/text features."""

    name: str
    build: Callable[[], Any]
    image_features: Callable[[Any, Any], Any] | None
    text_features: Callable[[Any, Any], Any] | None
    cast: Callable[[Any, Any], Any] | None = None  # how the family converts to a dtype
    cpu_dtypes: tuple = ("float32", "float16", "bfloat16")  # what its layers run on CPU
    own_forward: bool = True  # False: the 4.x shim, whose 5.x forward can't take its tensors

    def __str__(self) -> str:
        return self.name

    def build_in(self, dtype: Any) -> Any:
        model = self.build()
        if dtype == torch.float32:
            return model
        return self.cast(model, dtype) if self.cast else model.to(dtype)

    def two_sides(self, model: Any) -> tuple[Any, Any]:
        """Two raw feature batches to compare: image/text, or two batches of a single tower."""
        if self.image_features and self.text_features:
            return self.image_features(model, images(2)), self.text_features(model, tokens(3))
        if self.image_features:
            return self.image_features(model, images(2)), self.image_features(model, images(3))
        return self.text_features(model, tokens(2)), self.text_features(model, tokens(3))


def images(batch: int = 2, dtype=None) -> Any:
    generator = torch.Generator().manual_seed(batch)
    return torch.randn(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator, dtype=dtype)


def tokens(batch: int = 3) -> Any:
    generator = torch.Generator().manual_seed(100 + batch)
    ids = torch.randint(1, VOCAB - 1, (batch, CONTEXT), generator=generator)
    ids[:, -1] = VOCAB - 1  # OpenAI CLIP pools at argmax(token id): the end token
    return ids


def _vision_cfg() -> "CLIPVisionCfg":
    return CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=8, image_size=IMAGE_SIZE)


def _text_cfg() -> "CLIPTextCfg":
    return CLIPTextCfg(context_length=CONTEXT, vocab_size=VOCAB, width=32, heads=2, layers=1)


def _require(library: Any, name: str) -> None:
    if library is None:
        pytest.skip(f"{name} is not installed here")


def build_open_clip() -> Any:
    _require(open_clip, "open-clip-torch")
    torch.manual_seed(0)
    return open_clip.model.CLIP(EMBED_DIM, _vision_cfg(), _text_cfg()).eval()


def build_custom_text_clip() -> Any:
    _require(open_clip, "open-clip-torch")
    torch.manual_seed(1)
    return open_clip.model.CustomTextCLIP(EMBED_DIM, _vision_cfg(), _text_cfg()).eval()


def build_coca() -> Any:
    _require(open_clip, "open-clip-torch")
    torch.manual_seed(2)
    multimodal = MultimodalCfg(context_length=CONTEXT, vocab_size=VOCAB, width=32, heads=2, layers=1,
                               dim_head=16, n_queries=4, attn_pooler_heads=2)
    vision = CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=8, image_size=IMAGE_SIZE,
                           attentional_pool=True, attn_pooler_queries=4, attn_pooler_heads=2,
                           output_tokens=True)
    text = CLIPTextCfg(context_length=CONTEXT, vocab_size=VOCAB, width=32, heads=2, layers=1,
                       embed_cls=True, output_tokens=True)
    return CoCa(32, multimodal, text, vision).eval()  # CoCa's decoder needs embed_dim == width


def build_openai_clip() -> Any:
    _require(openai_clip, "clip-anytorch")
    torch.manual_seed(3)
    return openai_clip.CLIP(
        embed_dim=EMBED_DIM, image_resolution=IMAGE_SIZE, vision_layers=1, vision_width=64,
        vision_patch_size=8, context_length=CONTEXT, vocab_size=VOCAB, transformer_width=32,
        transformer_heads=2, transformer_layers=1,
    ).eval()


def _hf_text(**extra: Any) -> dict:
    return dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                vocab_size=VOCAB, max_position_embeddings=CONTEXT, bos_token_id=0, eos_token_id=VOCAB - 1,
                **extra)


def _hf_vision(**extra: Any) -> dict:
    return dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                image_size=IMAGE_SIZE, patch_size=8, **extra)


def build_hf_clip() -> Any:
    torch.manual_seed(4)
    config = transformers.CLIPConfig(text_config=_hf_text(), vision_config=_hf_vision(),
                                     projection_dim=EMBED_DIM)
    return transformers.CLIPModel(config).eval()


def build_hf_siglip() -> Any:
    torch.manual_seed(5)
    config = transformers.SiglipConfig(text_config=_hf_text(projection_size=32), vision_config=_hf_vision())
    return transformers.SiglipModel(config).eval()


class LegacyTensorCLIPModel(transformers.CLIPModel):
    """A real CLIPModel whose get_*_features return the tensor itself, as transformers 4.x did."""

    def get_image_features(self, pixel_values=None, **kwargs):
        return super().get_image_features(pixel_values=pixel_values, **kwargs).pooler_output

    def get_text_features(self, input_ids=None, **kwargs):
        return super().get_text_features(input_ids=input_ids, **kwargs).pooler_output


def build_hf_clip_legacy() -> Any:
    torch.manual_seed(6)
    config = transformers.CLIPConfig(text_config=_hf_text(), vision_config=_hf_vision(),
                                     projection_dim=EMBED_DIM)
    return LegacyTensorCLIPModel(config).eval()


def build_hf_vision_with_projection() -> Any:
    torch.manual_seed(7)
    config = transformers.CLIPVisionConfig(projection_dim=EMBED_DIM, **_hf_vision())
    return transformers.CLIPVisionModelWithProjection(config).eval()


def build_hf_text_with_projection() -> Any:
    torch.manual_seed(8)
    config = transformers.CLIPTextConfig(projection_dim=EMBED_DIM, **_hf_text())
    return transformers.CLIPTextModelWithProjection(config).eval()


def _openai_half(model: Any, dtype: Any) -> Any:
    openai_clip.convert_weights(model)  # what clip.load / build_model do: fp16 weights, fp32 LayerNorm
    return model


def _cast_images(model: Any, pixels: Any) -> Any:
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    return pixels.to(conv.weight.dtype)


def _open_clip_image(model, pixels):
    return model.encode_image(_cast_images(model, pixels))


def _open_clip_text(model, ids):
    return model.encode_text(ids)


def _hf_image(model, pixels):
    out = model.get_image_features(pixel_values=_cast_images(model, pixels))
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def _hf_text_features(model, ids):
    out = model.get_text_features(input_ids=ids)
    return out if isinstance(out, torch.Tensor) else out.pooler_output


_ALL_FAMILIES = [
    FamilyCase("open_clip.CLIP", build_open_clip, _open_clip_image, _open_clip_text),
    FamilyCase("open_clip.CustomTextCLIP", build_custom_text_clip, _open_clip_image, _open_clip_text),
    FamilyCase("open_clip.CoCa", build_coca,
               lambda m, p: m.encode_image(_cast_images(m, p), normalize=False),
               lambda m, t: m.encode_text(t, normalize=False)),
    FamilyCase("clip.model.CLIP", build_openai_clip, _open_clip_image, _open_clip_text,
               cast=_openai_half, cpu_dtypes=("float32", "float16")),  # its LayerNorm rejects bf16 on CPU
    FamilyCase("CLIPModel", build_hf_clip, _hf_image, _hf_text_features),
    FamilyCase("CLIPModel-4.x-tensors", build_hf_clip_legacy, _hf_image, _hf_text_features,
               own_forward=False),
    FamilyCase("SiglipModel", build_hf_siglip, _hf_image, _hf_text_features),
    FamilyCase("CLIPVisionModelWithProjection", build_hf_vision_with_projection,
               lambda m, p: m(pixel_values=_cast_images(m, p)).image_embeds, None),
    FamilyCase("CLIPTextModelWithProjection", build_hf_text_with_projection,
               None, lambda m, t: m(input_ids=t).text_embeds),
]
_LIBRARY_OF = {"open_clip": open_clip, "clip.model.CLIP": openai_clip}
FAMILIES = [case for case in _ALL_FAMILIES
            if next((lib for prefix, lib in _LIBRARY_OF.items() if case.name.startswith(prefix)), True)]
