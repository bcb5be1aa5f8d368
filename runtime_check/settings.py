"""Check settings (tolerances, strictness): global defaults, overridable per guard() or assert_mode().

The assert_mode stack is context-local (a `contextvars.ContextVar`): a mode entered in one thread
checks the models used in that thread only (and in asyncio tasks started inside it).
"""

from __future__ import annotations

import contextvars
import math
import numbers
import threading
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Union

from .facts import DEFAULT_TOLERANCE, TOLERANCES

# A single float applies to every dtype; a mapping overrides some dtypes (torch.dtype or its name).
ToleranceSpec = Union[float, Mapping[Any, float], None]


def dtype_name(dtype: Any) -> str:
    """`torch.float16` -> `"float16"`; strings pass through."""
    return str(dtype).rpartition(".")[2]


def _valid_tolerance(value: Any, where: str) -> float:
    """A finite positive real number, or a ValueError that names the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where} must be a finite positive number, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{where} must be a finite positive number, not {value!r}")
    return number


def _valid_flag(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be True, False or None, not {value!r}")


@dataclass(frozen=True)
class Overrides:
    """The settings one guard() call or assert_mode() asked for: applied on top of a base."""

    tolerance: Any = None  # a float, or a frozen tuple of (dtype name, float)
    strict: bool | None = None
    check_recognized: bool | None = None

    @classmethod
    def of(cls, tolerance: ToleranceSpec = None, strict: bool | None = None,
           check_recognized: bool | None = None) -> "Overrides":
        """Validated overrides: a tolerance must be finite and positive, flags booleans."""
        if tolerance is None:
            spec = None
        elif isinstance(tolerance, Mapping):
            spec = tuple((dtype_name(key), _valid_tolerance(value, f"tolerance[{key!r}]"))
                         for key, value in tolerance.items())
        else:
            spec = _valid_tolerance(tolerance, "tolerance")
        return cls(spec, _valid_flag(strict, "strict"), _valid_flag(check_recognized, "check_recognized"))

    def merged(self, newer: "Overrides") -> "Overrides":
        """These overrides updated by the ones `newer` gives (re-guarding a guarded model)."""
        tolerance = self.tolerance
        if isinstance(newer.tolerance, tuple) and isinstance(tolerance, tuple):
            tolerance = tuple(dict(tolerance, **dict(newer.tolerance)).items())
        elif newer.tolerance is not None:
            tolerance = newer.tolerance
        return Overrides(
            tolerance,
            self.strict if newer.strict is None else newer.strict,
            self.check_recognized if newer.check_recognized is None else newer.check_recognized,
        )


@dataclass(frozen=True)
class CheckSettings:
    """How strictly unit norms are judged."""

    tolerances: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict(TOLERANCES)))
    uniform_tolerance: float | None = None
    strict: bool = False
    check_recognized: bool = False  # also measure features a recognized normalizer made unit

    def tolerance_for(self, dtype_names: Iterable[str]) -> float:
        """The loosest tolerance among the dtypes the features passed through."""
        if self.uniform_tolerance is not None:
            return self.uniform_tolerance
        return max(self.tolerances.get(name, DEFAULT_TOLERANCE) for name in dtype_names)

    def __reduce__(self):  # MappingProxyType does not pickle
        return (_rebuild_settings,
                (dict(self.tolerances), self.uniform_tolerance, self.strict, self.check_recognized))

    def with_overrides(self, overrides: Overrides) -> "CheckSettings":
        """A copy with validated overrides applied."""
        changes: dict[str, Any] = {}
        if isinstance(overrides.tolerance, float):
            changes["uniform_tolerance"] = overrides.tolerance
        elif overrides.tolerance is not None:
            merged = dict(self.tolerances)
            merged.update(dict(overrides.tolerance))
            changes["tolerances"] = MappingProxyType(merged)
            changes["uniform_tolerance"] = None
        if overrides.strict is not None:
            changes["strict"] = overrides.strict
        if overrides.check_recognized is not None:
            changes["check_recognized"] = overrides.check_recognized
        return replace(self, **changes) if changes else self

    def overridden(self, tolerance: ToleranceSpec = None, strict: bool | None = None,
                   check_recognized: bool | None = None) -> "CheckSettings":
        """A copy with the given overrides applied (validated: ValueError on a bad value)."""
        return self.with_overrides(Overrides.of(tolerance, strict, check_recognized))


def _rebuild_settings(tolerances: dict, uniform: float | None, strict: bool,
                      check_recognized: bool = False) -> CheckSettings:
    return CheckSettings(MappingProxyType(tolerances), uniform, strict, check_recognized)


_lock = threading.Lock()
_global_settings = CheckSettings()
# The active assert_modes of this context, innermost last.
_modes: contextvars.ContextVar[tuple[CheckSettings, ...]] = contextvars.ContextVar(
    "clip_assert_modes", default=())


def configure(tolerance: ToleranceSpec = None, strict: bool | None = None,
              check_recognized: bool | None = None) -> CheckSettings:
    """Change the global defaults; returns the new settings.

    `tolerance`: a finite positive float for every dtype, or {dtype: float}. `strict`: raise on
    CUDA at the op (one host sync per check). `check_recognized`: measure even features that a
    recognized normalizer made unit, to report zero and NaN rows there too.
    """
    global _global_settings
    overrides = Overrides.of(tolerance, strict, check_recognized)
    with _lock:
        _global_settings = _global_settings.with_overrides(overrides)
        return _global_settings


def reset_configuration() -> None:
    """Restore the measured default tolerances and non-strict mode."""
    global _global_settings
    with _lock:
        _global_settings = CheckSettings()


def global_settings() -> CheckSettings:
    return _global_settings


def current_settings() -> CheckSettings:
    """The innermost active assert_mode's settings in this context, else the global ones."""
    modes = _modes.get()
    return modes[-1] if modes else _global_settings


def push_mode_settings(overrides: Overrides) -> CheckSettings:
    settings = current_settings().with_overrides(overrides)
    # a fresh object even without overrides: pop_mode_settings removes by identity
    settings = replace(settings)
    _modes.set(_modes.get() + (settings,))
    return settings


def pop_mode_settings(settings: CheckSettings) -> None:
    modes = _modes.get()
    for index in range(len(modes) - 1, -1, -1):
        if modes[index] is settings:
            _modes.set(modes[:index] + modes[index + 1:])
            return


def modes_active() -> bool:
    return bool(_modes.get())
