"""guard()/unguard()/assert_mode(): identity of results, class identity, pickling, replication."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import FAMILIES, FamilyCase, build_hf_clip, build_open_clip, build_openai_clip, images, tokens
from runtime_check.tracking import provenance_of

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _family_dtypes():
    return [pytest.param(case, DTYPES[name], id=f"{case}-{name}") for case in FAMILIES for name in case.cpu_dtypes]


def _contrastive_step(case: FamilyCase, model) -> dict[str, torch.Tensor]:
    """One training step's observable results: logits, loss and every parameter gradient."""
    model.zero_grad(set_to_none=True)
    a, b = case.two_sides(model)
    logits = 10.0 * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    loss = logits.float().logsumexp(dim=-1).sum()
    loss.backward()
    results = {"logits": logits.detach().clone(), "loss": loss.detach().clone()}
    for name, parameter in model.named_parameters():
        if parameter.grad is not None:
            results[name] = parameter.grad.clone()
    return results


def _assert_bitwise_equal(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        assert type(actual[name]) is torch.Tensor, name
        assert torch.equal(value, actual[name]), name


@pytest.mark.parametrize("case, dtype", _family_dtypes())
def test_results_and_gradients_are_bitwise_identical_under_guard(case: FamilyCase, dtype) -> None:
    model = case.build_in(dtype)
    baseline = _contrastive_step(case, model)
    runtime_check.guard(model)
    tracked_a, _ = case.two_sides(model)
    assert provenance_of(tracked_a) is not None  # the guard really ran
    guarded = _contrastive_step(case, model)
    runtime_check.unguard(model)
    _assert_bitwise_equal(baseline, guarded)


@pytest.mark.parametrize("case, dtype", _family_dtypes())
def test_results_and_gradients_are_bitwise_identical_under_assert_mode(case: FamilyCase, dtype) -> None:
    model = case.build_in(dtype)
    baseline = _contrastive_step(case, model)
    with runtime_check.assert_mode():
        checked = _contrastive_step(case, model)
    _assert_bitwise_equal(baseline, checked)


@pytest.mark.parametrize("case", FAMILIES, ids=str)
def test_guard_keeps_class_identity_and_state_dict(case: FamilyCase) -> None:
    model = case.build()
    original_class = type(model)
    keys = list(model.state_dict())
    assert runtime_check.guard(model) is model
    assert isinstance(model, original_class)
    assert type(model).__name__ == original_class.__name__
    assert list(model.state_dict()) == keys
    model.load_state_dict(case.build().state_dict())  # loading still works
    runtime_check.unguard(model)
    assert type(model) is original_class


@pytest.mark.parametrize("case", FAMILIES, ids=str)
def test_guarded_model_pickles_and_stays_guarded(case: FamilyCase) -> None:
    model = runtime_check.guard(case.build())
    for restored in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert isinstance(restored, type(model).__mro__[1])
        assert restored.state_dict().keys() == model.state_dict().keys()
        with torch.no_grad():
            a, b = case.two_sides(restored)
            assert provenance_of(a) is not None
            with pytest.raises(runtime_check.UnnormalizedFeaturesError):
                a @ b.T


@pytest.mark.parametrize("case", FAMILIES, ids=str)
def test_data_parallel_replicas_stay_guarded(case: FamilyCase) -> None:
    """nn.DataParallel's replicate() builds each replica with type(module): the guarded class.

    Running real replicas needs CUDA devices (see test_runtime_cuda.py); here the replica's class is checked.
    """
    model = runtime_check.guard(case.build())
    replica = model._replicate_for_data_parallel()
    assert type(replica) is type(model)
    encoder = "encode_image" if hasattr(model, "encode_image") else "get_image_features"
    if not hasattr(model, encoder):
        encoder = "forward"
    assert hasattr(getattr(type(replica), encoder), "__clip_original__")
    wrapped = torch.nn.DataParallel(model)  # no GPU: it runs the module itself
    assert wrapped.module is model


def test_guard_finds_clip_models_inside_a_wrapper_module() -> None:
    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = build_hf_clip()
            self.head = torch.nn.Linear(24, 3)

    pipeline = runtime_check.guard(Pipeline())
    assert type(pipeline) is Pipeline  # only the CLIP submodule is instrumented
    with torch.no_grad():
        image = pipeline.clip.get_image_features(pixel_values=images()).pooler_output
        pipeline.head(image)  # a linear head is not a similarity
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            image @ image.T  # noqa: CLN001 (deliberate)
    runtime_check.unguard(pipeline)
    assert type(pipeline.clip).__name__ == "CLIPModel" and "__clip_base__" not in type(pipeline.clip).__dict__


def test_guard_rejects_a_module_without_encoders() -> None:
    with pytest.raises(ValueError, match="no CLIP encoder"):
        runtime_check.guard(torch.nn.Linear(3, 3))


class TokenFeaturesFork(torch.nn.Module):
    """A fork of OpenAI CLIP whose encode_image returns one feature per token: [B, tokens, D]."""

    def __init__(self) -> None:
        super().__init__()
        self.clip = build_openai_clip()

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        visual = self.clip.visual
        tokens = visual.conv1(image).flatten(2).transpose(1, 2)
        return visual.ln_post(tokens) @ visual.proj

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_text(text)


def test_generic_fallback_catches_the_wrong_dim_on_token_features() -> None:
    fork = runtime_check.guard(TokenFeaturesFork())
    assert type(fork.clip).__name__ == "CLIP"  # the inner OpenAI model is guarded too
    with torch.no_grad():
        patch_features = fork.encode_image(images())
        text = F.normalize(fork.encode_text(tokens()), dim=-1)
        assert patch_features.ndim == 3
        right = patch_features / patch_features.norm(dim=-1, keepdim=True)
        torch.einsum("btd,nd->btn", right, text)
        wrong = patch_features / patch_features.norm(dim=1, keepdim=True)  # dim=1 is tokens here
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="normalized along dim -2"):
            torch.einsum("btd,nd->btn", wrong, text)


def test_assert_mode_checks_unguarded_models_and_restores_the_classes() -> None:
    import open_clip

    original = open_clip.model.CLIP.__dict__["encode_image"]
    model = build_open_clip()

    @runtime_check.assert_mode()
    def compare_raw():
        with torch.no_grad():
            return model.encode_image(images()) @ model.encode_text(tokens()).T  # noqa: CLN001 (deliberate)

    with pytest.raises(runtime_check.UnnormalizedFeaturesError):
        compare_raw()
    assert open_clip.model.CLIP.__dict__["encode_image"] is original
    with torch.no_grad():
        raw = model.encode_image(images())
    assert provenance_of(raw) is None
    assert (raw @ raw.T).shape == (2, 2)  # unchecked outside the mode  # noqa: CLN001 (deliberate)


def test_nested_assert_modes_keep_checking_until_the_outer_exits() -> None:
    model = build_open_clip()
    with runtime_check.assert_mode():
        with runtime_check.assert_mode():
            pass
        with torch.no_grad():
            features = model.encode_image(images())
        assert provenance_of(features) is not None


def _slightly_off(model) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rows stretched by 1% through a tensor (so numerics, not recognition, decide)."""
    with torch.no_grad():
        image = F.normalize(model.encode_image(images()), dim=-1) * torch.full((1, 24), 1.01)
        text = F.normalize(model.encode_text(tokens()), dim=-1)
    return image, text


def test_tolerance_per_guard_call() -> None:
    image, text = _slightly_off(runtime_check.guard(build_open_clip()))
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="tolerance 0.001 for float32"):
        image @ text.T
    image, text = _slightly_off(runtime_check.guard(build_open_clip(), tolerance=0.02))
    image @ text.T
    image, text = _slightly_off(runtime_check.guard(build_open_clip(), tolerance={torch.float32: 0.02}))
    image @ text.T


def test_tolerance_global_and_per_assert_mode() -> None:
    model = build_open_clip()
    runtime_check.configure(tolerance={"float32": 0.02})
    with runtime_check.assert_mode():
        image, text = _slightly_off(model)
        image @ text.T
    with runtime_check.assert_mode(tolerance=1e-3):
        image, text = _slightly_off(model)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            image @ text.T


def test_low_precision_history_sets_the_tolerance() -> None:
    """bf16 features normalized in bf16 and cast up are judged with the bf16 tolerance."""
    model = runtime_check.guard(build_open_clip().to(torch.bfloat16))
    with torch.no_grad():
        image = model.encode_image(images(dtype=torch.bfloat16))
        unit_bf16 = image / image.pow(2).sum(-1, keepdim=True).sqrt()  # numerically settled
        unit_bf16.float() @ unit_bf16.float().T
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="for float32"):
            image.float() @ unit_bf16.float().T  # noqa: CLN001 (deliberate)


def test_error_message_names_the_chain_in_order() -> None:
    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        image = F.normalize(model.encode_image(images()), dim=-1)
        text = model.encode_text(tokens())
        with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
            image.float() @ text.float().T  # noqa: CLN001 (deliberate)
    message = str(caught.value)
    assert "ops since: encode_text -> .float() -> .T\n" in message
    assert message.startswith("right operand of `matmul` is not L2-normalized along the contracted dim -2")
    assert "features from CLIP.encode_text() called at" in message
    assert "3 of 3 row(s) off" in message


def test_checker_failures_never_surface_as_type_error(monkeypatch) -> None:
    import runtime_check.tracking as tracking

    def broken(*args, **kwargs):
        raise TypeError("bug inside the checker")

    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        image = model.encode_image(images())
    monkeypatch.setattr(tracking, "row_norms", broken)
    with pytest.raises(runtime_check.errors.CheckerInternalError, match="bug inside the checker"):
        image @ image.T  # noqa: CLN001 (deliberate)


def test_errors_of_the_users_own_op_pass_through_unchanged() -> None:
    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        image = F.normalize(model.encode_image(images()), dim=-1)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        image @ torch.randn(5, 7)
    with pytest.raises(TypeError):
        image @ "not a tensor"


def test_saved_features_load_as_plain_tensors() -> None:
    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        features = model.encode_image(images())
    buffer = io.BytesIO()
    torch.save(features, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert type(loaded) is torch.Tensor
    assert torch.equal(loaded, features.as_subclass(torch.Tensor))


def test_verify_is_a_no_op_when_nothing_is_pending() -> None:
    runtime_check.verify()


def test_batch_of_one_keepdim_statistics_are_not_mistaken_for_scales() -> None:
    """At batch 1 a [1, 1] norm has one element, yet it is a per-row statistic, not a scale."""
    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        image = model.encode_image(images(1))
        unit_text = F.normalize(model.encode_text(tokens()), dim=-1)
        pow_idiom = image / image.pow(2).sum(dim=-1, keepdim=True).pow(0.5)
        (100.0 * pow_idiom @ unit_text.T).softmax(dim=-1)
        (image / image.norm(dim=-1)) @ unit_text.T  # [1, D] / [1]: right at batch 1  # noqa: CLN003 (deliberate)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError):
            100.0 * image @ unit_text.T  # noqa: CLN001 (deliberate)


def test_device_ledger_folds_extremes_per_site_with_no_host_read() -> None:
    """The deferred (CUDA) bookkeeping, exercised on CPU tensors: pure tensor ops, no sync needed."""
    from runtime_check.verdicts import _DeviceLedger

    ledger = _DeviceLedger(torch.device("cpu"))
    ledger.record(3, torch.tensor([1.0002, -0.9999]))  # a passing check: [max, -min]
    ledger.record(4, torch.tensor([7.5, -2.0]))  # a violation at another site
    ledger.record(4, torch.tensor([9.0, -3.0]))  # the same site again: the extremes widen
    ledger.record(5, torch.tensor([float("nan"), float("nan")]))
    ledger.record(5, torch.tensor([1.0, -1.0]))  # NaN stays
    rows = ledger.read_and_reset()
    assert rows[3][:2] == pytest.approx([1.0002, -0.9999]) and rows[4][:2] == [9.0, -2.0]
    assert all(value != value for value in rows[5][:2])
    assert rows[0] == [float("-inf")] * 4  # never recorded
    assert ledger.read_and_reset()[4] == [float("-inf")] * 4


def test_keyword_transposes_and_in_place_ops_on_plain_tensors() -> None:
    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        image = F.normalize(model.encode_image(images()), dim=-1)
        raw_text = model.encode_text(tokens())
        F.normalize(raw_text, dim=-1) @ torch.transpose(image, dim0=0, dim1=1)
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="right operand"):
            image @ torch.swapaxes(raw_text, axis0=0, axis1=1)
        buffer = torch.ones(3, 24)
        buffer.mul_(raw_text)  # the plain tensor stays plain: nothing to track or check
        assert provenance_of(buffer) is None and (buffer @ buffer.T).shape == (3, 3)


def _zero_and_nan_rows(model):
    with torch.no_grad():
        image = model.encode_image(images(3))
        padded = torch.cat([image[:2], torch.zeros_like(image[:1])])  # a padding row
        text = F.normalize(model.encode_text(tokens()), dim=-1)
        yield lambda: F.normalize(padded, dim=-1) @ text.T, "all zeros"
        yield lambda: (padded / padded.norm(dim=-1, keepdim=True)) @ text.T, "NaN or Inf"


def test_recognized_normalizations_skip_the_math_unless_asked() -> None:
    """Zero and NaN rows made by a recognized normalizer are found with check_recognized=True."""
    for unchecked in _zero_and_nan_rows(runtime_check.guard(build_openai_clip())):
        unchecked[0]()  # skipped by design: the normalization was recognized
    checked_model = runtime_check.guard(build_openai_clip(), check_recognized=True)
    for similarity, cause in _zero_and_nan_rows(checked_model):
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match=cause):
            similarity()
    with runtime_check.assert_mode(check_recognized=True):
        for similarity, cause in _zero_and_nan_rows(build_open_clip()):
            with pytest.raises(runtime_check.UnnormalizedFeaturesError, match=cause):
                similarity()


def test_indexing_keeps_the_unit_axis_only_when_it_selects_rows() -> None:
    from runtime_check.provenance import FeatureState

    model = runtime_check.guard(build_openai_clip())
    with torch.no_grad():
        unit = F.normalize(model.encode_image(images(3)), dim=-1)
    rows = unit[torch.tensor([True, False, True])]
    assert provenance_of(rows).state is FeatureState.UNIT
    assert provenance_of(unit[0]).state is FeatureState.UNIT
    elements = unit[unit > 0]  # a 2-D mask flattens: no longer rows of unit vectors
    assert provenance_of(elements).state is FeatureState.RAW
    truncated = unit[:, :8]  # Matryoshka-style truncation is not unit any more
    with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="normalized, then changed"):
        truncated @ truncated.T
