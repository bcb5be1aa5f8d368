"""guard() and unguard(): instrument one model instance, its CLIP submodules and their towers.

The instance's class is swapped for a cached subclass holding the wrappers (see `instrument`), and
so is each tower's; a TorchScript module gets wrappers that call its compiled methods.
"""

from __future__ import annotations

from typing import Any, Iterator, TypeVar

import torch

from .instrument import (
    GUARD_STATE, MODEL, SCRIPT, TOWER, TOWER_ROLE, GuardState, TowerRole, instrumented_class, instrumented_kind,
    is_instrumented, set_class,
)
from .facts import TowerSite
from .settings import Overrides, ToleranceSpec
from .sites import (
    ClassSites, is_excluded, is_script_module, known_classes, looks_like_clip, script_sites, sites_for,
)

Model = TypeVar("Model")

_NO_ENCODER = ("{name} has no CLIP encoder method "
               "(encode_image/encode_text/get_image_features/get_text_features) to guard")
_SCRIPT_WITHOUT_ENCODER = (
    "{name} is a TorchScript module (scripted or traced) with no compiled CLIP encoder method "
    "(encode_image/encode_text/get_image_features/get_text_features): its code runs in TorchScript, "
    "where the checker only sees what such methods return to Python. Guard the Python model instead, "
    "before scripting or tracing it (OpenAI CLIP: clip.load(..., jit=False))"
)


def modules_of(model: Any) -> list[Any]:
    if isinstance(model, torch.nn.Module):
        return list(model.modules())
    return [model]


def resolve_tower(model: Any, path: str) -> Any:
    """The submodule at a dotted path, or None."""
    target = model
    for name in path.split("."):
        target = getattr(target, name, None)
        if target is None:
            return None
    return target


def tower_role_for(model: Any, site: TowerSite, guard_state: GuardState | None) -> tuple[Any, TowerRole] | None:
    """The tower a site names on this model, with its role; None where the site does not fit."""
    tower = resolve_tower(model, site.path)
    if not isinstance(tower, torch.nn.Module) or is_script_module(tower) or instrumented_kind(tower) == MODEL:
        return None
    known = {cls for cls, _ in known_classes()}
    if not known.isdisjoint(type(tower).__mro__) or looks_like_clip(type(tower)):
        return None  # a whole CLIP model inside another: guarded as a model, not as a tower
    projection = None
    if site.projection is not None:
        projection = getattr(model, site.projection, None)
        if not isinstance(projection, torch.Tensor):
            return None  # an nn.Linear projection: its own tower site applies
    return tower, TowerRole(site, type(model).__name__, guard_state, projection)


def _guard_towers(model: Any, sites: ClassSites, state: GuardState) -> None:
    for site in sites.towers:
        found = tower_role_for(model, site, state)
        if found is None:
            continue
        tower, role = found
        if not is_instrumented(tower):
            set_class(tower, instrumented_class(type(tower), TOWER))
        tower.__dict__[TOWER_ROLE] = role


def _guard_state(module: Any, overrides: Overrides) -> GuardState:
    state = module.__dict__.get(GUARD_STATE)
    if state is None or state.session.ended:
        state = module.__dict__[GUARD_STATE] = GuardState(overrides)
    else:  # guarded already: keep its settings, update only the ones given now
        state.overrides = state.overrides.merged(overrides)
    return state


def _guard_model(module: Any, sites: ClassSites, overrides: Overrides) -> None:
    if not is_instrumented(module):
        set_class(module, instrumented_class(type(module), MODEL))
    _guard_towers(module, sites, _guard_state(module, overrides))


def _guard_script(module: torch.jit.ScriptModule, sites: ClassSites, overrides: Overrides) -> None:
    if not is_instrumented(module):
        for site in sites.encoders:
            module.__dict__.pop(site.method, None)  # a ScriptModule caches the methods it has looked up
        set_class(module, instrumented_class(type(module), SCRIPT, sites))
    _guard_state(module, overrides)


def _targets(model: Any) -> Iterator[tuple[Any, ClassSites]]:
    """The modules to guard: known CLIP classes, project classes that look like CLIP models and
    compiled CLIP modules anywhere inside, and the model itself by the generic names."""
    known = {cls for cls, _ in known_classes()}
    found_model = False
    for module in modules_of(model):
        cls = type(module).__dict__.get("__clip_base__", type(module))  # guarded already: its own class
        if is_script_module(module):
            sites = script_sites(module)
        elif not known.isdisjoint(cls.__mro__) or looks_like_clip(cls) and not is_excluded(cls):
            sites = sites_for(cls)
        else:
            continue
        if sites:
            found_model = found_model or module is model
            yield module, sites
    if not found_model and not is_script_module(model):
        sites = sites_for(type(model))
        if sites:
            yield model, sites


def guard(model: Model, *, tolerance: ToleranceSpec = None, strict: bool | None = None,
          check_recognized: bool | None = None) -> Model:
    """Instrument a CLIP model in place (and any supported submodule); returns the model.

    Features from its encoders and towers are tracked, and checked when they enter a similarity
    op. The keyword arguments override the global settings (see `runtime_check.configure`) and any
    active assert_mode's; they must be valid (ValueError otherwise). Guarding a guarded model
    keeps its settings and updates only the ones given.
    """
    overrides = Overrides.of(tolerance, strict, check_recognized)
    targets = list(_targets(model))
    if not targets:
        template = _SCRIPT_WITHOUT_ENCODER if is_script_module(model) else _NO_ENCODER
        raise ValueError(template.format(name=type(model).__name__))
    for module, sites in targets:
        if is_script_module(module):
            _guard_script(module, sites, overrides)
        else:
            _guard_model(module, sites, overrides)
    return model


def _owned_by_a_mode(module: Any) -> bool:
    role = module.__dict__.get(TOWER_ROLE)
    return role is not None and role.guard_state is None


def unguard(model: Model) -> Model:
    """Undo guard(): restore the original classes; returns the model.

    Features its encoders returned while guarded are no longer checked (they behave as plain
    tensors, though their type stays `TrackedFeatures`).
    """
    for module in modules_of(model):
        if _owned_by_a_mode(module):
            continue  # a tower an active assert_mode instrumented: the mode restores it
        if is_instrumented(module):
            set_class(module, type(module).__clip_base__)
        module.__dict__.pop(TOWER_ROLE, None)
        state = module.__dict__.pop(GUARD_STATE, None)
        if state is not None:
            state.session.ended = True
    return model
