"""What the checker knows about a tracked tensor: where it came from, what was done to it since."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .settings import CheckSettings, modes_active

MAX_CHAIN = 24


class FeatureState(enum.Enum):
    RAW = "raw"  # not known to be unit: settled numerically
    UNIT = "unit"  # a recognized normalization along `unit_axis`
    MEAN_OF_UNIT = "mean of unit vectors"  # not unit, whatever it looks like
    NORM = "norm"  # the norm of some features (to recognize `x / x.norm(...)`)
    PRODUCT = "product"  # `a * b` of two feature tensors, a similarity once summed
    HIDDEN = "hidden states"  # a tower's hidden states: features once `projection` multiplies them


FEATURE_STATES = frozenset({FeatureState.RAW, FeatureState.UNIT, FeatureState.MEAN_OF_UNIT})


class Flaw(enum.Enum):
    """What was wrong with the last normalization attempt that was not recognized."""

    NONE = ""
    NO_AXIS = "no axis"  # divided by a norm over all elements
    NO_KEEPDIM = "no keepdim"  # divided by a [B] norm: it broadcasts along the feature axis


class Session:
    """Who asked for tracking: a guard() (until unguard) or the assert_modes of a context."""

    def __init__(self) -> None:
        self.ended = False

    @property
    def active(self) -> bool:
        return not self.ended


class _ModeSession(Session):
    @property
    def active(self) -> bool:
        return modes_active()

    def __reduce__(self):
        return "MODE_SESSION"


# Features an assert_mode tracked are checked wherever an assert_mode is active in the context.
MODE_SESSION = _ModeSession()


@dataclass(frozen=True, eq=False)
class Provenance:
    """Immutable record attached to a tracked tensor; every op derives a new one."""

    encoder: str
    origin: str
    settings: CheckSettings
    chain: tuple[str, ...]
    dtypes: frozenset[str]
    state: FeatureState = FeatureState.RAW
    unit_axis: int | None = None  # negative index of the unit axis when state is UNIT
    scale: tuple[tuple[str, Any], ...] = ()  # ("*" or "/", python float or one-element tensor)
    normalized_axis: int | None = None  # axis of the last normalization attempt (for wording)
    flaw: Flaw = Flaw.NONE  # what was wrong with that attempt, when known
    norm_source: "Provenance | None" = None  # NORM: the features whose norm this is
    norm_axis: int | None = None  # NORM: the reduced axis (negative), None for all axes
    norm_keepdim: bool = False
    factors: tuple[Any, Any] | None = None  # PRODUCT: the two tracked operands
    projection: Any = None  # HIDDEN: the parameter whose matmul makes features of these states
    session: Session = MODE_SESSION

    def derive(self, step: str, dtype: str | None = None, **changes: Any) -> "Provenance":
        chain = self.chain if len(self.chain) >= MAX_CHAIN else self.chain + (step,)
        dtypes = changes.pop("dtypes", self.dtypes)
        if dtype is not None and dtype not in dtypes:
            dtypes = dtypes | {dtype}
        # dataclasses.replace re-runs __init__ (several microseconds); this is on every tracked op
        derived = object.__new__(Provenance)
        fields = derived.__dict__
        fields.update(self.__dict__)
        fields.update(changes, chain=chain, dtypes=dtypes)
        return derived

    def as_raw(self, step: str, dtype: str | None = None, **changes: Any) -> "Provenance":
        """Derive with the unit recognition dropped: numerics will decide."""
        state = FeatureState.RAW if self.state is FeatureState.UNIT else self.state
        return self.derive(step, dtype, state=state, unit_axis=None, **changes)

    @property
    def is_features(self) -> bool:
        return self.state in FEATURE_STATES

    def describe_chain(self) -> str:
        text = " -> ".join(self.chain)
        return text + " -> ..." if len(self.chain) >= MAX_CHAIN else text
