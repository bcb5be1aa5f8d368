"""A CLIP vendored into a project, as research repositories copy OpenAI's `model.py` or open_clip.

Written here in the tests' own words, small, with random weights, and with the structure those
copies keep: a `visual` tower that ends in its projection; a text transformer whose `ln_final`
states are pooled at the end token and projected inline by a `text_projection` parameter; a
`forward` that normalizes and compares by itself. The runtime checker is told nothing about these
classes: it must find them by their structure.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

EMBED_DIM = 16
WIDTH = 32
IMAGE_SIZE = 32
PATCH = 8
CONTEXT = 16
VOCAB = 99


class Block(nn.Module):
    """Pre-norm self-attention and MLP, batch first."""

    def __init__(self, width: int, heads: int = 2) -> None:
        super().__init__()
        self.norm_attention = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        normed = self.norm_attention(x)
        x = x + self.attention(normed, normed, normed, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.norm_mlp(x))


class PatchTower(nn.Module):
    """The image tower: patches, one block, the class token's state, projected."""

    def __init__(self) -> None:
        super().__init__()
        grid = IMAGE_SIZE // PATCH
        self.patchify = nn.Conv2d(3, WIDTH, PATCH, PATCH, bias=False)
        self.class_token = nn.Parameter(torch.randn(WIDTH) * WIDTH**-0.5)
        self.positions = nn.Parameter(torch.randn(grid * grid + 1, WIDTH) * 0.01)
        self.block = Block(WIDTH)
        self.ln_post = nn.LayerNorm(WIDTH)
        self.proj = nn.Parameter(torch.randn(WIDTH, EMBED_DIM) * WIDTH**-0.5)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        patches = self.patchify(pixels).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.class_token.expand(len(patches), 1, -1), patches], dim=1) + self.positions
        return self.ln_post(self.block(tokens)[:, 0]) @ self.proj


class VendoredCLIP(nn.Module):
    """OpenAI's API: `encode_image`, `encode_text`, and `forward` giving both logits."""

    def __init__(self) -> None:
        super().__init__()
        self.visual = PatchTower()
        self.token_embedding = nn.Embedding(VOCAB, WIDTH)
        self.positional_embedding = nn.Parameter(torch.randn(CONTEXT, WIDTH) * 0.01)
        self.transformer = Block(WIDTH)
        self.ln_final = nn.LayerNorm(WIDTH)
        self.text_projection = nn.Parameter(torch.randn(WIDTH, EMBED_DIM) * WIDTH**-0.5)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.register_buffer("causal_mask", torch.full((CONTEXT, CONTEXT), float("-inf")).triu(1),
                             persistent=False)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual(image)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        states = self.token_embedding(text) + self.positional_embedding
        states = self.ln_final(self.transformer(states, self.causal_mask))
        end_tokens = states[torch.arange(len(states)), text.argmax(dim=-1)]
        return end_tokens @ self.text_projection

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image_features = self.encode_image(image)
        text_features = self.encode_text(text)
        image_features = image_features / image_features.norm(dim=1, keepdim=True)
        text_features = text_features / text_features.norm(dim=1, keepdim=True)
        logits_per_image = self.logit_scale.exp() * image_features @ text_features.t()
        return logits_per_image, logits_per_image.t()


class VendoredOpenClip(VendoredCLIP):
    """open_clip's API: `normalize=` on the encoders, and `forward` giving the unit features."""

    def encode_image(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.visual(image)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = super().encode_text(text)
        return F.normalize(features, dim=-1) if normalize else features

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        return self.encode_image(image, normalize=True), self.encode_text(text, normalize=True), \
            self.logit_scale.exp()


class RawOneModalityFork(VendoredOpenClip):
    """The fork's bug: with one modality given, `forward` returns its raw features."""

    def forward(self, image=None, text=None):
        if text is None:
            return self.encode_image(image)
        if image is None:
            return self.encode_text(text)
        return super().forward(image, text)


class UnitOneModalityFork(VendoredOpenClip):
    """Its correct twin: the features of one modality come back normalized."""

    def forward(self, image=None, text=None):
        if text is None:
            return self.encode_image(image, normalize=True)
        if image is None:
            return self.encode_text(text, normalize=True)
        return super().forward(image, text)


def build(cls: type = VendoredCLIP, seed: int = 11) -> nn.Module:
    torch.manual_seed(seed)
    return cls().eval()
