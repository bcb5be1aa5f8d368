"""The deferred (CUDA) path, run on CPU tensors: extremes folded into the ledger, read at verify()."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import build_open_clip, images, tokens
from runtime_check import tracking


@pytest.fixture(autouse=True)
def deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """No device reads at the op: every check takes the path CUDA tensors take."""
    monkeypatch.setattr(tracking, "IMMEDIATE_DEVICES", set())


def _features():
    model = runtime_check.guard(build_open_clip())
    with torch.no_grad():
        return model, model.encode_image(images()), model.encode_text(tokens())


def test_violations_wait_for_verify_and_name_every_operand() -> None:
    model, image, text = _features()
    unit_text = F.normalize(text, dim=-1)
    logits = image @ text.T  # noqa: CLN001 (deliberate) - no error at the op
    assert logits.shape == (2, 3)
    model.logit_scale.exp() * F.normalize(image, dim=-1) @ unit_text.T  # correct, tensor-scaled
    (100.0 * image / image.pow(2).sum(-1, keepdim=True).sqrt()) @ unit_text.T  # correct, numeric
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        runtime_check.verify()
    message = str(caught.value)
    assert message.startswith("left and right operands of `matmul` are not L2-normalized")
    assert message.count("CLN001: it was never L2-normalized") == 2
    assert "2 row(s) per call" in message and "3 row(s) per call" in message
    assert "test_runtime_deferred.py" in message
    runtime_check.verify()  # read and cleared


def test_several_call_sites_raise_the_first_and_count_the_others() -> None:
    _, image, text = _features()
    unit_text = F.normalize(text, dim=-1)
    for _ in range(3):
        image @ unit_text.T  # noqa: CLN001 (deliberate) - the same site three times
    torch.cat([F.normalize(image, dim=-1), torch.zeros(1, 24)]) @ unit_text.T
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="left operand of `matmul`") as caught:
        runtime_check.verify()
    assert "(1 more violating call site(s) were recorded before verify())" in str(caught.value)


def test_the_worst_row_and_scale_reach_the_deferred_message() -> None:
    _, image, text = _features()
    prompts = F.normalize(text, dim=-1)
    F.normalize(image, dim=-1) @ (prompts.sum(dim=0) / 3)  # noqa: CLN004 (deliberate)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        runtime_check.verify()
    true_norm = (prompts.as_subclass(torch.Tensor).sum(dim=0) / 3).norm().item()
    assert f"worst row norm {true_norm:.6g} ({3 * true_norm:.6g} with the scalar scale divided out)" in str(
        caught.value)
    assert "CLN004" in str(caught.value)


def test_bank_gate_is_kept_for_an_unchanged_bank_and_redone_after_a_write() -> None:
    _, image, text = _features()
    bank = F.normalize(text.as_subclass(torch.Tensor).detach().clone(), dim=-1)  # untracked, unit rows
    image @ bank.T  # noqa: CLN001 (deliberate) - a bank: a similarity
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        runtime_check.verify()
    bank.mul_(2.0)  # written in place: no longer unit, so a weight matrix now
    image @ bank.T  # a fresh `.T` view of the same memory: the gate is redone, not reused  # noqa: CLN001 (deliberate)
    runtime_check.verify()
    bank.div_(2.0)
    image @ bank.T  # noqa: CLN001 (deliberate)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        runtime_check.verify()


def test_unmeasurable_and_meta_tensors_leave_the_ledger_readable() -> None:
    _, image, text = _features()
    image.to("meta") @ text.to("meta").T  # noqa: CLN001 (deliberate)
    runtime_check.verify()
