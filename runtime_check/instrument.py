"""Instrument model classes: encoders return tracked features, the model's own code runs unchecked.

`guard(model)` swaps the instance's class for a cached subclass that overrides the encoder and
internal-scope methods, so `isinstance`, `state_dict`, pickling and `nn.DataParallel` replicas
(which copy `type(module)`) keep working. `assert_mode` instead patches the family classes
themselves, and their subclasses, for as long as a mode is active.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import types
from typing import Any, Callable, Iterator, TypeVar

import torch

from .facts import GENERIC_ENCODERS, GENERIC_INTERNAL_SCOPES, MODEL_FAMILIES, EncoderSite, ModelFamily
from .frames import user_location
from .provenance import MODE_SESSION, FeatureState, Provenance, Session
from .settings import CheckSettings, Overrides, ToleranceSpec, current_settings, dtype_name, modes_active
from .tracking import enter_model, exit_model, provenance_of, track

Model = TypeVar("Model")
_GUARD_STATE = "_clip_guard_state"
_ORIGINAL = "__clip_original__"


# ---------------------------------------------------------------- tagging encoder outputs


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


def tag_output(result: Any, site: EncoderSite, provenance: Provenance) -> Any:
    """Track the features inside an encoder's result: a tensor, a ModelOutput field, a tuple item."""
    if isinstance(result, torch.Tensor):
        return _tag(result, provenance)
    if site.output_field is not None and isinstance(getattr(result, site.output_field, None), torch.Tensor):
        setattr(result, site.output_field, _tag(getattr(result, site.output_field), provenance))
        return result
    if isinstance(result, tuple) and site.tuple_index is not None and len(result) > site.tuple_index:
        items = list(result)
        items[site.tuple_index] = _tag(items[site.tuple_index], provenance)
        return tuple(items)
    return result


class GuardState:
    """What guard() left on a module: its own overrides, and the session unguard() ends."""

    def __init__(self, overrides: Overrides) -> None:
        self.overrides = overrides
        self.session = Session()


def _settings_for(model: Any) -> tuple[CheckSettings, Session]:
    """A guard's own overrides on top of the innermost assert_mode (or the global settings)."""
    state = model.__dict__.get(_GUARD_STATE)
    if state is None:
        return current_settings(), MODE_SESSION
    return current_settings().with_overrides(state.overrides), state.session


def _features_provenance(model: Any, site: EncoderSite, normalized: bool, dtype: str) -> Provenance:
    state = FeatureState.UNIT if normalized else FeatureState.RAW
    step = f"{site.method}(normalize=True)" if normalized else site.method
    settings, session = _settings_for(model)
    return Provenance(
        encoder=f"{type(model).__name__}.{site.method}",
        origin=user_location(),
        settings=settings,
        session=session,
        chain=(step,),
        dtypes=frozenset({dtype}),
        state=state,
        unit_axis=-1 if normalized else None,
        normalized_axis=-1 if normalized else None,
    )


def _first_tensor_dtype(result: Any, site: EncoderSite) -> str:
    value = result
    if not isinstance(value, torch.Tensor):
        value = getattr(result, site.output_field or "", None)
    if not isinstance(value, torch.Tensor) and isinstance(result, tuple) and result:
        value = result[site.tuple_index or 0]
    return dtype_name(value.dtype) if isinstance(value, torch.Tensor) else "float32"


def encoder_wrapper(original: Callable, site: EncoderSite, always: bool) -> Callable:
    """Wrap an encoder: run it as model code, then track its output (outermost call only).

    `always`: track on every call (guard); else only while an assert_mode is active.
    """

    @torch.compiler.disable  # frame walks and bookkeeping: a clean graph break when compiled
    def track_result(self, result, args, kwargs):
        if not (always or modes_active() or _GUARD_STATE in self.__dict__):
            return result
        normalized = _normalizes_itself(original, site, self, args, kwargs)
        provenance = _features_provenance(self, site, normalized, _first_tensor_dtype(result, site))
        return tag_output(result, site, provenance)

    @functools.wraps(original)
    def encoder(self, *args, **kwargs):
        outermost = enter_model()
        try:
            result = original(self, *args, **kwargs)
        finally:
            exit_model()
        return track_result(self, result, args, kwargs) if outermost else result

    setattr(encoder, _ORIGINAL, original)
    return encoder


def scope_wrapper(original: Callable) -> Callable:
    """Wrap a model method that normalizes and compares by itself: nothing inside is checked."""

    @functools.wraps(original)
    def internal(self, *args, **kwargs):
        enter_model()
        try:
            return original(self, *args, **kwargs)
        finally:
            exit_model()

    setattr(internal, _ORIGINAL, original)
    return internal


# ---------------------------------------------------------------- which sites a class has


def _loaded_family_classes() -> Iterator[tuple[type, ModelFamily]]:
    """Family classes whose module is already imported (a model can't exist otherwise)."""
    for family in MODEL_FAMILIES:
        module = sys.modules.get(family.module)
        if module is None:
            continue
        for class_name in family.classes:
            cls = getattr(module, class_name, None)
            if isinstance(cls, type):
                yield cls, family


def sites_for(cls: type) -> tuple[tuple[EncoderSite, ...], tuple[str, ...]]:
    """The encoder sites and internal scopes of a class: from its family, or the generic fallback."""
    families = dict(_loaded_family_classes())
    for klass in cls.__mro__:
        family = families.get(klass)
        if family is not None:
            return family.encoders, family.internal_scopes
    encoders = tuple(site for site in GENERIC_ENCODERS if callable(getattr(cls, site.method, None)))
    scopes = tuple(name for name in GENERIC_INTERNAL_SCOPES if callable(getattr(cls, name, None)))
    return encoders, scopes if encoders else ()


# ---------------------------------------------------------------- guard(): a per-instance class swap

_guarded_classes: dict[type, type] = {}
_guard_lock = threading.Lock()


def _rebuild_guarded(base: type) -> Any:
    """Unpickling: an empty instance of the guarded class; pickle then restores its state."""
    cls = guarded_class(base)
    return cls.__new__(cls)


def _reduce_guarded(self, protocol):
    state = self.__getstate__() if hasattr(self, "__getstate__") else self.__dict__
    return (_rebuild_guarded, (type(self).__clip_base__,), state)


def _unpatched(cls: type, name: str) -> Callable:
    method = getattr(cls, name)
    return getattr(method, _ORIGINAL, method)


def guarded_class(base: type) -> type:
    """The cached subclass of `base` whose encoders always track and whose scopes are unchecked."""
    with _guard_lock:
        cls = _guarded_classes.get(base)
        if cls is not None:
            return cls
        encoders, scopes = sites_for(base)
        namespace: dict[str, Any] = {
            "__clip_base__": base,
            "__reduce_ex__": _reduce_guarded,
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
        }
        for site in encoders:
            namespace[site.method] = encoder_wrapper(_unpatched(base, site.method), site, always=True)
        for name in scopes:
            if name not in namespace:
                namespace[name] = scope_wrapper(_unpatched(base, name))
        cls = types.new_class(base.__name__, (base,), {}, lambda ns: ns.update(namespace))
        _guarded_classes[base] = cls
        return cls


def is_guarded(model: Any) -> bool:
    return "__clip_base__" in type(model).__dict__


def _guard_one(module: Any, overrides: Overrides) -> None:
    if not is_guarded(module):
        module.__class__ = guarded_class(type(module))
    state = module.__dict__.get(_GUARD_STATE)
    if state is None or state.session.ended:
        module.__dict__[_GUARD_STATE] = GuardState(overrides)
    else:  # guarded already: keep its settings, update only the ones given now
        state.overrides = state.overrides.merged(overrides)


def guard(model: Model, *, tolerance: ToleranceSpec = None, strict: bool | None = None,
          check_recognized: bool | None = None) -> Model:
    """Instrument a CLIP model in place (and any supported submodule); returns the model.

    Features from its encoders are tracked, and checked when they enter a similarity op.
    The keyword arguments override the global settings (see `runtime_check.configure`) and any
    active assert_mode's; they must be valid (ValueError otherwise). Guarding a guarded model
    keeps its settings and updates only the ones given.
    """
    overrides = Overrides.of(tolerance, strict, check_recognized)
    family_classes = dict(_loaded_family_classes())
    targets = [m for m in _modules(model) if any(k in family_classes for k in type(m).__mro__)]
    if model not in targets and sites_for(type(model))[0]:
        targets.insert(0, model)  # the generic fallback, for the model handed to guard() only
    if not targets:
        raise ValueError(
            f"{type(model).__name__} has no CLIP encoder method "
            "(encode_image/encode_text/get_image_features/get_text_features) to guard"
        )
    for target in targets:
        _guard_one(target, overrides)
    return model


def unguard(model: Model) -> Model:
    """Undo guard(): restore the original classes; returns the model.

    Features its encoders returned while guarded are no longer checked (they behave as plain
    tensors, though their type stays `TrackedFeatures`).
    """
    for module in _modules(model):
        if is_guarded(module):
            module.__class__ = type(module).__clip_base__
        state = module.__dict__.pop(_GUARD_STATE, None)
        if state is not None:
            state.session.ended = True
    return model


def _modules(model: Any) -> list[Any]:
    if isinstance(model, torch.nn.Module):
        return list(model.modules())
    return [model]


# ---------------------------------------------------------------- assert_mode(): class-level patches

_patch_lock = threading.Lock()
_patch_users = 0
_patched: list[tuple[type, str, Any]] = []


def _subclasses(cls: type) -> Iterator[type]:
    yield cls
    for sub in cls.__subclasses__():
        if "__clip_base__" not in sub.__dict__:
            yield from _subclasses(sub)


def _patch_class(cls: type, encoders: tuple[EncoderSite, ...], scopes: tuple[str, ...]) -> None:
    for site in encoders:
        original = cls.__dict__.get(site.method)
        if original is not None and not hasattr(original, _ORIGINAL):
            _patched.append((cls, site.method, original))
            setattr(cls, site.method, encoder_wrapper(original, site, always=False))
    for name in scopes:
        original = cls.__dict__.get(name)
        if original is not None and not hasattr(original, _ORIGINAL):
            _patched.append((cls, name, original))
            setattr(cls, name, scope_wrapper(original))


def install_class_patches() -> None:
    """Instrument every loaded family class and its subclasses (reference counted)."""
    global _patch_users
    with _patch_lock:
        _patch_users += 1
        if _patch_users > 1:
            return
        for family_class, family in _loaded_family_classes():
            for cls in _subclasses(family_class):
                _patch_class(cls, family.encoders, family.internal_scopes)


def remove_class_patches() -> None:
    global _patch_users
    with _patch_lock:
        _patch_users -= 1
        if _patch_users > 0:
            return
        while _patched:
            cls, name, original = _patched.pop()
            setattr(cls, name, original)
