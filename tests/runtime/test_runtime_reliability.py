"""No failure that only the checker causes: copies, parameters, saving, meta and fake tensors,
dim spellings, scale types and shape errors behave exactly as they do unguarded."""

from __future__ import annotations

import copy
import io
import pickle
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import FAMILIES, FamilyCase, build_open_clip, images, tokens
from runtime_check.errors import CheckerInternalError
from runtime_check.tracking import provenance_of

pytest_plugins = ["pytester"]


def _raw_features(model) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return model.encode_image(images()), model.encode_text(tokens())


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


# ---------------------------------------------------------------- deepcopy, parameters, saving


@pytest.mark.parametrize("case", FAMILIES, ids=str)
def test_deepcopy_of_features_works_and_stays_checked(case: FamilyCase) -> None:
    model = runtime_check.guard(case.build())
    with torch.no_grad():
        a, b = case.two_sides(model)
    copied = copy.deepcopy({"image_features": a, "again": a})
    assert copied["image_features"] is copied["again"]  # the memo is honoured
    assert torch.equal(copied["image_features"].as_subclass(torch.Tensor), a.as_subclass(torch.Tensor))
    assert copied["image_features"].data_ptr() != a.data_ptr()
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        copied["image_features"] @ F.normalize(b, dim=-1).T  # noqa: CLN001 (deliberate)


def test_deepcopy_under_assert_mode_and_of_a_non_leaf_like_unguarded() -> None:
    model = build_open_clip()
    with runtime_check.assert_mode():
        with torch.no_grad():
            features = model.encode_image(images())
        assert provenance_of(copy.deepcopy(features)) is not None
        grad_features = model.encode_image(images())  # on the autograd graph: not a leaf
        unguarded = model.encode_image(images()).as_subclass(torch.Tensor)
    with pytest.raises(RuntimeError) as plain_error:
        copy.deepcopy(unguarded)
    with pytest.raises(RuntimeError) as guarded_error:
        copy.deepcopy(grad_features)
    assert str(guarded_error.value) == str(plain_error.value)


class ClassificationHead(torch.nn.Linear):
    """WiSE-FT's head (wise-ft/src/models/modeling.py): zero-shot weights as a trainable Parameter."""

    def __init__(self, normalize: bool, weights: torch.Tensor) -> None:
        out_features, in_features = weights.shape
        super().__init__(in_features, out_features)
        self.normalize = normalize
        self.weight = torch.nn.Parameter(weights.clone())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            inputs = inputs / inputs.norm(dim=-1, keepdim=True)
        return super().forward(inputs)


def test_parameters_made_from_features_are_real_leaf_parameters() -> None:
    model = runtime_check.guard(build_open_clip())
    image, text = _raw_features(model)
    zero_shot = F.normalize(text, dim=-1) * model.logit_scale.exp().detach()
    parameter = torch.nn.Parameter(zero_shot)
    assert type(parameter) is torch.nn.Parameter and parameter.is_leaf and parameter.requires_grad
    head = ClassificationHead(True, zero_shot)
    assert type(head.weight) is torch.nn.Parameter and head.weight.is_leaf
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(2):  # training moves the weights off the unit sphere: still a head, never flagged
        loss = head(image).logsumexp(-1).sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    head(image)
    learnable = text.detach().requires_grad_()
    assert learnable.is_leaf and learnable.requires_grad
    torch.optim.SGD([learnable], lr=0.1)  # a leaf, as unguarded
    assert provenance_of(learnable) is not None  # still features: comparing them is checked
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        F.normalize(image, dim=-1) @ learnable.T  # noqa: CLN001 (deliberate)


def test_pickle_and_torch_save_give_plain_tensors_with_the_same_leaf_status() -> None:
    model = runtime_check.guard(build_open_clip())
    image, _ = _raw_features(model)
    leaf = image.detach().requires_grad_()
    for value in (image, leaf):
        restored = pickle.loads(pickle.dumps(value))
        assert type(restored) is torch.Tensor
        assert restored.requires_grad == value.requires_grad and restored.is_leaf
        buffer = io.BytesIO()
        torch.save({"features": value}, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=True)["features"]
        assert type(loaded) is torch.Tensor and torch.equal(loaded.detach(), value.detach().as_subclass(torch.Tensor))


# ---------------------------------------------------------------- tensors that can't be measured


@pytest.mark.parametrize("strict", [False, True])
def test_meta_features_are_skipped_and_verify_keeps_working(strict: bool) -> None:
    model = runtime_check.guard(build_open_clip(), strict=strict)
    image, text = _raw_features(model)
    meta_image, meta_text = image.to("meta"), text.to("meta")
    assert provenance_of(meta_image) is not None
    assert (meta_image @ meta_text.T).shape == (2, 3)  # shape inference, as unguarded  # noqa: CLN001 (deliberate)
    assert torch.einsum("bd,nd->bn", meta_image, meta_text).device.type == "meta"  # noqa: CLN001 (deliberate)
    for _ in range(3):
        runtime_check.verify()
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        image @ text.T  # noqa: CLN001 (deliberate)


def test_fake_tensors_are_skipped() -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    model = runtime_check.guard(build_open_clip())
    image, text = _raw_features(model)
    with FakeTensorMode(allow_non_fake_inputs=True) as mode, torch.no_grad():
        fake_pixels = mode.from_tensor(images())
        fake_features = model.encode_image(fake_pixels)  # a FakeTensor out of a guarded encoder
        assert provenance_of(fake_features) is None
        assert (fake_features @ fake_features.T).shape == (2, 2)  # noqa: CLN001 (deliberate)
        # real tracked features, traced: nothing to measure
        assert (image @ text.T).shape == (2, 3)  # noqa: CLN001 (deliberate)
    runtime_check.verify()
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        image @ text.T  # noqa: CLN001 (deliberate)


def test_meta_test_does_not_poison_the_session(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    from test_runtime_pytest_plugin import _plugin_args

    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(test_meta="""
        from runtime_models import build_open_clip, images, tokens

        def test_1_shape_inference_on_meta():
            m = build_open_clip()
            a = m.encode_image(images(2)).detach().to('meta')
            b = m.encode_text(tokens(3)).detach().to('meta')
            assert (a @ b.T).shape == (2, 3)

        def test_2_unrelated():
            assert 1 + 1 == 2

        def test_3_correct_clip_usage():
            m = build_open_clip()
            a = m.encode_image(images(2)); b = m.encode_text(tokens(3))
            a = a / a.norm(dim=-1, keepdim=True); b = b / b.norm(dim=-1, keepdim=True)
            assert (a @ b.T).shape == (2, 3)
    """)
    pytester.runpytest(*_plugin_args(), "--clip-assert", "-p", "no:cacheprovider").assert_outcomes(passed=3)


# ---------------------------------------------------------------- spellings and scales


@pytest.mark.parametrize("dim", [-1, 1, (-1,), (1,), [1]], ids=repr)
def test_every_dim_spelling_is_understood(dim) -> None:
    model = runtime_check.guard(build_open_clip())
    image, text = _raw_features(model)
    unit_text = F.normalize(text, dim=-1)
    F.normalize(image, dim=dim) @ unit_text.T
    (image / image.norm(dim=dim, keepdim=True)) @ unit_text.T
    (image / torch.linalg.vector_norm(image, dim=dim, keepdim=True)) @ unit_text.T
    (F.normalize(image[:2], dim=dim) * unit_text[:2]).sum(dim=dim)
    wrong = (0,) if isinstance(dim, tuple) else 0
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="CLN002"):
        F.normalize(image, dim=wrong) @ unit_text.T


@pytest.mark.parametrize("scale", [100.0, 100, np.float32(100), np.float64(100), np.int64(100), np.float16(100),
                                   torch.tensor(100.0), torch.tensor([100.0])],
                         ids=lambda value: type(value).__name__)
def test_any_real_scalar_is_a_scale(scale) -> None:
    model = runtime_check.guard(build_open_clip())
    image, text = _raw_features(model)
    unit_image, unit_text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    pow_image = image / image.pow(2).sum(-1, keepdim=True).sqrt()  # numerically settled
    (scale * pow_image) @ unit_text.T
    (pow_image * scale) @ unit_text.T
    (pow_image / scale) @ unit_text.T
    (scale * unit_image) @ unit_text.T
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="CLN001"):
        (scale * image) @ unit_text.T  # noqa: CLN001 (deliberate)


def test_complex_and_integer_casts_are_measured() -> None:
    model = runtime_check.guard(build_open_clip())
    image, text = _raw_features(model)
    unit_image, unit_text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    unit_image.to(torch.complex64) @ unit_text.cfloat().T
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="CLN001"):
        image.to(torch.complex64) @ text.to(torch.complex64).T  # noqa: CLN001 (deliberate)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="changed by a later op"):
        (10 * unit_image).long() @ (10 * unit_text).long().T  # truncated: no longer unit
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="all zeros"):
        unit_image.to(torch.int64) @ unit_text.to(torch.int64).T


def test_shape_errors_are_torchs_own() -> None:
    model = runtime_check.guard(build_open_clip())
    image, text = _raw_features(model)
    plain_image, plain_text = image.as_subclass(torch.Tensor), text.as_subclass(torch.Tensor)
    for guarded, unguarded in [
        (lambda: _unit(image) @ _unit(text), lambda: _unit(plain_image) @ _unit(plain_text)),
        (lambda: image @ text, lambda: plain_image @ plain_text),
        (lambda: torch.einsum("bd,nd->bn", image, text[:, :5]),
         lambda: torch.einsum("bd,nd->bn", plain_image, plain_text[:, :5])),
        (lambda: torch.mm(image, text), lambda: torch.mm(plain_image, plain_text)),
    ]:
        with pytest.raises(Exception) as expected:
            unguarded()
        with pytest.raises(Exception) as actual:
            guarded()
        assert type(actual.value) is type(expected.value) and str(actual.value) == str(expected.value)
        assert not isinstance(actual.value, (runtime_check.UnnormalizedFeaturesError, CheckerInternalError))


# ---------------------------------------------------------------- the same API, guarded or not


@dataclass(frozen=True)
class Use:
    """One common use of features: run on guarded and on unguarded features, compared."""

    name: str
    run: Callable[[torch.Tensor], Any]


def _sgd_step(x):
    leaf = x.detach().clone().requires_grad_()
    optimizer = torch.optim.SGD([leaf], lr=0.5)
    (leaf * 2).sum().backward()
    optimizer.step()
    return leaf


def _pickled(x):
    return pickle.loads(pickle.dumps(x.detach()))


def _saved(x):
    buffer = io.BytesIO()
    torch.save(x.detach(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _in_place(x):
    y = x.detach().clone()
    y += 1
    y[:, 0] = 3.0
    y.mul_(2).clamp_(max=5.0).fill_diagonal_(0.5)
    return y


USES = [
    Use("deepcopy of a detached copy", lambda x: copy.deepcopy(x.detach())),
    Use("deepcopy of the graph output", lambda x: copy.deepcopy(x)),
    Use("copy.copy", lambda x: copy.copy(x.detach())),
    Use("pickle round trip", _pickled),
    Use("torch.save / torch.load", _saved),
    Use("nn.Parameter", lambda x: torch.nn.Parameter(x.detach())),
    Use("nn.Parameter, frozen", lambda x: torch.nn.Parameter(x.detach(), requires_grad=False)),
    Use("detach().requires_grad_()", lambda x: x.detach().requires_grad_()),
    Use("clone", lambda x: x.clone()),
    Use("float / half / to", lambda x: x.float().half().to(torch.float64)),
    Use("numpy", lambda x: x.detach().numpy()),
    Use("tolist", lambda x: x.detach().tolist()),
    Use("item of one element", lambda x: x[0, 0].item()),
    Use("indexing and views", lambda x: x[1:, ::2].reshape(-1).view(-1, 2).T.contiguous()),
    Use("in-place writes", _in_place),
    Use("SGD step on a copy", _sgd_step),
    Use("shape error", lambda x: x @ x),
    Use("bad index", lambda x: x[99]),
    Use("dtype error", lambda x: x @ x.T.long()),
    Use("meta", lambda x: (x.detach().to("meta") @ x.detach().to("meta").T).shape),
    Use("norm and sum", lambda x: (x.norm(dim=(-1,)), x.sum(dim=(0, 1)), x.mean(0, keepdim=True))),
    Use("cosine similarity", lambda x: F.cosine_similarity(x[:1], x[1:], dim=-1)),
    Use("linear head", lambda x: torch.nn.Linear(x.shape[-1], 3)(x.detach())),
    Use("split and cat", lambda x: torch.cat(x.split(1), dim=1)),
    Use("equality", lambda x: (torch.equal(x, x.clone()), bool((x == x).all()))),
]


def _describe(value: Any) -> Any:
    """What must match: values, the type torch or the user sees, leaf status, requires_grad."""
    if isinstance(value, torch.Tensor):
        kind = "parameter" if type(value) is torch.nn.Parameter else "tensor"
        data = value.detach().as_subclass(torch.Tensor)
        return (kind, data.device.type, data.dtype, tuple(data.shape),
                None if data.device.type == "meta" else data.tolist(), value.is_leaf, value.requires_grad)
    if isinstance(value, (tuple, list)):
        return tuple(_describe(item) for item in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.tolist())
    return value


def _outcome(use: Use, features: torch.Tensor) -> Any:
    torch.manual_seed(0)
    try:
        return ("returned", _describe(use.run(features)))
    except Exception as error:  # noqa: BLE001 - the exception is the observable outcome
        return ("raised", type(error), str(error))


@pytest.mark.parametrize("use", USES, ids=lambda use: use.name)
def test_common_tensor_uses_behave_as_unguarded(use: Use) -> None:
    model = build_open_clip()
    unguarded = model.encode_image(images())
    runtime_check.guard(model)
    guarded = model.encode_image(images())
    assert provenance_of(guarded) is not None
    assert _outcome(use, guarded) == _outcome(use, unguarded)
