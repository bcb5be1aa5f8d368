"""Runtime checker: catch CLIP features compared without L2 normalization, on real models.

    model = runtime_check.guard(model)          # one model, always checked
    with runtime_check.assert_mode(): ...        # every supported model, inside the block
    runtime_check.verify()                       # raise violations deferred on CUDA
    runtime_check.register_model_class(DualEncoder, encoders={"embed_pixels": "image"})

Importing this package does not import torch; the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import UnnormalizedFeaturesError

__all__ = [
    "UnnormalizedFeaturesError",
    "assert_mode",
    "configure",
    "exclude_model_class",
    "forget_model_class",
    "guard",
    "register_model_class",
    "reset_configuration",
    "unguard",
    "verify",
]

_LAZY = {
    "guard": "guarding",
    "unguard": "guarding",
    "register_model_class": "sites",
    "exclude_model_class": "sites",
    "forget_model_class": "sites",
    "assert_mode": "mode",
    "verify": "mode",
    "configure": "settings",
    "reset_configuration": "settings",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'runtime_check' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
