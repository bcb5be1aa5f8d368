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
    if not math.isfinite(factor):
        assert "NaN or Inf" in message
    elif factor == 0.0:
        assert "all zeros" in message
    else:
        # the true norm of the worst row, and the same with the scalar scale divided out: the
        # worst row under the reading (as is, or unscaled) that comes closest to passing, which
        # is a unit row scaled when the scale is further from 1 than the bad row
        reported = float(re.search(r"worst row norm (\S+)", message).group(1).rstrip(";"))
        true_norm = _worst_norm([scale * factor] + [scale] * (rows - 1), scale)
        assert abs(reported - true_norm) <= 2 * tolerance * max(1.0, true_norm)
        if scale != 1.0:
            unscaled = float(re.search(r"\((\S+) with the scalar scale divided out\)", message).group(1))
            assert abs(unscaled - true_norm / scale) <= 2 * tolerance * max(1.0, true_norm / scale)


def _worst_norm(norms: list, scale: float) -> float:
    """The norm of the row furthest from 1, under the reading of the norms closest to passing."""
    low, high = min(norms), max(norms)
    readings = [(low, high)] + ([(low / scale, high / scale)] if scale != 1.0 else [])
    near_low, near_high = min(readings, key=lambda reading: max(1.0 - reading[0], reading[1] - 1.0))
    return low if 1.0 - near_low > near_high - 1.0 else high
