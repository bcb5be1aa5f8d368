"""assert_mode's instrumentation: wrappers set on the CLIP classes themselves while a mode is active.

The classes are the loaded families and their subclasses, the registered project classes, and the
project classes found by structure (see `sites`). Their encoders and scopes are wrapped in the class
dict. Towers are submodule instances, unknown until a model is used: the class's `__getattr__` is
wrapped too, and the first time a tower's name is looked up on a model (by its own code, a
captured method, or the user), that model's towers get their instance class swapped, until the
last mode exits. The patches are process-wide and reference counted; outside a mode they are inert.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Iterator

import torch

from .instrument import (
    ORIGINAL, TOWER, TOWER_ROLE, encoder_wrapper, instrumented_class, is_instrumented, scope_wrapper, set_class,
)
from .guarding import tower_role_for
from .settings import modes_active
from .sites import ClassSites, is_excluded, known_classes, project_classes, sites_for

_ABSENT = object()
_lock = threading.RLock()
_users = 0
_patched: list[tuple[type, str, Any]] = []  # (class, attribute, what its dict held, or _ABSENT)
_mode_towers: list[weakref.ref] = []
_models_seen: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _subclasses(cls: type) -> Iterator[type]:
    yield cls
    for sub in cls.__subclasses__():
        if "__clip_base__" not in sub.__dict__:
            yield from _subclasses(sub)


def _set(cls: type, name: str, value: Any) -> None:
    _patched.append((cls, name, cls.__dict__.get(name, _ABSENT)))
    setattr(cls, name, value)


def _patch_methods(cls: type, sites: ClassSites) -> None:
    for site in sites.encoders:
        original = cls.__dict__.get(site.method)
        if original is not None and not hasattr(original, ORIGINAL):
            _set(cls, site.method, encoder_wrapper(original, site, always=False))
    for name in sites.scopes:
        original = cls.__dict__.get(name)
        if original is not None and not hasattr(original, ORIGINAL):
            _set(cls, name, scope_wrapper(original))


def _inherited_getattr(cls: type) -> Callable:
    return next(klass.__dict__["__getattr__"] for klass in cls.__mro__ if "__getattr__" in klass.__dict__)


def _tower_lookup_wrapper(original: Callable, tower_names: frozenset[str]) -> Callable:
    def __getattr__(self, name):
        value = original(self, name)
        if name in tower_names and not torch.compiler.is_compiling() and modes_active():
            instrument_towers(self)
        return value

    setattr(__getattr__, ORIGINAL, original)
    return __getattr__


def _patch_tower_lookup(cls: type, sites: ClassSites, patched: set[type]) -> None:
    """Wrap `__getattr__` where the class defines one, or where no patched base already does."""
    own = "__getattr__" in cls.__dict__
    if not sites.towers or (not own and not patched.isdisjoint(cls.__mro__[1:])):
        return
    original = _inherited_getattr(cls)
    if hasattr(original, ORIGINAL):
        return
    names = frozenset(site.path.partition(".")[0] for site in sites.towers)
    _set(cls, "__getattr__", _tower_lookup_wrapper(original, names))
    patched.add(cls)


def instrument_towers(model: Any) -> None:
    """Swap the classes of this model's towers for tracking ones, until the last mode exits."""
    with _lock:
        if _users == 0 or model in _models_seen or is_excluded(type(model)):
            return
        _models_seen.add(model)  # first: resolving a dotted path looks names up on the model again
        for site in sites_for(type(model)).towers:
            found = tower_role_for(model, site, None)
            if found is None or is_instrumented(found[0]):
                continue  # a guarded model's towers are the guard's
            tower, role = found
            set_class(tower, instrumented_class(type(tower), TOWER))
            tower.__dict__[TOWER_ROLE] = role
            _mode_towers.append(weakref.ref(tower))


def _classes_to_patch() -> Iterator[tuple[type, ClassSites]]:
    for cls, sites in known_classes():
        for sub in _subclasses(cls):
            yield sub, sites
    yield from project_classes()


def install_class_patches() -> None:
    """Instrument every loaded CLIP class (reference counted: the first active mode does it)."""
    global _users
    with _lock:
        _users += 1
        if _users > 1:
            return
        tower_lookups: set[type] = set()
        for cls, sites in _classes_to_patch():
            _patch_methods(cls, sites)
            _patch_tower_lookup(cls, sites, tower_lookups)


def _restore_mode_towers() -> None:
    while _mode_towers:
        tower = _mode_towers.pop()()
        if tower is None or TOWER_ROLE not in tower.__dict__:
            continue
        if tower.__dict__[TOWER_ROLE].guard_state is None:  # not taken over by a guard() since
            del tower.__dict__[TOWER_ROLE]
            set_class(tower, type(tower).__clip_base__)
    _models_seen.clear()


def remove_class_patches() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users > 0:
            return
        while _patched:
            cls, name, original = _patched.pop()
            if original is _ABSENT:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _restore_mode_towers()
