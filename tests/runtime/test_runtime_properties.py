"""Property tests of the unit-norm verdict, over batches, dtypes and scales chosen by hypothesis."""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import runtime_check
from runtime_check.facts import TOLERANCES


class FeatureSource(torch.nn.Module):
    """An encoder of the generic fallback that returns the features it is given.

    It lets hypothesis choose the exact features that come out of a guarded encoder.
    """

    def encode_text(self, features: torch.Tensor) -> torch.Tensor:
        return features.clone()


DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
SOURCE = runtime_check.guard(FeatureSource())


def _unit_rows(seed: int, rows: int, dim: int) -> torch.Tensor:
    raw = torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return raw / raw.norm(dim=-1, keepdim=True)


def _tolerance(dtype: torch.dtype) -> float:
    return TOLERANCES[str(dtype).rpartition(".")[2]]


batches = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 8), st.integers(2, 96))
scales = st.one_of(st.just(1.0), st.floats(0.01, 1000.0))


@settings(max_examples=80, deadline=None, database=None)
@given(batch=batches, dtype=st.sampled_from(DTYPES), scale=scales)
def test_any_normalized_batch_passes(batch, dtype, scale) -> None:
    seed, rows, dim = batch
    features = SOURCE.encode_text(_unit_rows(seed, rows, dim).to(dtype))
    other = _unit_rows(seed + 1, 3, dim).to(dtype)
    logits = (scale * features) @ other.T  # noqa: CLN001 (deliberate)
    assert logits.shape == (rows, 3)


def _off_factor(dtype: torch.dtype) -> st.SearchStrategy:
    margin = 2 * _tolerance(dtype)
    return st.one_of(
        st.floats(0.0, 1.0 - margin),
        st.floats(1.0 + margin, 50.0),
        st.sampled_from([math.nan, math.inf, 0.0]),
    )


@settings(max_examples=80, deadline=None, database=None)
@given(batch=batches, dtype=st.sampled_from(DTYPES), scale=scales, data=st.data())
def test_any_batch_with_a_row_outside_the_tolerance_fails(batch, dtype, scale, data) -> None:
    seed, rows, dim = batch
    factor = data.draw(_off_factor(dtype), label="worst row norm")
    bad_row = data.draw(st.integers(0, rows - 1), label="row")
    tolerance = _tolerance(dtype)
    # a row that happens to be unit *before* dividing out the scale passes by design
    assume(not abs(scale * factor - 1.0) <= 2 * tolerance)
    assume(math.isfinite(scale * factor) or not math.isfinite(factor))
    values = _unit_rows(seed, rows, dim)
    values[bad_row] *= factor
    if factor == 0.0:
        values[bad_row] = 0.0
    features = SOURCE.encode_text(values.to(dtype))
    other = _unit_rows(seed + 1, 3, dim).to(dtype)
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        (scale * features) @ other.T  # noqa: CLN001 (deliberate)
    message = str(caught.value)
    norms = _row_norms_as_compared(scale, features)
    if not math.isfinite(factor):
        assert "NaN or Inf" in message
    elif min(norms) == 0.0:  # factor 0, or a row too small to survive the cast or the scale
        assert "all zeros" in message
        assert float(re.search(r"worst row norm (\S+)", message).group(1).rstrip(";")) == 0.0
    else:
        reported = float(re.search(r"worst row norm (\S+)", message).group(1).rstrip(";"))
        assert any(_same_printed(reported, norm) for norm in _reportable_worst_rows(norms, scale)), message
        if scale != 1.0:
            unscaled = float(re.search(r"\((\S+) with the scalar scale divided out\)", message).group(1))
            assert _same_printed(unscaled, reported / scale), message


def _row_norms_as_compared(scale: float, features: torch.Tensor) -> list[float]:
    """The norms of the rows the checker measured: `scale * features`, computed by the same op."""
    compared = scale * features.as_subclass(torch.Tensor)
    wide = torch.float64 if compared.dtype == torch.float64 else torch.float32
    return torch.linalg.vector_norm(compared, dim=-1, dtype=wide).tolist()


def _deviation(low: float, high: float) -> float:
    return max(1.0 - low, high - 1.0)


def _reportable_worst_rows(norms: list[float], scale: float, slack: float = 1e-9) -> set[float]:
    """True norms of the rows the message may name: under each reading of the norms (as they are,
    or with the scale divided out) that is closest to passing, the row furthest from 1. Readings and
    rows that tie (within `slack`) are all acceptable: which one wins a tie is not part of the spec."""
    divisors = [1.0] + ([scale] if scale != 1.0 else [])
    deviations = {d: _deviation(min(norms) / d, max(norms) / d) for d in divisors}
    best = min(deviations.values())
    reportable = set()
    for divisor, deviation in deviations.items():
        if deviation > best + slack:
            continue
        low_off, high_off = 1.0 - min(norms) / divisor, max(norms) / divisor - 1.0
        if low_off >= high_off - slack:
            reportable.add(min(norms))
        if high_off >= low_off - slack:
            reportable.add(max(norms))
    return reportable


def _same_printed(printed: float, exact: float) -> bool:
    """`printed` is `exact` as the message writes it (six significant digits)."""
    return abs(printed - exact) <= 1e-5 * abs(exact)


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0, 3.0])
def test_a_zero_row_is_the_worst_row_whatever_the_scale(scale: float) -> None:
    """At scale 2 a zero row and a unit row are equally far from 1 as they are (0 and 2): the zero
    row must still be the one reported, with its own cause (hypothesis found this one)."""
    features = SOURCE.encode_text(torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        (scale * features) @ torch.eye(3)  # noqa: CLN001 (deliberate)
    assert "worst row norm 0" in str(caught.value) and "all zeros" in str(caught.value)
