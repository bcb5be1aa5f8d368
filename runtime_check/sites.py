"""Which methods and submodules of a model class make CLIP features, and which run its own checks.

The answer comes from the facts tables (a known family), from a project class registered by the
user, from the structure of a project class (both encoder methods of one pair), or from the
generic names. Nothing here instruments anything: `instrument`, `guarding` and `patching` do.
"""

from __future__ import annotations

import importlib
import sys
import threading
import weakref
from dataclasses import dataclass
from typing import Iterator, Mapping

import torch

from .facts import (
    GENERIC_ENCODERS, GENERIC_INTERNAL_SCOPES, GENERIC_TOWERS, MODEL_FAMILIES, NOT_PROJECT_PACKAGES,
    STRUCTURAL_ENCODER_PAIRS, EncoderSite, ModelFamily, TowerSite,
)


@dataclass(frozen=True)
class ClassSites:
    """What to instrument on one model class."""

    encoders: tuple[EncoderSite, ...] = ()
    scopes: tuple[str, ...] = ()
    towers: tuple[TowerSite, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.encoders)


NO_SITES = ClassSites()

# Project classes named by the user (runtime_check.register_model_class, ini `clip_assert_classes`),
# and classes that look like CLIP models but must not be taken for one (exclude_model_class).
_registered: dict[type, ClassSites] = {}
_excluded: set[type] = set()
_registry_lock = threading.Lock()


def _family_sites(family: ModelFamily) -> ClassSites:
    return ClassSites(family.encoders, family.internal_scopes, family.towers)


def _generic_sites(cls: type, encoders: tuple[EncoderSite, ...] = GENERIC_ENCODERS) -> ClassSites:
    """The generic encoders, scopes and towers this class has (a tower is checked on the instance)."""
    found = tuple(site for site in encoders if callable(getattr(cls, site.method, None)))
    if not found:
        return NO_SITES
    scopes = tuple(name for name in GENERIC_INTERNAL_SCOPES
                   if callable(getattr(cls, name, None)) and name not in {site.method for site in found})
    return ClassSites(found, scopes, GENERIC_TOWERS)


def known_classes() -> Iterator[tuple[type, ClassSites]]:
    """Family classes whose module is already imported (a model can't exist otherwise), then the
    registered project classes."""
    for family in MODEL_FAMILIES:
        module = sys.modules.get(family.module)
        if module is None:
            continue
        for class_name in family.classes:
            cls = getattr(module, class_name, None)
            if isinstance(cls, type):
                yield cls, _family_sites(family)
    with _registry_lock:
        registered = list(_registered.items())
    yield from registered


def sites_for(cls: type) -> ClassSites:
    """The sites of a class: from its family (or registration) in the MRO, or the generic fallback."""
    known = dict(known_classes())
    for klass in cls.__mro__:
        sites = known.get(klass)
        if sites is not None:
            return sites
    return _generic_sites(cls)


# ---------------------------------------------------------------- project classes


def _all_module_classes() -> Iterator[type]:
    seen: set[type] = set()
    pending = [torch.nn.Module]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                pending.append(sub)
                yield sub


_shapes: "weakref.WeakKeyDictionary[type, bool]" = weakref.WeakKeyDictionary()


def looks_like_clip(cls: type) -> bool:
    """Both encoder methods of one pair, defined by a class that is not torch's or the checker's
    (remembered per class: every assert_mode asks again about every loaded module class)."""
    known = _shapes.get(cls)
    if known is None:
        known = _shapes[cls] = _has_an_encoder_pair(cls)
    return known


def _has_an_encoder_pair(cls: type) -> bool:
    if cls.__module__.partition(".")[0] in NOT_PROJECT_PACKAGES or "__clip_base__" in cls.__dict__:
        return False
    return any(all(callable(getattr(cls, name, None)) for name in pair) for pair in STRUCTURAL_ENCODER_PAIRS)


def project_classes() -> list[tuple[type, ClassSites]]:
    """Loaded nn.Module classes that look like CLIP models and no family or registration covers."""
    known = {cls for cls, _ in known_classes()}
    with _registry_lock:
        known |= _excluded
    found = []
    for cls in _all_module_classes():
        if looks_like_clip(cls) and known.isdisjoint(cls.__mro__):
            found.append((cls, _generic_sites(cls)))
    return found


def register_model_class(cls: type, encoders: Mapping[str, str] | None = None) -> type:
    """Check a project CLIP class like a supported family, under guard() and assert_mode.

    `encoders` maps each method that returns raw features to its modality ("image" or "text"),
    for classes whose methods have other names than encode_image/encode_text or
    get_image_features/get_text_features; by default the class's methods of those names are used.
    Its `forward` and `get_logits` run unchecked, and its towers with the usual names are tracked.
    Returns the class, so it works as a decorator.
    """
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise TypeError(f"register_model_class() takes an nn.Module subclass, not {cls!r}")
    if encoders is None:
        sites = _generic_sites(cls)
    else:
        named = tuple(EncoderSite(method, modality) for method, modality in encoders.items())
        missing = [site.method for site in named if not callable(getattr(cls, site.method, None))]
        if missing:
            raise ValueError(f"{cls.__name__} has no method {', '.join(missing)}")
        sites = _generic_sites(cls, named)
    if not sites:
        raise ValueError(f"{cls.__name__} has no CLIP encoder method: name them with encoders={{...}}")
    with _registry_lock:
        _registered[cls] = sites
    return cls


def exclude_model_class(cls: type) -> type:
    """Never take this class (or its subclasses) for a CLIP model by its structure under assert_mode.

    For a project class with encode_image/encode_text (or get_image_features/get_text_features)
    whose outputs are not meant to be compared by cosine. guard() of it still works. Returns the class.
    """
    if not isinstance(cls, type):
        raise TypeError(f"exclude_model_class() takes a class, not {cls!r}")
    with _registry_lock:
        _excluded.add(cls)
    return cls


def is_excluded(cls: type) -> bool:
    """Excluded by exclude_model_class(), itself or through a base class."""
    if not _excluded:
        return False
    with _registry_lock:
        return not _excluded.isdisjoint(cls.__mro__)


def forget_model_class(cls: type) -> None:
    """Undo register_model_class() or exclude_model_class() for this class."""
    with _registry_lock:
        _registered.pop(cls, None)
        _excluded.discard(cls)


def import_class(spec: str) -> type:
    """`package.module:Class` or `package.module.Class` -> the class (ImportError, AttributeError)."""
    module_name, colon, qualname = spec.partition(":")
    if not colon:
        module_name, _, qualname = spec.rpartition(".")
    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


# ---------------------------------------------------------------- TorchScript


def is_script_module(module: object) -> bool:
    return isinstance(module, torch.jit.ScriptModule)


def _script_class_path(module: torch.jit.ScriptModule) -> tuple[str, str]:
    """(`clip.model`, `CLIP`) from the compiled type's `__torch__.clip.model.CLIP` (mangling dropped)."""
    try:
        qualified = module._c._type().qualified_name()
    except (AttributeError, RuntimeError):
        return "", ""
    parts = [part for part in qualified.split(".") if part != "__torch__" and not part.startswith("___torch_mangle")]
    return ".".join(parts[:-1]), parts[-1] if parts else ""


def script_sites(module: torch.jit.ScriptModule) -> ClassSites:
    """The encoders a scripted or traced module has as compiled methods (its code runs in TorchScript:
    there are no scopes or towers to instrument). The family is read from the compiled type's name."""
    module_name, class_name = _script_class_path(module)
    candidates = GENERIC_ENCODERS
    for family in MODEL_FAMILIES:
        if family.module == module_name and class_name in family.classes:
            candidates = family.encoders
            break
    return ClassSites(tuple(site for site in candidates if module._c._has_method(site.method)))
