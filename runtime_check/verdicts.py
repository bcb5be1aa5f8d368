"""The unit-norm test and where its verdict goes: raised at once, or kept on the device.

A check measures the L2 norm of every row along the contracted dims and keeps only the extremes:
`[max norm, -min norm]` (and the same with the tracked tensor scales divided out, when there are
any). The host decides from those few numbers, knowing the tolerance and the python-number scale.

On CPU (and with strict=True) the extremes are read at once and a violation raises at the op.
On CUDA they are folded into a per-call-site slot of a device-side ledger with one in-place
`maximum`, with no host sync; `verify()` reads the whole ledger in one sync. The details that make
the message (op, operands, origin, chain) stay host-side, one entry per call site and operand.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass
from typing import Sequence

import torch

from .errors import UnnormalizedFeaturesError
from .facts import CAUSES, FIX_HINT
from .provenance import FeatureState, Flaw, Provenance

_NEG_INF = float("-inf")


@dataclass(frozen=True)
class OperandSite:
    """Host-side description of one checked operand of one similarity call site (hashable)."""

    op: str
    location: str
    operand: str
    contracted: tuple[int, ...]
    encoder: str
    origin: str
    chain: str
    dtype: str
    tolerance: float
    rows: int
    state: FeatureState
    number_scale: float  # product of the python-number scales since the encoder (1.0: none)
    scaled: bool
    normalized_axis: int | None
    flaw: Flaw


@dataclass(frozen=True)
class Measured:
    """What the message says about an operand's norms."""

    worst: float  # the true norm of the worst row
    unscaled: float | None  # the same with the scalar scale divided out, when there was one
    bad_rows: int | None  # None when counted on the device (not kept)


def site_for(op: str, location: str, operand: str, contracted: tuple[int, ...], provenance: Provenance,
             dtype: str, tolerance: float, rows: int) -> OperandSite:
    number = 1.0
    for operator, factor in provenance.scale:
        if not isinstance(factor, torch.Tensor):
            number = number * factor if operator == "*" else number / factor
    return OperandSite(op, location, operand, contracted, provenance.encoder, provenance.origin,
                       provenance.describe_chain(), dtype, tolerance, rows, provenance.state, number,
                       bool(provenance.scale), provenance.normalized_axis, provenance.flaw)


# ---------------------------------------------------------------- measuring (device side)


class _Constants:
    """Small constant tensors of one device, made once (by fills: no host-to-device copy)."""

    def __init__(self, device: torch.device) -> None:
        self.sign = torch.ones(2, 1, device=device)
        self.sign[1].fill_(-1.0)
        self.base = torch.zeros(4, 1, device=device)  # [1, -1, 0, 0]: the raw norms
        self.base[:2].copy_(self.sign)
        self.extra = torch.zeros(4, 1, device=device)  # [0, 0, 1, -1]: times 1 / |tensor scale|
        self.extra[2:].copy_(self.sign)
        self.one = torch.ones((), device=device)
        self.neg_inf = torch.full((), _NEG_INF, device=device)


_constants: dict[torch.device, _Constants] = {}


def constants(device: torch.device) -> _Constants:
    found = _constants.get(device)
    if found is None:
        found = _constants[device] = _Constants(device)
    return found


def _tensor_scale(provenance: Provenance) -> torch.Tensor | None:
    """The product of the one-element tensor scales since the encoder, on the device (no sync)."""
    product = None
    for operator, factor in provenance.scale:
        if isinstance(factor, torch.Tensor):
            value = factor.detach().reshape(())
            value = value if operator == "*" else value.reciprocal()
            product = value if product is None else product * value
    return product


def row_norms(features: torch.Tensor, contracted: tuple[int, ...]) -> torch.Tensor:
    """The L2 norm of every row along `contracted`, in fp32 (fp64 for fp64 features): one kernel.

    Complex features give real norms in their own precision; integer ones (after a `.long()`
    cast) are widened to fp32 first.
    """
    if features.is_complex():
        wide = torch.complex128 if features.dtype == torch.complex128 else torch.complex64
        return torch.linalg.vector_norm(features, dim=contracted, dtype=wide)
    if not features.is_floating_point():
        features = features.float()
    wide = torch.float64 if features.dtype == torch.float64 else torch.float32
    return torch.linalg.vector_norm(features, dim=contracted, dtype=wide)


def extremes(norms: torch.Tensor, provenance: Provenance, const: _Constants) -> torch.Tensor:
    """[max, -min] of the norms, then [max, -min] with the tensor scales divided out if any.

    Two kernels without tensor scales (a broadcast multiply and one amax), five with them.
    NaN propagates through both, so a NaN row makes its slot NaN.
    """
    flat = norms if norms.ndim == 1 else norms.reshape(-1)
    scale = _tensor_scale(provenance)
    if scale is None:
        signs = const.sign
    else:
        signs = torch.addcmul(const.base, const.extra, scale.abs().reciprocal().to(norms.dtype))
    return torch.amax(signs * flat, dim=1)


def bank_gate(bank: torch.Tensor, contracted: tuple[int, ...], tolerance: float,
              const: _Constants) -> torch.Tensor:
    """True (on the device) if every vector of the untracked operand is unit: a bank of embeddings."""
    spread = torch.dist(row_norms(bank, contracted), const.one, p=math.inf)
    return spread <= tolerance  # NaN compares False: not a bank


_bank_gates: dict[tuple, tuple[weakref.ref, torch.Tensor]] = {}
_BANK_CACHE_SIZE = 64


def cached_bank_gate(bank: torch.Tensor, contracted: tuple[int, ...], tolerance: float,
                     const: _Constants) -> torch.Tensor:
    """bank_gate, remembered for the same untracked tensor while it is unchanged.

    A zero-shot classifier compares every batch against the same text features (often through a
    fresh `.T` view): their verdict is kept, keyed by the memory they view and their version
    counter (bumped by any in-place write), and valid only while the tensor owning that memory is
    the same live object (a weak reference). Inference tensors keep no version: never cached.
    """
    if bank.is_inference():
        return bank_gate(bank, contracted, tolerance, const)
    owner = bank._base if bank._base is not None else bank
    key = (bank.data_ptr(), bank.shape, bank.stride(), bank.dtype, bank.device, bank._version, contracted,
           tolerance)
    known = _bank_gates.get(key)
    if known is not None and known[0]() is owner:
        return known[1]
    gate = bank_gate(bank, contracted, tolerance, const)
    if len(_bank_gates) >= _BANK_CACHE_SIZE:
        _bank_gates.clear()
    _bank_gates[key] = (weakref.ref(owner), gate)
    return gate


# ---------------------------------------------------------------- the verdict (host side)


def _interpretations(site: OperandSite, values: Sequence[float]) -> list[tuple[float, float, float]]:
    """(low, high, divisor) per reading of the norms: with the scales divided out, then as they are.

    The order breaks ties: when two readings are equally far from passing, the one without the
    deliberate scale (a logit scale) names the row that is really off.
    """
    low, high = -values[1], values[0]
    readings = []
    number = abs(site.number_scale)
    if len(values) == 4 and values[2] != _NEG_INF and number > 0:
        readings.append((-values[3] / number, values[2] / number, None))
    if number != 1.0 and number > 0:
        readings.append((low / number, high / number, number))
    readings.append((low, high, 1.0))
    return readings


def _deviation(low: float, high: float) -> float:
    if math.isnan(low) or math.isnan(high):
        return math.inf
    return max(1.0 - low, high - 1.0)


def passes(site: OperandSite, values: Sequence[float]) -> bool:
    """Every row unit within the tolerance, in one of the readings (NaN never passes)."""
    return any(_deviation(low, high) <= site.tolerance for low, high, _ in _interpretations(site, values))


def measured(site: OperandSite, values: Sequence[float], bad_rows: int | None) -> Measured:
    """The worst row under the reading closest to passing, as a true norm and unscaled."""
    readings = _interpretations(site, values)
    low, high, divisor = min(readings, key=lambda reading: _deviation(reading[0], reading[1]))
    if math.isnan(low) or math.isnan(high):
        return Measured(math.nan, None, bad_rows)
    # a zero row stays zero under every reading: it is the worst row, whatever the others are
    worst_index = 0 if values[1] == 0 or 1.0 - low > high - 1.0 else 1
    true_worst = (-values[1], values[0])[worst_index]  # scaling by a positive factor keeps the order
    if not site.scaled:
        return Measured(true_worst, None, bad_rows)
    if divisor is None:  # the reading with the tensor scales divided out
        return Measured(true_worst, (low, high)[worst_index], bad_rows)
    return Measured(true_worst, true_worst / abs(site.number_scale), bad_rows)


def count_bad_rows(norms: torch.Tensor, site: OperandSite, provenance: Provenance, values) -> int:
    """Rows off under the reading closest to passing (immediate path only: it syncs)."""
    readings = _interpretations(site, values)
    low, high, divisor = min(readings, key=lambda reading: _deviation(reading[0], reading[1]))
    scaled = norms.reshape(-1).double()
    if divisor is None:
        tensor_scale = _tensor_scale(provenance)
        scaled = scaled / abs(site.number_scale) / tensor_scale.abs().double().cpu()
    else:
        scaled = scaled / divisor
    return int((~((scaled - 1).abs() <= site.tolerance)).sum())


def _cause(site: OperandSite, found: Measured) -> str:
    if not math.isfinite(found.worst):
        return CAUSES["nan"]
    if found.worst == 0:
        return CAUSES["zero"]
    if site.state is FeatureState.MEAN_OF_UNIT:
        return CAUSES["mean"]
    if site.flaw is Flaw.NO_AXIS:
        return CAUSES["no_axis"]
    if site.flaw is Flaw.NO_KEEPDIM:
        return CAUSES["no_keepdim"]
    if site.normalized_axis is not None and (site.normalized_axis,) != site.contracted:
        return CAUSES["wrong_axis"].format(axis=site.normalized_axis, contracted=_dims(site.contracted))
    if site.normalized_axis is not None:
        return CAUSES["changed"]
    return CAUSES["never"]


def _dims(contracted: tuple[int, ...]) -> str:
    return str(contracted[0]) if len(contracted) == 1 else str(contracted)


def _operand_lines(site: OperandSite, found: Measured, indent: str) -> list[str]:
    worst = f"worst row norm {found.worst:.6g}"
    if found.unscaled is not None:
        worst += f" ({found.unscaled:.6g} with the scalar scale divided out)"
    rows = (f"{found.bad_rows} of {site.rows} row(s) off" if found.bad_rows is not None
            else f"{site.rows} row(s) per call")
    return [
        f"{indent}features from {site.encoder}() called at {site.origin}",
        f"{indent}ops since: {site.chain}",
        f"{indent}{worst}; tolerance {site.tolerance:g} for {site.dtype}; {rows}",
        f"{indent}cause: {_cause(site, found)}",
    ]


def build_error(failures: Sequence[tuple[OperandSite, Measured]], more: int = 0) -> UnnormalizedFeaturesError:
    """One message for every failing operand of one similarity call, that a user can act on."""
    first = failures[0][0]
    if len(failures) == 1:
        lines = [f"{first.operand} operand of `{first.op}` is not L2-normalized along the contracted "
                 f"dim {_dims(first.contracted)}", f"  at {first.location}"]
        lines += _operand_lines(first, failures[0][1], "  ")
    else:
        names = " and ".join(site.operand for site, _ in failures)
        lines = [f"{names} operands of `{first.op}` are not L2-normalized along their contracted dims",
                 f"  at {first.location}"]
        for site, found in failures:
            lines.append(f"  {site.operand} operand (contracted dim {_dims(site.contracted)}):")
            lines += _operand_lines(site, found, "    ")
    lines.append(f"  fix: {FIX_HINT}")
    if more:
        lines.append(f"  ({more} more violating call site(s) were recorded before verify())")
    return UnnormalizedFeaturesError("\n".join(lines))


# ---------------------------------------------------------------- the deferred ledger


class _DeviceLedger:
    """Per operand site, [max, -min, max, -min with tensor scales divided out], in device memory.

    Slots start at -inf; each check folds its extremes in with one in-place `maximum`.
    """

    CHUNK = 64

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.chunks: list[torch.Tensor] = []
        self.slots: list[tuple[torch.Tensor, torch.Tensor]] = []  # per site: its [:2] and [:4] views

    def _slot(self, index: int, width: int) -> torch.Tensor:
        while index >= len(self.slots):
            chunk = torch.full((self.CHUNK, 4), _NEG_INF, device=self.device)
            self.chunks.append(chunk)
            self.slots.extend((row[:2], row) for row in chunk.unbind(0))
        return self.slots[index][0 if width == 2 else 1]

    def record(self, index: int, values: torch.Tensor) -> None:
        slot = self._slot(index, values.shape[0])
        torch.maximum(slot, values, out=slot)

    def read_and_reset(self) -> list[list[float]]:
        if not self.chunks:
            return []
        rows = torch.cat(self.chunks).tolist() if len(self.chunks) > 1 else self.chunks[0].tolist()
        self.reset()  # the one host sync, at verify()
        return rows

    def reset(self) -> None:
        for chunk in self.chunks:
            chunk.fill_(_NEG_INF)


class Verdicts:
    """Routes each check: raise now (CPU, strict) or fold into the device ledger (CUDA)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ledgers: dict[torch.device, _DeviceLedger] = {}
        self._sites: list[OperandSite] = []
        self._site_index: dict[OperandSite, int] = {}

    def defer(self, site: OperandSite, values: torch.Tensor) -> None:
        """Fold a check's extremes into its site's slot on the device (no sync)."""
        with self._lock:
            index = self._site_index.get(site)
            if index is None:
                index = self._site_index[site] = len(self._sites)
                self._sites.append(site)
            ledger = self._ledgers.get(values.device)
            if ledger is None:
                ledger = self._ledgers[values.device] = _DeviceLedger(values.device)
            ledger.record(index, values)

    def verify(self) -> None:
        """Raise the violations recorded so far, one call site per error; clears what it read."""
        with self._lock:
            ledgers = list(self._ledgers.values())
            sites = list(self._sites)
        groups: dict[tuple[str, str], list[tuple[OperandSite, Measured]]] = {}
        for ledger in ledgers:
            for index, values in enumerate(ledger.read_and_reset()[:len(sites)]):
                site = sites[index]
                if values[0] == _NEG_INF or passes(site, values):
                    continue
                groups.setdefault((site.op, site.location), []).append((site, measured(site, values, None)))
        if groups:
            ordered = sorted(groups.values(), key=lambda failures: self._site_index[failures[0][0]])
            raise build_error(ordered[0], len(ordered) - 1)

    def discard(self) -> None:
        """Forget recorded violations (after a test that failed anyway)."""
        with self._lock:
            ledgers = list(self._ledgers.values())
        for ledger in ledgers:
            ledger.reset()


VERDICTS = Verdicts()
