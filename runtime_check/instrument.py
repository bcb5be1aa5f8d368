"""The wrappers that make features tracked where a model makes them, and the classes that hold them.

Three kinds of wrapper, each running the model's own code unchecked:
- an *encoder* (`encode_image`, `get_text_features`, ...) tags the features it returns;
- a *tower* (`visual`, `visual_projection`, ...: a submodule whose `forward` makes the final
  features) tags its output, so that features are tracked however the code reaches the tower:
  through `forward`, a direct call, or an encoder method captured before checking began;
- a *scope* (`forward`, `get_logits`) runs the model's own normalization and similarity.
Only the outermost encoder or tower running tags (an encoder's own tower call is its business).
Under `fullgraph=True` compilation every wrapper is the bare method: nothing breaks the graph.

`guarding` swaps an instance's class for a cached subclass holding these wrappers (`isinstance`,
`state_dict`, pickling and `nn.DataParallel` replicas keep working); `patching` sets them on the
classes themselves while an assert_mode is active.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from typing import Any, Callable

import torch

from .compiling import graph_break_when_compiled, in_one_graph_region
from .facts import EncoderSite, TowerSite
from .frames import user_location
from .provenance import MODE_SESSION, FeatureState, Provenance, Session
from .settings import CheckSettings, Overrides, current_settings, dtype_name, modes_active
from .sites import ClassSites, is_excluded, sites_for
from .tracking import enter_feature_maker, enter_model, exit_feature_maker, exit_model, provenance_of, track

GUARD_STATE = "_clip_guard_state"
TOWER_ROLE = "_clip_tower_role"
ORIGINAL = "__clip_original__"


class GuardState:
    """What guard() left on a module: its own overrides, and the session unguard() ends."""

    def __init__(self, overrides: Overrides) -> None:
        self.overrides = overrides
        self.session = Session()

    def settings(self) -> tuple[CheckSettings, Session]:
        """Its overrides on top of the innermost assert_mode (or the global settings)."""
        return current_settings().with_overrides(self.overrides), self.session


class TowerRole:
    """What a tower submodule makes, for which model, and under whose guard (None: assert_mode's)."""

    def __init__(self, site: TowerSite, owner: str, guard_state: GuardState | None,
                 projection: torch.Tensor | None = None) -> None:
        self.site = site
        self.owner = owner
        self.guard_state = guard_state
        self.projection = projection

    def active(self) -> bool:
        if self.guard_state is not None and not self.guard_state.session.ended:
            return True
        return modes_active()

    def settings(self) -> tuple[CheckSettings, Session]:
        if self.guard_state is None or self.guard_state.session.ended:
            return current_settings(), MODE_SESSION
        return self.guard_state.settings()


# ---------------------------------------------------------------- tagging outputs


@functools.lru_cache(maxsize=None)
def _signature(function: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def _normalizes_itself(original: Callable, site: EncoderSite, model: Any, args: tuple, kwargs: dict) -> bool:
    if site.normalize_arg is None:
        return False
    if site.normalize_arg in kwargs:
        return bool(kwargs[site.normalize_arg])
    signature = _signature(original)
    if signature is None or site.normalize_arg not in signature.parameters:
        return False
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return False
    bound.apply_defaults()
    return bool(bound.arguments.get(site.normalize_arg))


def _tag(value: Any, provenance: Provenance) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and provenance_of(value) is None:
        return track(value, provenance)
    return value


def _features_in(result: Any, output_field: str | None, tuple_index: int | None) -> Any:
    """The features inside a result: the tensor itself, a ModelOutput field, or a tuple item."""
    if isinstance(result, torch.Tensor):
        return result
    if output_field is not None and isinstance(getattr(result, output_field, None), torch.Tensor):
        return getattr(result, output_field)
    if isinstance(result, tuple) and tuple_index is not None and len(result) > tuple_index:
        return result[tuple_index]
    return None


def tag_output(result: Any, output_field: str | None, tuple_index: int | None, provenance: Provenance) -> Any:
    """Track the features inside a result, where `_features_in` finds them."""
    if isinstance(result, torch.Tensor):
        return _tag(result, provenance)
    if output_field is not None and isinstance(getattr(result, output_field, None), torch.Tensor):
        setattr(result, output_field, _tag(getattr(result, output_field), provenance))
        return result
    if isinstance(result, tuple) and tuple_index is not None and len(result) > tuple_index:
        items = list(result)
        items[tuple_index] = _tag(items[tuple_index], provenance)
        return tuple(items)
    return result


def _dtype_of(features: Any) -> str:
    return dtype_name(features.dtype) if isinstance(features, torch.Tensor) else "float32"


def _model_settings(model: Any) -> tuple[CheckSettings, Session]:
    state = model.__dict__.get(GUARD_STATE)
    if state is None:
        return current_settings(), MODE_SESSION
    return state.settings()


def _encoder_provenance(model: Any, site: EncoderSite, normalized: bool, dtype: str) -> Provenance:
    settings, session = _model_settings(model)
    return Provenance(
        encoder=f"{type(model).__name__}.{site.method}",
        origin=user_location(),
        settings=settings,
        session=session,
        chain=(f"{site.method}(normalize=True)" if normalized else site.method,),
        dtypes=frozenset({dtype}),
        state=FeatureState.UNIT if normalized else FeatureState.RAW,
        unit_axis=-1 if normalized else None,
        normalized_axis=-1 if normalized else None,
    )


def _tower_provenance(role: TowerRole, dtype: str) -> Provenance:
    settings, session = role.settings()
    hidden = role.projection is not None
    return Provenance(
        encoder=f"{role.owner}.{role.site.projection if hidden else role.site.path}",
        origin=user_location(),
        settings=settings,
        session=session,
        chain=(role.site.path,),
        dtypes=frozenset({dtype}),
        state=FeatureState.HIDDEN if hidden else FeatureState.RAW,
        projection=role.projection,
    )


# ---------------------------------------------------------------- the wrappers


def _feature_maker(original: Callable, track_result: Callable) -> Callable:
    """Run `original` as model code, then `track_result(self, result, args, kwargs)` if no other
    encoder or tower was running (in a fullgraph region: `original` alone)."""

    @functools.wraps(original)
    def maker(self, *args, **kwargs):
        if in_one_graph_region():
            return original(self, *args, **kwargs)
        outermost = enter_feature_maker()
        try:
            result = original(self, *args, **kwargs)
        finally:
            exit_feature_maker()
        return track_result(self, result, args, kwargs) if outermost else result

    setattr(maker, ORIGINAL, original)
    return maker


def encoder_wrapper(original: Callable, site: EncoderSite, always: bool) -> Callable:
    """Wrap an encoder method: its output is tracked (`always`: on every call, as guard() wants;
    else only while an assert_mode is active)."""

    @graph_break_when_compiled  # frame walks and bookkeeping
    def track_result(self, result, args, kwargs):
        if not (always or GUARD_STATE in self.__dict__ or modes_active() and not is_excluded(type(self))):
            return result
        normalized = _normalizes_itself(original, site, self, args, kwargs)
        features = _features_in(result, site.output_field, site.tuple_index)
        provenance = _encoder_provenance(self, site, normalized, _dtype_of(features))
        return tag_output(result, site.output_field, site.tuple_index, provenance)

    return _feature_maker(original, track_result)


@graph_break_when_compiled
def _track_tower_output(tower: Any, result: Any, args: tuple, kwargs: dict) -> Any:
    role = tower.__dict__.get(TOWER_ROLE)
    if role is None or not role.active():
        return result
    features = _features_in(result, None, role.site.tuple_index)
    return tag_output(result, None, role.site.tuple_index, _tower_provenance(role, _dtype_of(features)))


def tower_wrapper(original: Callable) -> Callable:
    """Wrap a tower's forward: its output is tracked while its role (guard or mode) is active."""
    return _feature_maker(original, _track_tower_output)


def scope_wrapper(original: Callable) -> Callable:
    """Wrap a model method that normalizes and compares by itself: nothing inside is checked."""

    @functools.wraps(original)
    def internal(self, *args, **kwargs):
        if in_one_graph_region():
            return original(self, *args, **kwargs)
        enter_model()
        try:
            return original(self, *args, **kwargs)
        finally:
            exit_model()

    setattr(internal, ORIGINAL, original)
    return internal


def script_method(name: str) -> Callable:
    """Call a TorchScript module's compiled method `name` (what its `__getattr__` would return)."""

    def call(self, *args, **kwargs):
        return self._c._get_method(name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# ---------------------------------------------------------------- classes holding the wrappers

_instrumented_classes: dict[tuple, type] = {}
_classes_lock = threading.Lock()
MODEL, TOWER, SCRIPT = "model", "tower", "script"


def unpatched(cls: type, name: str) -> Callable:
    """A class's method as its library wrote it (under an assert_mode patch, the patched original)."""
    method = getattr(cls, name)
    return getattr(method, ORIGINAL, method)


def _rebuild_guarded(base: type, kind: str = MODEL) -> Any:
    """Unpickling: an empty instance of the instrumented class; pickle then restores its state."""
    cls = instrumented_class(base, kind)
    return cls.__new__(cls)


def _rebuild_plain(base: type) -> Any:
    return base.__new__(base)


def _reduce_guarded(self, protocol):
    state = self.__getstate__() if hasattr(self, "__getstate__") else self.__dict__
    base, kind = type(self).__clip_base__, type(self).__clip_kind__
    role = state.get(TOWER_ROLE)
    if kind == TOWER and (role is None or role.guard_state is None):
        # an assert_mode's swap lasts as long as the mode: a copy made meanwhile is a plain tower
        return (_rebuild_plain, (base,), {key: value for key, value in state.items() if key != TOWER_ROLE})
    return (_rebuild_guarded, (base, kind), state)


def _wrappers(base: type, kind: str, sites: ClassSites) -> dict[str, Callable]:
    if kind == TOWER:
        return {"forward": tower_wrapper(unpatched(base, "forward"))}
    if kind == SCRIPT:
        return {site.method: encoder_wrapper(script_method(site.method), site, always=True)
                for site in sites.encoders}
    wrappers = {site.method: encoder_wrapper(unpatched(base, site.method), site, always=True)
                for site in sites.encoders}
    for name in sites.scopes:
        wrappers.setdefault(name, scope_wrapper(unpatched(base, name)))
    return wrappers


def instrumented_class(base: type, kind: str = MODEL, sites: ClassSites | None = None) -> type:
    """The cached subclass of `base` holding the wrappers of one kind, for its sites (a MODEL's are
    looked up: registering a class later gives its instances a class of their own)."""
    if kind == MODEL and sites is None:
        sites = sites_for(base)
    key = (base, kind, sites if kind != TOWER else None)
    with _classes_lock:
        cls = _instrumented_classes.get(key)
        if cls is not None:
            return cls
        namespace: dict[str, Any] = {
            "__clip_base__": base,
            "__clip_kind__": kind,
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            **_wrappers(base, kind, sites or ClassSites()),
        }
        if kind != SCRIPT:  # a ScriptModule copies itself through its own __deepcopy__
            namespace["__reduce_ex__"] = _reduce_guarded
        cls = types.new_class(base.__name__, (base,), {}, lambda ns: ns.update(namespace))
        _instrumented_classes[key] = cls
        return cls


def set_class(module: Any, cls: type) -> None:
    """Swap an instance's class, past any `__setattr__` of its own (a traced module forwards every
    attribute it is given to the script module inside it)."""
    object.__setattr__(module, "__class__", cls)


def is_instrumented(module: Any) -> bool:
    return "__clip_base__" in type(module).__dict__


def instrumented_kind(module: Any) -> str | None:
    return type(module).__dict__.get("__clip_kind__")
