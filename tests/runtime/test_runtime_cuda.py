"""CUDA behaviour: deferred verdicts without host syncs, strict mode, a usable context afterwards."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import build_hf_clip, build_hf_siglip, images, tokens
from runtime_check.tracking import provenance_of

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

HERE = Path(__file__).parent


@pytest.fixture
def cuda_model():
    return runtime_check.guard(build_hf_clip().cuda())


def _features(model):
    with torch.no_grad():
        image = model.get_image_features(pixel_values=images().cuda()).pooler_output
        text = model.get_text_features(input_ids=tokens().cuda()).pooler_output
    return image, text


def _raises_on_sync(function) -> bool:
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        function()
        return False
    except RuntimeError:
        return True
    finally:
        torch.cuda.set_sync_debug_mode(0)


def _user_code(image, text, scale):
    """Correct and buggy similarity flows of a zero-shot / contrastive step."""
    unit_image = image / image.norm(dim=-1, keepdim=True)
    unit_text = F.normalize(text, dim=-1)
    ensemble = F.normalize(unit_text.mean(dim=0, keepdim=True), dim=-1)
    pow_idiom = image / image.pow(2).sum(-1, keepdim=True).sqrt()
    correct = [scale * unit_image @ unit_text.T, unit_image @ ensemble.T, pow_idiom @ unit_text.T,
               torch.einsum("bd,nd->bn", unit_image.float(), unit_text.float())]
    buggy = scale * image @ unit_text.T
    return correct, buggy


def test_checks_add_no_host_sync_and_defer_the_verdict(cuda_model) -> None:
    image, text = _features(cuda_model)
    scale = cuda_model.logit_scale.exp().detach()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        correct, buggy = _user_code(image, text, scale)  # noqa: CLN001 (deliberate)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert all(result.is_cuda for result in correct + [buggy])
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        runtime_check.verify()
    message = str(caught.value)
    assert "left operand of `matmul`" in message and "test_runtime_cuda.py" in message
    assert "never L2-normalized" in message
    runtime_check.verify()  # read and cleared


def test_encoders_themselves_add_no_host_sync() -> None:
    """The guarded vision encoder, tagging included, is as sync-free as the model itself."""
    model = build_hf_clip().cuda()
    pixels = images().cuda()

    def zero_shot():
        with torch.no_grad():
            image = model.get_image_features(pixel_values=pixels).pooler_output
            unit = F.normalize(image, dim=-1)
            return image, 100.0 * unit @ unit.T

    zero_shot()  # warm up: lazy initialization may sync once
    if _raises_on_sync(zero_shot):
        pytest.skip("this transformers version syncs inside the vision encoder itself")
    runtime_check.guard(model)
    zero_shot()
    assert not _raises_on_sync(zero_shot)
    image, logits = zero_shot()
    assert provenance_of(image) is not None and logits.shape == (2, 2)
    runtime_check.verify()


def test_strict_mode_raises_at_the_op(cuda_model) -> None:
    runtime_check.guard(cuda_model, strict=True)
    image, text = _features(cuda_model)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="left operand"):
        image @ text.T  # noqa: CLN001 (deliberate)


def test_assert_mode_exit_raises_the_deferred_verdict() -> None:
    model = build_hf_siglip().cuda()
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="SiglipModel.get_text_features"):
        with runtime_check.assert_mode():
            with torch.no_grad():
                text = model.get_text_features(input_ids=tokens().cuda()).pooler_output
                text @ text.T  # noqa: CLN001 (deliberate)


def test_cuda_context_stays_usable_after_a_violation(cuda_model) -> None:
    image, text = _features(cuda_model)
    image @ text.T  # noqa: CLN001 (deliberate)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        runtime_check.verify()
    after = torch.ones(4, device="cuda") * 2
    assert after.sum().item() == 8.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_results_and_gradients_are_bitwise_identical_on_cuda(dtype) -> None:
    def step(model):
        model.zero_grad(set_to_none=True)
        image = model.get_image_features(pixel_values=images().cuda().to(dtype)).pooler_output
        text = model.get_text_features(input_ids=tokens().cuda()).pooler_output
        logits = model.logit_scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        loss = logits.float().logsumexp(-1).sum()
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        return [logits.detach().clone(), loss.detach().clone()] + grads

    # the same kernels must give the same bits: no autotuning, no atomics-based reductions
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        model = build_hf_clip().cuda().to(dtype)
        baseline = step(model)
        runtime_check.guard(model)
        guarded = step(model)
    finally:
        torch.use_deterministic_algorithms(False)
    assert len(baseline) == len(guarded)
    assert all(torch.equal(a, b) for a, b in zip(baseline, guarded))


def test_data_parallel_replicas_stay_guarded(cuda_model) -> None:
    (replica,) = torch.nn.parallel.replicate(cuda_model, [0])
    assert type(replica) is type(cuda_model)
    with torch.no_grad():
        image = replica.get_image_features(pixel_values=images().cuda()).pooler_output
    assert provenance_of(image) is not None
    image @ image.T  # noqa: CLN001 (deliberate)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        runtime_check.verify()


def test_pytest_plugin_fails_the_test_that_caused_a_deferred_violation(pytester: pytest.Pytester) -> None:
    from test_runtime_pytest_plugin import _plugin_args

    pytester.syspathinsert(HERE)
    pytester.makepyfile(
        test_gpu_suite=textwrap.dedent(
            """
            import torch, torch.nn.functional as F
            from runtime_models import build_hf_clip, images

            def test_buggy_on_gpu():
                model = build_hf_clip().cuda()
                with torch.no_grad():
                    image = model.get_image_features(pixel_values=images().cuda()).pooler_output
                    logits = image @ image.T
                assert logits.is_cuda

            def test_correct_on_gpu():
                model = build_hf_clip().cuda()
                with torch.no_grad():
                    image = F.normalize(model.get_image_features(pixel_values=images().cuda()).pooler_output)
                    assert (image @ image.T).is_cuda
            """
        )
    )
    result = pytester.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["FAILED*test_buggy_on_gpu*"])
