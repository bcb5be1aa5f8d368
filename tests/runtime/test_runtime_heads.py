"""Linear heads vs. similarities: the untracked operand decides.

Unit vectors along the contracted dim: a bank of embeddings (zero-shot weights loaded from disk,
a gallery), so the tracked features must be normalized. Anything else: a weight matrix, and the
op is a linear head on features: silent.
"""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import runtime_check
from runtime_models import FAMILIES, FamilyCase, build_open_clip, images, tokens


def _features(case: FamilyCase):
    model = runtime_check.guard(case.build())
    with torch.no_grad():
        return case.two_sides(model)


@pytest.mark.parametrize("case", FAMILIES, ids=str)
def test_linear_probes_on_raw_features_are_silent(case: FamilyCase) -> None:
    raw, _ = _features(case)
    dim = raw.shape[-1]
    torch.manual_seed(0)
    linear = nn.Linear(dim, 5).to(raw.dtype)
    leaf_weight = torch.zeros(dim, 5, dtype=raw.dtype, requires_grad=True)  # logistic regression
    projection = torch.randn(dim, 8, dtype=raw.dtype)  # a frozen random / PCA projection
    module_with_buffer = nn.Module()
    module_with_buffer.register_buffer("proj", torch.randn(8, dim, dtype=raw.dtype))
    with torch.no_grad():
        linear(raw)
        raw @ linear.weight.T
        raw @ linear.weight.detach().T
        F.linear(raw, linear.weight.detach())
        raw @ projection
        raw @ module_with_buffer.proj.T
        torch.einsum("bd,kd->bk", raw, module_with_buffer.proj)
        torch.addmm(linear.bias.detach(), raw, linear.weight.detach().T)
    raw @ leaf_weight


def _zero_shot_weights(model) -> torch.Tensor:
    with torch.no_grad():
        text = model.encode_text(tokens(3))
    return (text / text.norm(dim=-1, keepdim=True)).T


def _save_and_load(tensor: torch.Tensor) -> torch.Tensor:
    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_zero_shot_weights_loaded_from_disk_are_a_bank() -> None:
    model = runtime_check.guard(build_open_clip())
    weights = _save_and_load(_zero_shot_weights(model))  # a plain tensor: unit columns
    assert type(weights) is torch.Tensor
    with torch.no_grad():
        image = model.encode_image(images())
    F.normalize(image, dim=-1) @ weights
    100.0 * F.normalize(image, dim=-1) @ weights
    F.linear(F.normalize(image, dim=-1), weights.T)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="left operand of `matmul`") as caught:
        image @ weights  # noqa: CLN001 (deliberate)
    assert "CLN001" in str(caught.value)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="CLN001"):
        torch.einsum("bd,dk->bk", image, weights)  # noqa: CLN001 (deliberate)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="CLN001"):
        F.linear(image, weights.T)
    gallery = F.normalize(torch.randn(10, image.shape[-1]), dim=-1)  # image retrieval gallery
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        image @ gallery.T  # noqa: CLN001 (deliberate)


class ClassificationHead(nn.Linear):
    """WiSE-FT's head: zero-shot weights (scaled by the logit scale) as the initial Linear weight."""

    def __init__(self, normalize: bool, weights: torch.Tensor) -> None:
        out_features, in_features = weights.shape
        super().__init__(in_features, out_features)
        self.normalize = normalize
        self.weight = nn.Parameter(weights.clone())
        self.bias = nn.Parameter(torch.zeros_like(self.bias))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            inputs = inputs / inputs.norm(dim=-1, keepdim=True)
        return super().forward(inputs)


def test_wise_ft_head_fine_tunes_without_false_alarms() -> None:
    model = runtime_check.guard(build_open_clip())
    zero_shot = _zero_shot_weights(model).T * model.logit_scale.exp().detach()
    head = ClassificationHead(True, _save_and_load(zero_shot))
    optimizer = torch.optim.SGD(head.parameters(), lr=0.5)
    for _ in range(3):
        image = model.encode_image(images())
        loss = F.cross_entropy(head(image), torch.tensor([0, 1]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    unscaled = ClassificationHead(False, _zero_shot_weights(model).T)  # a Parameter: a head, always
    with torch.no_grad():
        unscaled(model.encode_image(images()))


def test_bank_tolerance_follows_the_bank_dtype() -> None:
    model = runtime_check.guard(build_open_clip())
    with torch.no_grad():
        image = model.encode_image(images())
    bank = _save_and_load(_zero_shot_weights(model))
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        image.half() @ bank.half()  # unit within fp16 roundoff: still a bank  # noqa: CLN001 (deliberate)
    image @ (bank * 1.01)  # 1% off unit: a weight matrix, a linear head  # noqa: CLN001 (deliberate)
    image @ bank[:, :0]  # an empty bank: torch's own result, nothing to compare  # noqa: CLN001 (deliberate)
