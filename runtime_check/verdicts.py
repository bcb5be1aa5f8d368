"""The unit-norm test and where its verdict goes: raised at once, or kept on the device.

On CPU (and with strict=True) a violation raises immediately. On CUDA the verdict stays in a
small device-side ledger, with no host sync, and `verify()` reads it later; the details that
make the message (op, operand, origin, chain) are kept host-side, one entry per call site.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import torch

from .errors import UnnormalizedFeaturesError
from .facts import FIX_HINT
from .provenance import FeatureState, Provenance

# Layout of the stats vector computed on the device for one check: how many rows fail, and the
# norm of the worst one (non-finite and zero rows rank worst, so the norm also tells the cause).
_BAD_ROWS, _WORST_NORM = range(2)


@dataclass(frozen=True)
class CheckSite:
    """Host-side description of one similarity check (hashable: one ledger entry per site)."""

    op: str
    operand: str
    contracted: tuple[int, ...]
    encoder: str
    origin: str
    chain: str
    dtype: str
    tolerance: float
    rows: int
    user_location: str
    state: FeatureState
    scaled: bool
    normalized_axis: object


def _scale_factors(provenance: Provenance) -> tuple[float, torch.Tensor | None]:
    """The products of the number and of the tensor scales applied since the encoder (no sync)."""
    number = 1.0
    tensor_factor = None
    for operator, factor in provenance.scale:
        if isinstance(factor, torch.Tensor):
            value = factor.detach().reshape(()).float()
            value = value if operator == "*" else value.reciprocal()
            tensor_factor = value if tensor_factor is None else tensor_factor * value
        else:
            number = number * factor if operator == "*" else number / factor
    return number, tensor_factor


def _deviation(features: torch.Tensor, contracted: tuple[int, ...], provenance: Provenance):
    """Per row: |norm - 1| (the smallest over the scale interpretations), and the norm to report."""
    wide = torch.float64 if features.dtype == torch.float64 else torch.float32
    norms = torch.linalg.vector_norm(features.detach(), dim=contracted, dtype=wide).reshape(-1)
    reported = norms
    deviation = (norms - 1).abs()
    if provenance.scale:
        number, tensor_factor = _scale_factors(provenance)
        reported = norms / abs(number)
        if tensor_factor is not None:
            deviation = torch.minimum(deviation, (reported - 1).abs())
            reported = reported / tensor_factor.abs()
        deviation = torch.minimum(deviation, (reported - 1).abs())
    return norms, deviation, reported


def passes_now(features: torch.Tensor, contracted: tuple[int, ...], provenance: Provenance,
               tolerance: float) -> bool:
    """The cheap verdict where a host sync is free (CPU) or asked for (strict): a few kernels."""
    with torch.no_grad():
        _, deviation, _ = _deviation(features, contracted, provenance)
        return bool(deviation.max() <= tolerance)  # NaN compares False


def unit_norm_stats(
    features: torch.Tensor, contracted: tuple[int, ...], provenance: Provenance, tolerance: float
) -> torch.Tensor:
    """[bad rows, worst row norm], computed where the features live, in a dozen small kernels.

    A row passes if its norm is 1, or 1 once the tracked scalar scales are divided out (all of
    them, or only the python-number ones: a one-element tensor may be a batch-1 statistic).
    """
    with torch.no_grad():
        norms, deviation, reported = _deviation(features, contracted, provenance)
        badness = torch.where(norms == 0, float("inf"), deviation.nan_to_num(nan=float("inf")))
        bad_rows = (badness > tolerance).sum()
        worst_norm = reported.gather(0, badness.argmax().reshape(1))
        return torch.cat([bad_rows.reshape(1).to(worst_norm.dtype), worst_norm]).float()


def _cause(site: CheckSite, stats: list[float]) -> str:
    worst = stats[_WORST_NORM]
    if not math.isfinite(worst):
        return (
            "a row has a NaN or Inf norm "
            "(a zero row divided by its norm gives NaN; F.normalize keeps it at zero)"
        )
    if worst == 0:
        return "a row is all zeros (norm 0): an empty feature can't be compared by cosine"
    if site.state is FeatureState.MEAN_OF_UNIT:
        return "it is the mean of unit vectors, which is not a unit vector: renormalize after .mean()"
    if site.normalized_axis == "all":
        return "it was divided by a norm taken over all elements (no dim): each row must be normalized on its own"
    if site.normalized_axis is not None and (site.normalized_axis,) != site.contracted:
        return (
            f"it was normalized along dim {site.normalized_axis}, but the similarity contracts "
            f"dim {_dims(site.contracted)}"
        )
    if site.normalized_axis is not None:
        return "it was normalized, then changed by a later op (see the ops since)"
    return "it was never L2-normalized"


def _dims(contracted: tuple[int, ...]) -> str:
    return str(contracted[0]) if len(contracted) == 1 else str(contracted)


def build_error(site: CheckSite, stats: list[float], more: int = 0) -> UnnormalizedFeaturesError:
    """The message a user can act on."""
    scaled = " (after dividing out the scalar scale)" if site.scaled else ""
    lines = [
        f"{site.operand} operand of `{site.op}` is not L2-normalized along the contracted "
        f"dim {_dims(site.contracted)}",
        f"  at {site.user_location}",
        f"  features from {site.encoder}() called at {site.origin}",
        f"  ops since: {site.chain}",
        f"  worst row norm {stats[_WORST_NORM]:.6g}{scaled}; tolerance {site.tolerance:g} "
        f"for {site.dtype}; {int(stats[_BAD_ROWS])} of {site.rows} row(s) off",
        f"  cause: {_cause(site, stats)}",
        f"  fix: {FIX_HINT}",
    ]
    if more:
        lines.append(f"  ({more} more violating check(s) were recorded before verify())")
    return UnnormalizedFeaturesError("\n".join(lines))


class _DeviceLedger:
    """The first violation on one device, and a count, kept in device memory: [site, count, stats]."""

    def __init__(self, device: torch.device) -> None:
        self.state = torch.full((4,), -1.0, device=device)
        self.state[1:].zero_()

    def record(self, site_index: int, stats: torch.Tensor) -> None:
        violated = stats[_BAD_ROWS : _BAD_ROWS + 1] > 0
        newly = violated & (self.state[:1] < 0)
        self.state[:1].copy_(torch.where(newly, float(site_index), self.state[:1]))
        self.state[1:2].add_(violated)
        self.state[2:].copy_(torch.where(newly, stats, self.state[2:]))

    def read_and_reset(self) -> list[float]:
        values = self.state.tolist()  # the one host sync, at verify()
        self.reset()
        return values

    def reset(self) -> None:
        self.state[:1].fill_(-1.0)
        self.state[1:].zero_()


class Verdicts:
    """Routes each check's stats: raise now (CPU, strict) or record on the device (CUDA)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ledgers: dict[torch.device, _DeviceLedger] = {}
        self._sites: list[CheckSite] = []
        self._site_index: dict[CheckSite, int] = {}

    def submit(self, site: CheckSite, stats: torch.Tensor, strict: bool) -> None:
        if stats.device.type == "cpu" or strict:
            values = stats.tolist()
            if values[_BAD_ROWS] > 0:
                raise build_error(site, values)
            return
        with self._lock:
            index = self._site_index.setdefault(site, len(self._sites))
            if index == len(self._sites):
                self._sites.append(site)
            ledger = self._ledgers.get(stats.device)
            if ledger is None:
                ledger = self._ledgers[stats.device] = _DeviceLedger(stats.device)
            ledger.record(index, stats)

    def verify(self) -> None:
        """Raise the first recorded violation, if any; clears what it read."""
        with self._lock:
            ledgers = list(self._ledgers.values())
        for ledger in ledgers:
            first_site, bad_checks, *stats = ledger.read_and_reset()
            if first_site >= 0:
                raise build_error(self._sites[int(first_site)], stats, int(bad_checks) - 1)

    def discard(self) -> None:
        """Forget recorded violations (after a test that failed anyway)."""
        with self._lock:
            ledgers = list(self._ledgers.values())
        for ledger in ledgers:
            ledger.reset()


VERDICTS = Verdicts()
