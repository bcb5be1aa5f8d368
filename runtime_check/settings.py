"""Check settings (tolerances, strictness): global defaults, overridable per guard() or assert_mode()."""

from __future__ import annotations

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

    def overridden(self, tolerance: ToleranceSpec = None, strict: bool | None = None,
                   check_recognized: bool | None = None) -> "CheckSettings":
        """A copy with the given overrides applied."""
        changes: dict[str, Any] = {}
        if isinstance(tolerance, (int, float)):
            changes["uniform_tolerance"] = float(tolerance)
        elif tolerance is not None:
            merged = dict(self.tolerances)
            merged.update({dtype_name(key): float(value) for key, value in tolerance.items()})
            changes["tolerances"] = MappingProxyType(merged)
            changes["uniform_tolerance"] = None
        if strict is not None:
            changes["strict"] = bool(strict)
        if check_recognized is not None:
            changes["check_recognized"] = bool(check_recognized)
        return replace(self, **changes)


def _rebuild_settings(tolerances: dict, uniform: float | None, strict: bool,
                      check_recognized: bool = False) -> CheckSettings:
    return CheckSettings(MappingProxyType(tolerances), uniform, strict, check_recognized)


_lock = threading.Lock()
_global_settings = CheckSettings()
_mode_stack: list[CheckSettings] = []


def configure(tolerance: ToleranceSpec = None, strict: bool | None = None,
              check_recognized: bool | None = None) -> CheckSettings:
    """Change the global defaults; returns the new settings.

    `tolerance`: a float for every dtype, or {dtype: float}. `strict`: raise on CUDA at the op
    (one host sync per check). `check_recognized`: measure even features that a recognized
    normalizer made unit, to report zero and NaN rows there too.
    """
    global _global_settings
    with _lock:
        _global_settings = _global_settings.overridden(tolerance, strict, check_recognized)
        return _global_settings


def reset_configuration() -> None:
    """Restore the measured default tolerances and non-strict mode."""
    global _global_settings
    with _lock:
        _global_settings = CheckSettings()


def current_settings() -> CheckSettings:
    """The innermost active assert_mode's settings, else the global ones."""
    with _lock:
        return _mode_stack[-1] if _mode_stack else _global_settings


def push_mode_settings(tolerance: ToleranceSpec, strict: bool | None,
                       check_recognized: bool | None) -> CheckSettings:
    with _lock:
        base = _mode_stack[-1] if _mode_stack else _global_settings
        settings = base.overridden(tolerance, strict, check_recognized)
        _mode_stack.append(settings)
        return settings


def pop_mode_settings(settings: CheckSettings) -> None:
    with _lock:
        for index in range(len(_mode_stack) - 1, -1, -1):
            if _mode_stack[index] is settings:
                del _mode_stack[index]
                return


def modes_active() -> bool:
    return bool(_mode_stack)
