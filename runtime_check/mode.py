"""assert_mode(): checking on for a block of code, for every supported model, guarded or not."""

from __future__ import annotations

from contextlib import ContextDecorator

from .patching import install_class_patches, remove_class_patches
from .settings import CheckSettings, Overrides, ToleranceSpec, pop_mode_settings, push_mode_settings
from .verdicts import VERDICTS


def verify() -> None:
    """Raise the first violation recorded on a device (CUDA) and not raised yet; clears it."""
    __tracebackhide__ = True
    VERDICTS.verify()


class assert_mode(ContextDecorator):
    """Check every CLIP model of a supported class inside the block (also a decorator).

    On exit, violations recorded on the device are raised, unless the block raised already.
    The keyword arguments override the global settings (see `runtime_check.configure`); they
    must be valid (ValueError otherwise). The mode is context-local: it checks the models used
    in the thread (or asyncio task) that entered it, not those of other threads.
    """

    def __init__(self, *, tolerance: ToleranceSpec = None, strict: bool | None = None,
                 check_recognized: bool | None = None) -> None:
        self._overrides = Overrides.of(tolerance, strict, check_recognized)
        self._entered: list[CheckSettings] = []

    def __enter__(self) -> "assert_mode":
        self._entered.append(push_mode_settings(self._overrides))
        install_class_patches()
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        __tracebackhide__ = True
        remove_class_patches()
        pop_mode_settings(self._entered.pop())
        if exc_type is None:
            VERDICTS.verify()
        else:
            VERDICTS.discard()
        return False
