"""The mechanism: a Tensor subclass that carries provenance and checks similarity ops.

Encoder and tower outputs are re-viewed as `TrackedFeatures` (same storage, same autograd graph).
Its `__torch_function__` runs every op exactly as torch would, on plain tensors, and only decides
what the result is: still features (carried, scaled, aggregated, normalized), a norm of
features, a product awaiting `.sum(dim)`, hidden states awaiting their model's projection, or an
untracked plain tensor. Inside the model's own code (`model_depth()`) ops are not followed. Similarity ops run
first (so torch's own errors come through unchanged), then the unit norm of their tracked
operands is checked along the contracted dims.
"""

from __future__ import annotations

import copy
import numbers
import sys
import threading
from typing import Any, Callable

import torch
from torch._C import DisableTorchFunctionSubclass

from . import facts
from .compiling import graph_break_when_compiled
from .errors import CheckerInternalError, UnnormalizedFeaturesError
from .frames import user_location
from .provenance import FeatureState, Flaw, Provenance
from .settings import dtype_name
from .verdicts import (
    VERDICTS, bank_gate, build_error, cached_bank_gate, constants, count_bad_rows, extremes, measured, passes,
    row_norms, site_for,
)

_PROVENANCE = "_clip_provenance"
# Devices where reading a verdict costs no sync: checks there raise at the op. (bench/ empties it
# to time the deferred CUDA path's host work on CPU tensors.)
IMMEDIATE_DEVICES = {"cpu"}


class _RunningModelCode(threading.local):
    """Per thread: the instrumented model methods running, and how many of them make features."""

    depth = 0
    makers = 0


_running = _RunningModelCode()


def model_depth() -> int:
    """How many instrumented model methods are running on this thread."""
    return _running.depth


@graph_break_when_compiled  # thread-local bookkeeping
def enter_model() -> None:
    """Mark the start of a model's own code: ops on features inside it are not followed."""
    _running.depth += 1


@graph_break_when_compiled
def exit_model() -> None:
    _running.depth -= 1


@graph_break_when_compiled
def enter_feature_maker() -> bool:
    """Mark the start of an encoder or tower (model code too); True if no other one is running.

    Only the outermost one tags what it returns: an encoder's own tower call is its business.
    """
    _running.depth += 1
    _running.makers += 1
    return _running.makers == 1


@graph_break_when_compiled
def exit_feature_maker() -> None:
    _running.depth -= 1
    _running.makers -= 1


def provenance_of(value: Any) -> Provenance | None:
    """What the checker knows about `value`; None for plain tensors and after unguard()."""
    if not isinstance(value, TrackedFeatures):
        return None
    provenance = value.__dict__.get(_PROVENANCE)
    if provenance is None or not provenance.session.active:
        return None
    return provenance


def track(tensor: torch.Tensor, provenance: Provenance) -> "TrackedFeatures":
    """View `tensor` as tracked features (no copy; stays on the autograd graph).

    A tensor of another subclass (a FakeTensor while tracing, ...) can't be re-viewed: it stays
    as it is, untracked.
    """
    if type(tensor) is not torch.Tensor and type(tensor) is not TrackedFeatures:
        return tensor
    with DisableTorchFunctionSubclass():
        tracked = tensor.as_subclass(TrackedFeatures)
    tracked.__dict__[_PROVENANCE] = provenance
    return tracked


def _plain_alias(tensor: torch.Tensor) -> torch.Tensor:
    """The same data as a plain tensor, with the same leaf status and requires_grad."""
    with DisableTorchFunctionSubclass():
        if tensor.is_leaf:
            return torch.Tensor._make_subclass(torch.Tensor, tensor, tensor.requires_grad)
        return tensor.as_subclass(torch.Tensor)


class TrackedFeatures(torch.Tensor):
    """CLIP features whose normalization the checker follows."""

    @classmethod
    @torch.compiler.disable  # inside compiled code: a graph break, then this runs eagerly
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # Everything below, the user's op and the checker's own tensor reads, runs on plain tensors.
        with DisableTorchFunctionSubclass():
            if model_depth():
                return _run_as_model_code(func, args, kwargs)
            if torch._C._get_dispatch_mode(_FAKE_MODE) is not None:
                # tracing with fake tensors: it rejects tensor subclasses, and there is nothing to measure
                return func(*_plain_tree(args), **_plain_tree(kwargs))
            name = getattr(func, "__name__", "")
            if name == "__get__":  # property reads (.shape, .dtype, ...): only .T and .mT matter
                name = getattr(getattr(func, "__self__", None), "__name__", "")
                if name not in _PROPERTY_OPS:
                    return func(*args, **kwargs)
            handler = _HANDLERS.get(name)
            if handler is None:
                if not _is_in_place_write(name):
                    return func(*args, **kwargs)
                handler = _IN_PLACE_HANDLER
            return handler(func, name, args, kwargs)

    def __reduce_ex__(self, protocol):
        # Saved features are plain tensors: loading them must not need this package.
        return _plain_alias(self).__reduce_ex__(protocol)

    def __deepcopy__(self, memo):
        """A deep copy is a copy of the plain tensor, tracked like the original (as unguarded: leaves only)."""
        if id(self) in memo:
            return memo[id(self)]
        plain = _plain_alias(self)
        if not plain.is_leaf:  # torch's own refusal, with torch's own message
            return torch.Tensor.__deepcopy__(plain, memo)
        copied = copy.deepcopy(plain, memo)
        if self.grad is not None:
            copied.grad = copy.deepcopy(self.grad, memo)
        for key, value in self.__dict__.items():
            if key != _PROVENANCE:
                setattr(copied, key, copy.deepcopy(value, memo))
        provenance = self.__dict__.get(_PROVENANCE)
        result = copied
        if provenance is not None:
            with DisableTorchFunctionSubclass():
                result = torch.Tensor._make_subclass(TrackedFeatures, copied, copied.requires_grad)
            result.__dict__.update(copied.__dict__)
            result.__dict__[_PROVENANCE] = provenance
            if copied.grad is not None:
                result.grad = copied.grad
        memo[id(self)] = result
        return result

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_is_param" and value:
            # nn.Parameter(features) on a Tensor subclass: a parameter is a weight, not features.
            # Make it the real nn.Parameter torch builds for a plain tensor (same leaf, same data).
            self.__dict__.pop(_PROVENANCE, None)
            object.__setattr__(self, "__class__", torch.nn.Parameter)
            return
        super().__setattr__(name, value)


_FAKE_MODE = torch._C._TorchDispatchModeKey.FAKE


def _run_as_model_code(func: Callable, args: tuple, kwargs: dict) -> Any:
    """An op inside the model's own code: not followed; a tower's output the model rewrites in place
    (`x.mul_(scale)`) is no longer the features that were tagged."""
    result = func(*args, **kwargs)
    if args and result is args[0] and isinstance(result, TrackedFeatures):
        name = getattr(func, "__name__", "")
        if name in facts.IN_PLACE_OPS or _is_in_place_write(name):
            result.__dict__.pop(_PROVENANCE, None)
    return result


def _plain_tree(value: Any) -> Any:
    """`value` with every tracked tensor inside (lists, tuples, dicts) replaced by a plain alias."""
    if isinstance(value, TrackedFeatures):
        return value.as_subclass(torch.Tensor)
    if isinstance(value, (tuple, list)):
        return type(value)(_plain_tree(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain_tree(item) for key, item in value.items()}
    return value


# .T and .mT are properties too: route them (and only them) to their handler.
_PROPERTY_OPS = frozenset({"T", "mT"})
_REAL_TENSOR_TYPES = frozenset({torch.Tensor, TrackedFeatures, torch.nn.Parameter})


def _is_in_place_write(name: str) -> bool:
    if name in facts.IN_PLACE_WRITES:
        return True
    return name.endswith("_") and not name.startswith("_") and name not in facts.NOT_WRITES


def _guarded(handler: Callable) -> Callable:
    """Run the checker's own logic so that its failures never look like a user TypeError."""

    def run(func, name, args, kwargs):
        try:
            return handler(func, name, args, kwargs)
        except (UnnormalizedFeaturesError, CheckerInternalError):
            raise
        except _UserOpError as error:
            raise error.original from None
        except Exception as error:  # noqa: BLE001 - converted, never swallowed
            raise CheckerInternalError(f"clip-lint runtime checker failed on `{name}`: {error!r}") from error

    return run


class _UserOpError(Exception):
    """Wraps an exception raised by the user's op itself, which must propagate unchanged."""

    def __init__(self, original: BaseException) -> None:
        self.original = original


def _call(func: Callable, args: tuple, kwargs: dict) -> Any:
    """The user's op, from a handler (inside __torch_function__: subclass dispatch is off already)."""
    try:
        return func(*args, **kwargs)
    except Exception as error:
        raise _UserOpError(error) from None


# ---------------------------------------------------------------- helpers


def _scalar_value(value: Any) -> Any:
    """A scale as stored: a float for any real number (numpy's too), a one-element tensor, or None."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_":
        return float(value)
    # [B, 1] keepdim statistics are per row even at batch 1: only 0-d and [1] tensors are scales
    if isinstance(value, torch.Tensor) and provenance_of(value) is None and value.ndim <= 1 and value.numel() == 1:
        return value
    return None


def _negative_axis(axis: int, ndim: int) -> int:
    return axis - ndim if axis >= 0 else axis


def _axes(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """Any valid `dim` spelling (int, tuple or list, negative or not) as sorted negative axes; None: all."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if not dim:
            return None
        return tuple(sorted({_negative_axis(int(d), ndim) for d in dim}))
    return (_negative_axis(int(dim), ndim),)


def _dtype_of(result: Any) -> str | None:
    return dtype_name(result.dtype) if isinstance(result, torch.Tensor) else None


def _wrap(result: Any, provenance: Provenance) -> Any:
    """Track every tensor in `result` (a tensor, or the tuple/list of chunk/split/unbind)."""
    if isinstance(result, torch.Tensor):
        return track(result, provenance)
    if isinstance(result, (tuple, list)):
        return type(result)(_wrap(item, provenance) for item in result)
    return result


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _step(name: str, args: tuple, kwargs: dict) -> str:
    if name in ("T", "mT"):
        return f".{name}"
    if name == "__getitem__":
        return "[...]"
    if name in facts.JOIN_OPS:
        return name
    if name in facts.AGGREGATE_OPS:
        dim = _arg(args, kwargs, 1, "dim")
        return f".{name}(dim={dim})" if dim is not None else f".{name}()"
    return f".{name}()"


def _measurable(tensor: torch.Tensor) -> bool:
    """A tensor whose values can be read: not meta, fake, functional or a functorch wrapper."""
    if type(tensor) not in _REAL_TENSOR_TYPES:  # FakeTensor, FunctionalTensor, other subclasses
        fake = sys.modules.get("torch._subclasses.fake_tensor")
        if fake is not None and fake.is_fake(tensor):
            return False
    if tensor.device.type == "meta" or torch._is_functional_tensor(tensor):
        return False
    return not torch._C._functorch.is_functorch_wrapped_tensor(tensor)


# ---------------------------------------------------------------- carrying ops


def _axis_after(axis: int | None, name: str, source: torch.Tensor, result: torch.Tensor,
                args: tuple, kwargs: dict) -> int | None:
    """Where a recorded axis (negative) of `source` is in `result`, or None if the op loses it."""
    if axis is None:
        return None
    ndim = source.ndim
    if name in facts.AXIS_KEEPING_OPS:
        return axis if result.ndim == ndim else None
    if name in facts.TRANSPOSE_OPS:
        if name in ("T", "t") or ndim == 2 and name != "mT":
            return -2 if axis == -1 else (-1 if axis == -2 else None)
        if name == "mT":
            return -2 if axis == -1 else (-1 if axis == -2 else axis)
        first = _arg(args, kwargs, 1, "axis0" if name == "swapaxes" else "dim0")
        second = _arg(args, kwargs, 2, "axis1" if name == "swapaxes" else "dim1")
        if first is None or second is None:
            return None
        first, second = _negative_axis(first, ndim), _negative_axis(second, ndim)
        return second if axis == first else first if axis == second else axis
    if name == "permute":
        order = kwargs.get("dims", args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:])
        order = [d + ndim if d < 0 else d for d in order]
        return order.index(axis + ndim) - ndim if axis + ndim in order else None
    if name == "unsqueeze":
        dim = _arg(args, kwargs, 1, "dim")
        position = dim if dim >= 0 else dim + ndim + 1
        return axis if position <= ndim + axis else axis - 1
    if name in facts.RESHAPING_OPS:
        keeps = axis == -1 and result.ndim >= 1 and ndim >= 1 and result.shape[-1] == source.shape[-1]
        return -1 if keeps and (result.shape[-1] != 1 or result.numel() == source.numel()) else None
    if name in facts.DIM_OPS:
        position, keyword, default, removes = facts.DIM_OPS[name]
        dim = _arg(args, kwargs, position, keyword, default)
        if not isinstance(dim, int):
            return None
        dim = _negative_axis(dim, ndim)
        if dim == axis:
            return None
        return axis + 1 if removes and dim > axis else axis
    if name == "__getitem__":
        return axis if _index_keeps_trailing_axes(args[1], ndim, axis) else None
    return None


def _index_keeps_trailing_axes(index: Any, ndim: int, axis: int) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    if any(item is None or item is Ellipsis or isinstance(item, bool) for item in items):
        return False
    # a boolean mask indexes as many axes as it has
    indexed = sum(item.ndim if isinstance(item, torch.Tensor) and item.dtype == torch.bool else 1
                  for item in items)
    return indexed <= ndim + axis  # only axes before the unit axis are indexed


_AXIS_MOVING_OPS = facts.TRANSPOSE_OPS | {"permute"}


def _carry(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    source = args[0]
    provenance = provenance_of(source)
    if provenance is None or not isinstance(result, (torch.Tensor, tuple, list)):
        return result
    if provenance.state is FeatureState.HIDDEN:  # pooled, cast: still awaiting the projection
        return _carry_hidden(name, args, kwargs, source, provenance, result)
    if not provenance.is_features:
        return result
    if result is source:
        # an op that returns `self` (.float() on fp32, requires_grad_()): the same tensor and leaf,
        # only its history grows (a fresh alias would be a non-leaf once it requires grad)
        source.__dict__[_PROVENANCE] = provenance.derive(_step(name, args, kwargs))
        return result
    sample = result if isinstance(result, torch.Tensor) else next(iter(result), None)
    if not isinstance(sample, torch.Tensor):
        return result
    # an integer cast truncates: a unit mark does not survive it
    keeps_values = sample.is_floating_point() or sample.is_complex()
    unit_axis = (_axis_after(provenance.unit_axis, name, source, sample, args, kwargs)
                 if provenance.state is FeatureState.UNIT and keeps_values else None)
    normalized_axis = _axis_after(provenance.normalized_axis, name, source, sample, args, kwargs)
    if normalized_axis is None and sample.ndim == source.ndim and name not in _AXIS_MOVING_OPS:
        normalized_axis = provenance.normalized_axis  # cut along that axis: "then changed by a later op"
    step = _step(name, args, kwargs)
    dtype = _dtype_of(sample)
    if unit_axis is not None:
        derived = provenance.derive(step, dtype, unit_axis=unit_axis, normalized_axis=normalized_axis)
    else:
        derived = provenance.as_raw(step, dtype, normalized_axis=normalized_axis)
    return _wrap(result, derived)


def _carry_hidden(name, args, kwargs, source, provenance: Provenance, result):
    derived = provenance.derive(_step(name, args, kwargs))
    if result is source:
        source.__dict__[_PROVENANCE] = derived
        return result
    return _wrap(result, derived)


def _join(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    tensors = list(_arg(args, kwargs, 0, "tensors", ()))
    provenances = [provenance_of(t) for t in tensors]
    tracked = [p for p in provenances if p is not None and p.is_features]
    if not tracked or not isinstance(result, torch.Tensor):
        return result
    first = tracked[0]
    complete = len(tracked) == len(tensors)
    dim = _arg(args, kwargs, 1, "dim", 0)
    ndim = tensors[0].ndim
    all_unit = complete and all(p.state is FeatureState.UNIT and p.unit_axis == first.unit_axis for p in tracked)
    keeps_axis = all_unit and _join_keeps_axis(name, dim, ndim, first.unit_axis)
    same_scale = complete and all(p.scale == first.scale for p in tracked)
    same_attempt = all(p.normalized_axis == first.normalized_axis and p.flaw is first.flaw for p in tracked)
    dtypes = frozenset().union(*(p.dtypes for p in tracked))
    if any(p.state is FeatureState.MEAN_OF_UNIT for p in tracked):
        state = FeatureState.MEAN_OF_UNIT
    else:
        state = FeatureState.UNIT if keeps_axis else FeatureState.RAW
    normalized_axis = first.normalized_axis if same_attempt else None
    if normalized_axis is not None and name == "stack":
        normalized_axis = normalized_axis if _join_keeps_axis(name, dim, ndim, normalized_axis) else None
    derived = first.derive(name, dtypes=dtypes, scale=first.scale if same_scale else (), state=state,
                           unit_axis=first.unit_axis if state is FeatureState.UNIT else None,
                           normalized_axis=normalized_axis, flaw=first.flaw if same_attempt else Flaw.NONE)
    return track(result, derived)


def _join_keeps_axis(name: str, dim: int, ndim: int, axis: int) -> bool:
    """cat along another axis, or stack before the axis, keeps its negative index."""
    if name != "stack":
        return _negative_axis(dim, ndim) != axis
    position = dim if dim >= 0 else dim + ndim + 1
    return position <= ndim + axis


def _in_place_write(func, name, args, kwargs):
    """`copy_`, `fill_`, `+=`, `x[:, 0] = ...` on tracked features: a unit mark is stale now."""
    result = _call(func, args, kwargs)
    target = args[0] if args else None
    provenance = provenance_of(target)
    if provenance is None:
        return result
    if provenance.is_features:
        target.__dict__[_PROVENANCE] = provenance.as_raw(_step(name, args, kwargs), scale=())
    else:  # a norm or a product written into is neither any more
        target.__dict__.pop(_PROVENANCE, None)
    return result


# ---------------------------------------------------------------- scaling and normalizing


def _scale(func, name, args, kwargs):
    operator = facts.SCALING_OPS[name]
    left, right = args[0], (args[1] if len(args) > 1 else kwargs.get("other"))
    left_p, right_p = provenance_of(left), provenance_of(right)
    in_place = name in facts.IN_PLACE_OPS
    if operator == "*" and not in_place and left_p is None and right_p is not None:  # mul(2, x)
        left, right, left_p, right_p = right, left, right_p, left_p
    result = _call(func, args, kwargs)
    if left_p is None or not isinstance(result, torch.Tensor):
        return result
    derived = _scaled_provenance(operator, left, left_p, right, right_p, result)
    if derived is None:
        if in_place and result is args[0]:
            result.__dict__.pop(_PROVENANCE, None)
        return result
    if in_place and result is args[0]:
        result.__dict__[_PROVENANCE] = derived
        return result
    return track(result, derived)


def _scaled_provenance(operator: str, features: torch.Tensor, provenance: Provenance, other: Any,
                       other_p: Provenance | None, result: torch.Tensor) -> Provenance | None:
    dtype = dtype_name(result.dtype)
    if provenance.state in (FeatureState.NORM, FeatureState.HIDDEN):
        return None
    if other_p is not None and other_p.is_features:
        if operator == "*" and other is not features:
            return provenance.derive("* features", dtype, state=FeatureState.PRODUCT,
                                     factors=(features, other), unit_axis=None)
        return None
    if other_p is None:
        factor = _scalar_value(other)
        if factor is not None:
            return provenance.derive(f"{operator} scalar", dtype, scale=provenance.scale + ((operator, factor),))
    if other_p is not None and other_p.state is FeatureState.NORM and operator == "/":
        return _divided_by_norm(features, provenance, other_p, dtype)
    return provenance.as_raw(f"{operator} tensor", dtype, scale=())


def _divided_by_norm(features: torch.Tensor, provenance: Provenance, norm: Provenance,
                     dtype: str) -> Provenance:
    own_norm = norm.norm_source is provenance
    axis = norm.norm_axis
    if own_norm and axis is not None and (norm.norm_keepdim or features.ndim == 1):
        return provenance.derive("/ norm", dtype, state=FeatureState.UNIT, unit_axis=axis, scale=(),
                                 normalized_axis=axis, flaw=Flaw.NONE)
    if own_norm and axis is None and features.ndim == 1:
        return provenance.derive("/ norm", dtype, state=FeatureState.UNIT, unit_axis=-1, scale=(),
                                 normalized_axis=-1, flaw=Flaw.NONE)
    if axis is None:
        return provenance.as_raw("/ norm", dtype, scale=(), normalized_axis=None, flaw=Flaw.NO_AXIS)
    flaw = Flaw.NO_KEEPDIM if not norm.norm_keepdim else Flaw.NONE
    return provenance.as_raw("/ norm", dtype, scale=(), normalized_axis=axis, flaw=flaw)


def _norm(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    source = args[0]
    provenance = provenance_of(source)
    if provenance is None or not provenance.is_features or not isinstance(result, torch.Tensor):
        return result
    order = _arg(args, kwargs, 1, "p" if name == "norm" else "ord", 2)
    if order not in (2, 2.0, "fro", None):
        return result
    axes = _axes(_arg(args, kwargs, 2, "dim"), source.ndim)
    if axes is not None and len(axes) != 1:
        return result
    keepdim = bool(_arg(args, kwargs, 3, "keepdim", False))
    derived = provenance.derive(f".{name}()", state=FeatureState.NORM, norm_source=provenance,
                                norm_axis=None if axes is None else axes[0], norm_keepdim=keepdim,
                                unit_axis=None, scale=())
    return track(result, derived)


def _norm_carry(func, name, args, kwargs):
    """Keep a norm a norm through eps guards and casts; anything else on features is plain."""
    provenance = provenance_of(args[0])
    if provenance is not None and provenance.state is FeatureState.NORM:
        result = _call(func, args, kwargs)
        if isinstance(result, torch.Tensor) and result is not args[0]:
            return track(result, provenance)
        return result
    if name in facts.CARRYING_OPS:
        return _carry(func, name, args, kwargs)
    if _is_in_place_write(name):
        return _in_place_write(func, name, args, kwargs)
    return _call(func, args, kwargs)


def _normalize(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    source = args[0]
    provenance = provenance_of(source)
    if provenance is None or not provenance.is_features or not isinstance(result, torch.Tensor):
        return result
    dim_name, default_dim = facts.NORMALIZING_OPS[name]
    order = _arg(args, kwargs, 1, "p", 2.0)
    dim = _arg(args, kwargs, 2, dim_name, default_dim)
    axes = _axes(dim, source.ndim)
    step = f"F.{name}(dim={dim})"
    if order != 2 or axes is None or len(axes) != 1:
        return track(result, provenance.as_raw(step, scale=()))
    derived = provenance.derive(step, dtype_name(result.dtype), state=FeatureState.UNIT, unit_axis=axes[0],
                                scale=(), normalized_axis=axes[0], flaw=Flaw.NONE)
    return track(result, derived)


# ---------------------------------------------------------------- aggregates


def _aggregate(func, name, args, kwargs):
    provenance = provenance_of(args[0])
    if provenance is not None and provenance.state is FeatureState.PRODUCT:
        result = _call(func, args, kwargs)  # torch's own errors first
        if name in facts.PRODUCT_REDUCTIONS:
            _product_sum(name, args, kwargs, provenance)
        return result
    result = _call(func, args, kwargs)
    if provenance is None or not provenance.is_features or not isinstance(result, torch.Tensor):
        return result
    source = args[0]
    axes = _axes(_arg(args, kwargs, 1, "dim"), source.ndim)
    if axes is None:
        return result
    feature_axis = provenance.unit_axis if provenance.unit_axis is not None else -1
    if max(axes) >= feature_axis:  # reducing the feature axis: not a batch of vectors any more
        return result
    state = (FeatureState.MEAN_OF_UNIT if provenance.state in (FeatureState.UNIT, FeatureState.MEAN_OF_UNIT)
             else FeatureState.RAW)
    derived = provenance.derive(_step(name, args, kwargs), dtype_name(result.dtype), state=state,
                                unit_axis=None)
    return track(result, derived)


def _product_sum(name, args, kwargs, provenance: Provenance) -> None:
    product = args[0]
    dim = _arg(args, kwargs, 1, "dim")
    axes = _axes(dim, product.ndim)
    if axes is None:
        return
    left, right = provenance.factors
    _check(f"(a * b).{name}(dim={dim})", [(left, axes), (right, axes)])


# ---------------------------------------------------------------- similarity ops


def _is_parameter_like(value: Any) -> bool:
    if isinstance(value, torch.nn.Parameter):
        return True
    return isinstance(getattr(value, "_base", None), torch.nn.Parameter)


def _similarity(func, name, args, kwargs):
    result = _call(func, args, kwargs)  # a shape error is torch's own, raised before any check
    if isinstance(result, torch.Tensor) and not _measurable(result):
        return result  # shape inference (meta, fake tensors while tracing): nothing to measure
    if name == "einsum":
        pairs = _einsum_operands(args, kwargs)
    elif name == "tensordot":
        pairs = _tensordot_operands(args, kwargs)
    else:
        pairs = _binary_operands(name, args, kwargs)
        projected = _projected_features(name, pairs, result)
        if projected is not None:
            return projected
    if pairs:
        _check(_display_name(name), pairs)
    return result


def _projected_features(name: str, pairs, result: Any) -> torch.Tensor | None:
    """`hidden @ text_projection`: the model's own projection of tracked hidden states makes features."""
    (left, _), (right, _) = pairs
    provenance = provenance_of(left)
    if provenance is None or provenance.state is not FeatureState.HIDDEN:
        return None
    if right is not provenance.projection or not isinstance(result, torch.Tensor):
        return None
    step = f"@ {provenance.encoder.rpartition('.')[2]}"
    return track(result, provenance.derive(step, dtype_name(result.dtype), state=FeatureState.RAW,
                                           projection=None))


def _display_name(name: str) -> str:
    return {"__matmul__": "@", "__rmatmul__": "@", "linear": "F.linear"}.get(name, name)


def _operand_names(count: int) -> tuple[str, ...]:
    return ("left", "right") if count == 2 else tuple(f"#{i}" for i in range(count))


def _binary_operands(name: str, args: tuple, kwargs: dict):
    contraction = facts.SIMILARITY_OPS[name]
    (left_at, left_name), (right_at, right_name) = contraction.operands
    left = _arg(args, kwargs, left_at, left_name)
    right = _arg(args, kwargs, right_at, right_name)
    if name == "__rmatmul__":
        left, right = right, left
    right_dims = contraction.right_if_vector if getattr(right, "ndim", 2) == 1 else contraction.right
    return [(left, contraction.left), (right, right_dims)]


def _einsum_operands(args: tuple, kwargs: dict):
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    specs = inputs.split(",")
    if len(operands) < 2 or len(specs) != len(operands):
        return None
    if not arrow:  # implicit output: the broadcast dims, then the labels used once, sorted
        letters = [c for c in inputs if c.isalpha()]
        output = ("..." if "..." in inputs else "") + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ellipsis_summed = "..." in inputs and "..." not in output
    pairs = []
    for spec, operand in zip(specs, operands):
        ndim = getattr(operand, "ndim", len(spec))
        before, has_ellipsis, after = spec.partition("...")
        if has_ellipsis:
            labelled = [(c, i - ndim) for i, c in enumerate(before)]
            labelled += [(c, i - len(after)) for i, c in enumerate(after)]
        else:
            labelled = [(c, i - len(spec)) for i, c in enumerate(spec)]
        summed = {axis for label, axis in labelled if label not in output}
        if has_ellipsis and ellipsis_summed:
            summed.update(range(len(before) - ndim, -len(after)))
        pairs.append((operand, tuple(sorted(summed))))
    return pairs


def _tensordot_operands(args: tuple, kwargs: dict):
    left, right = _arg(args, kwargs, 0, "a"), _arg(args, kwargs, 1, "b")
    dims = _arg(args, kwargs, 2, "dims", 2)
    if isinstance(dims, torch.Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        left_dims, right_dims = tuple(range(-dims, 0)), tuple(range(0, dims))
    else:
        left_dims, right_dims = (tuple(d) if isinstance(d, (tuple, list)) else (d,) for d in dims)
    return [(left, _axes(left_dims, left.ndim)), (right, _axes(right_dims, right.ndim))]


def _check(op: str, pairs) -> None:
    """Check the tracked features among `pairs` (operand, contracted dims); untracked tensors decide
    whether this is a similarity at all: a trained weight or a matrix whose vectors aren't unit makes
    it a linear head, an untracked bank of unit vectors a similarity."""
    names = _operand_names(len(pairs))
    tracked, others = [], []
    for (operand, dims), operand_name in zip(pairs, names):
        if not isinstance(operand, torch.Tensor) or not dims:
            continue
        provenance = provenance_of(operand)
        if provenance is not None and provenance.is_features:
            tracked.append((operand, tuple(_negative_axis(d, operand.ndim) for d in dims), provenance,
                            operand_name))
        else:
            others.append((operand, dims))
    if not tracked:
        return
    if any(_is_parameter_like(other) for other, _ in others):
        return  # a trained weight: a linear head (its norms drift while it trains)
    pending = [entry for entry in tracked if _needs_measuring(*entry[:3])]
    if not pending or not all(_measurable(other) and other.is_floating_point() and other.numel()
                              for other, _ in others):
        return
    location = user_location()
    with torch.no_grad():
        if any(entry[0].device.type in IMMEDIATE_DEVICES or entry[2].settings.strict for entry in pending):
            _check_now(op, location, pending, others)
        else:
            _check_deferred(op, location, pending, others)


def _needs_measuring(features: torch.Tensor, contracted: tuple[int, ...], provenance: Provenance) -> bool:
    recognized = provenance.state is FeatureState.UNIT and contracted == (provenance.unit_axis,)
    if recognized and not provenance.settings.check_recognized:
        return False
    return features.numel() > 0 and features.dtype is not torch.bool and _measurable(features)


def _site(op: str, location: str, features, contracted, provenance: Provenance, operand_name: str):
    dtype = dtype_name(features.dtype)
    tolerance = provenance.settings.tolerance_for(provenance.dtypes | {dtype})
    rows = features.numel() // max(1, _product(features.shape[d] for d in contracted))
    return site_for(op, location, operand_name, contracted, provenance, dtype, tolerance, rows)


def _bank_tolerance(provenance: Provenance, other: torch.Tensor) -> float:
    return provenance.settings.tolerance_for({dtype_name(other.dtype)})


def _check_now(op: str, location: str, pending, others) -> None:
    """CPU, or strict: read the extremes now and raise one error naming every failing operand."""
    failures = []
    for features, contracted, provenance, operand_name in pending:
        site = _site(op, location, features, contracted, provenance, operand_name)
        norms = row_norms(features, contracted)
        values = extremes(norms, provenance, constants(norms.device)).tolist()
        if not passes(site, values):
            failures.append((site, measured(site, values, count_bad_rows(norms, site, provenance, values))))
    if not failures:
        return
    provenance = pending[0][2]
    for other, dims in others:
        gate = bank_gate(other, dims, _bank_tolerance(provenance, other), constants(other.device))
        if not bool(gate):
            return  # a weight matrix: a linear head on features, not a similarity
    raise build_error(failures)


def _check_deferred(op: str, location: str, pending, others) -> None:
    """CUDA: fold the extremes into the device ledger, gated by the bank test; no host sync."""
    device = pending[0][0].device
    const = constants(device)
    gate = None
    for other, dims in others:
        other_gate = cached_bank_gate(other, dims, _bank_tolerance(pending[0][2], other), constants(other.device))
        gate = other_gate if gate is None else gate & other_gate
    for features, contracted, provenance, operand_name in pending:
        site = _site(op, location, features, contracted, provenance, operand_name)
        values = extremes(row_norms(features, contracted), provenance, constants(features.device))
        if gate is not None:
            values = torch.where(gate if gate.device == values.device else gate.to(values.device), values,
                                 const.neg_inf)
        VERDICTS.defer(site, values)


def _product(values) -> int:
    total = 1
    for value in values:
        total *= value
    return total


def _self_normalizing(func, name, args, kwargs):
    return _call(func, args, kwargs)


def _build_handlers() -> dict[str, Callable]:
    """Each op name in the facts tables, mapped to the handler of its kind."""
    kinds = (
        (facts.CARRYING_OPS, _carry),
        (facts.JOIN_OPS, _join),
        (facts.NORM_CARRYING_OPS, _norm_carry),
        (facts.SCALING_OPS, _scale),
        (facts.NORM_OPS, _norm),
        (facts.NORMALIZING_OPS, _normalize),
        (facts.AGGREGATE_OPS, _aggregate),
        (facts.SIMILARITY_OPS, _similarity),
        (facts.SELF_NORMALIZING_OPS, _self_normalizing),
    )
    table: dict[str, Callable] = {}
    for names, handler in kinds:  # later kinds win, as before
        table.update(dict.fromkeys(names, handler))
    return {name: _guarded(handler) for name, handler in table.items()}


_HANDLERS = _build_handlers()
_IN_PLACE_HANDLER = _guarded(_in_place_write)
