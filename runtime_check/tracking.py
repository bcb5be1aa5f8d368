"""The mechanism: a Tensor subclass that carries provenance and checks similarity ops.

Encoder outputs are re-viewed as `TrackedFeatures` (same storage, same autograd graph). Its
`__torch_function__` runs every op exactly as torch would, on plain tensors, and only decides
what the result is: still features (carried, scaled, aggregated, normalized), a norm of
features, a product awaiting `.sum(dim)`, or an untracked plain tensor. Similarity ops check
the unit norm of their tracked operands along the contracted dims first.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import torch
from torch._C import DisableTorchFunctionSubclass

from . import facts
from .errors import CheckerInternalError, UnnormalizedFeaturesError
from .frames import user_location
from .provenance import FeatureState, Provenance
from .settings import dtype_name
from .verdicts import VERDICTS, CheckSite, passes_now, unit_norm_stats

_local = threading.local()


def model_depth() -> int:
    """How many instrumented model methods are running on this thread."""
    return getattr(_local, "depth", 0)


@torch.compiler.disable  # thread-local bookkeeping: a clean graph break inside compiled code
def enter_model() -> bool:
    """Mark the start of a model's own code; True if no other model method is running."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    return depth == 0


@torch.compiler.disable
def exit_model() -> None:
    _local.depth -= 1


def provenance_of(value: Any) -> Provenance | None:
    return value.__dict__.get("_clip_provenance") if isinstance(value, TrackedFeatures) else None


def track(tensor: torch.Tensor, provenance: Provenance) -> "TrackedFeatures":
    """View `tensor` as tracked features (no copy; stays on the autograd graph)."""
    with DisableTorchFunctionSubclass():
        tracked = tensor.as_subclass(TrackedFeatures)
    tracked.__dict__["_clip_provenance"] = provenance
    return tracked


class TrackedFeatures(torch.Tensor):
    """CLIP features whose normalization the checker follows."""

    @classmethod
    @torch.compiler.disable  # inside compiled code: a graph break, then this runs eagerly
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # Everything below, the user's op and the checker's own tensor reads, runs on plain tensors.
        with DisableTorchFunctionSubclass():
            if model_depth():
                return func(*args, **kwargs)
            name = getattr(func, "__name__", "")
            if name == "__get__":  # property reads (.shape, .dtype, ...): only .T and .mT matter
                name = getattr(getattr(func, "__self__", None), "__name__", "")
                if name not in _PROPERTY_OPS:
                    return func(*args, **kwargs)
            handler = _HANDLERS.get(name)
            if handler is None:
                return func(*args, **kwargs)
            return handler(func, name, args, kwargs)

    def __reduce_ex__(self, protocol):
        # Saved features are plain tensors: loading them must not need this package.
        with DisableTorchFunctionSubclass():
            plain = self.as_subclass(torch.Tensor)
        return plain.__reduce_ex__(protocol)


# .T and .mT are properties too: route them (and only them) to their handler.
_PROPERTY_OPS = frozenset({"T", "mT"})


def _plain_call(func: Callable, args: tuple, kwargs: dict) -> Any:
    with DisableTorchFunctionSubclass():
        return func(*args, **kwargs)


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
    try:
        return _plain_call(func, args, kwargs)
    except Exception as error:
        raise _UserOpError(error) from None


# ---------------------------------------------------------------- helpers


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    # [B, 1] keepdim statistics are per row even at batch 1: only 0-d and [1] tensors are scales
    return (isinstance(value, torch.Tensor) and provenance_of(value) is None and value.ndim <= 1
            and value.numel() == 1)


def _negative_axis(axis: int, ndim: int) -> int:
    return axis - ndim if axis >= 0 else axis


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


# ---------------------------------------------------------------- carrying ops


def _unit_axis_after(name: str, provenance: Provenance, source: torch.Tensor, result: torch.Tensor,
                     args: tuple, kwargs: dict) -> int | None:
    """Where the recognized unit axis went, or None if the op loses track of it."""
    axis = provenance.unit_axis
    if axis is None or provenance.state is not FeatureState.UNIT:
        return None
    if name in facts.AXIS_KEEPING_OPS and result.ndim == source.ndim:
        return axis
    if name in facts.TRANSPOSE_OPS:
        if name in ("T", "t", "mT") or source.ndim == 2:
            return -2 if axis == -1 else (-1 if axis == -2 else None)
        first = _arg(args, kwargs, 1, "axis0" if name == "swapaxes" else "dim0")
        second = _arg(args, kwargs, 2, "axis1" if name == "swapaxes" else "dim1")
        if first is None or second is None:
            return None
        first, second = _negative_axis(first, source.ndim), _negative_axis(second, source.ndim)
        return second if axis == first else first if axis == second else axis
    if name == "__getitem__":
        return axis if _index_keeps_trailing_axes(args[1], source.ndim, axis) else None
    if name == "unsqueeze" and _arg(args, kwargs, 1, "dim") == 0:
        return axis
    return None


def _index_keeps_trailing_axes(index: Any, ndim: int, axis: int) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    if any(item is None or item is Ellipsis or isinstance(item, bool) for item in items):
        return False
    # a boolean mask indexes as many axes as it has
    indexed = sum(item.ndim if isinstance(item, torch.Tensor) and item.dtype == torch.bool else 1
                  for item in items)
    return indexed <= ndim + axis  # only axes before the unit axis are indexed


def _carry(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    source = args[0]
    provenance = provenance_of(source)
    if provenance is None or not isinstance(result, (torch.Tensor, tuple, list)):
        return result
    if not provenance.is_features:
        return result
    if result is source:  # e.g. .float() on float features: a fresh alias keeps provenances apart
        result = _plain_call(torch.Tensor.as_subclass, (result, torch.Tensor), {})
    sample = result if isinstance(result, torch.Tensor) else next(iter(result), None)
    axis = _unit_axis_after(name, provenance, source, sample, args, kwargs) if sample is not None else None
    step = _step(name, args, kwargs)
    dtype = _dtype_of(sample)
    derived = (provenance.derive(step, dtype, unit_axis=axis) if axis is not None
               else provenance.as_raw(step, dtype))
    return _wrap(result, derived)


def _join(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    tensors = list(_arg(args, kwargs, 0, "tensors", ()))
    provenances = [provenance_of(t) for t in tensors]
    tracked = [p for p in provenances if p is not None and p.is_features]
    if not tracked:
        return result
    first = tracked[0]
    complete = len(tracked) == len(tensors)
    all_unit = complete and all(
        p.state is FeatureState.UNIT and p.unit_axis == first.unit_axis for p in tracked
    )
    keeps_axis = all_unit and _join_keeps_axis(name, _arg(args, kwargs, 1, "dim", 0), tensors[0].ndim,
                                               first.unit_axis)
    same_scale = complete and all(p.scale == first.scale for p in tracked)
    dtypes = frozenset().union(*(p.dtypes for p in tracked))
    if any(p.state is FeatureState.MEAN_OF_UNIT for p in tracked):
        state = FeatureState.MEAN_OF_UNIT
    else:
        state = FeatureState.UNIT if keeps_axis else FeatureState.RAW
    derived = first.derive(name, dtypes=dtypes, scale=first.scale if same_scale else (), state=state,
                           unit_axis=first.unit_axis if state is FeatureState.UNIT else None)
    return track(result, derived)


def _join_keeps_axis(name: str, dim: int, ndim: int, unit_axis: int) -> bool:
    """cat along another axis, or stack before the unit axis, keeps its negative index."""
    if name != "stack":
        return _negative_axis(dim, ndim) != unit_axis
    position = dim if dim >= 0 else dim + ndim + 1
    return position <= ndim + unit_axis


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
        return result
    if in_place and result is args[0]:
        result.__dict__["_clip_provenance"] = derived
        return result
    return track(result, derived)


def _scaled_provenance(operator: str, features: torch.Tensor, provenance: Provenance, other: Any,
                       other_p: Provenance | None, result: torch.Tensor) -> Provenance | None:
    dtype = dtype_name(result.dtype)
    if provenance.state is FeatureState.NORM:
        return None
    if other_p is not None and other_p.is_features:
        if operator == "*" and other is not features:
            return provenance.derive("* features", dtype, state=FeatureState.PRODUCT,
                                     factors=(features, other), unit_axis=None)
        return None
    if _is_scalar(other) and other_p is None:
        return provenance.derive(f"{operator} scalar", dtype, scale=provenance.scale + ((operator, other),))
    if other_p is not None and other_p.state is FeatureState.NORM and operator == "/":
        return _divided_by_norm(features, provenance, other_p, dtype)
    return provenance.as_raw(f"{operator} tensor", dtype, scale=())


def _divided_by_norm(features: torch.Tensor, provenance: Provenance, norm: Provenance,
                     dtype: str) -> Provenance:
    own_norm = norm.norm_source is provenance
    if own_norm and norm.norm_axis is not None and norm.norm_keepdim:
        return provenance.derive("/ norm", dtype, state=FeatureState.UNIT, unit_axis=norm.norm_axis,
                                 scale=(), normalized_axis=norm.norm_axis)
    if own_norm and norm.norm_axis is None and features.ndim == 1:
        return provenance.derive("/ norm", dtype, state=FeatureState.UNIT, unit_axis=-1, scale=(),
                                 normalized_axis=-1)
    hint = "all" if norm.norm_axis is None else norm.norm_axis
    return provenance.as_raw("/ norm", dtype, scale=(), normalized_axis=hint)


def _norm(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    source = args[0]
    provenance = provenance_of(source)
    if provenance is None or not provenance.is_features or not isinstance(result, torch.Tensor):
        return result
    order = _arg(args, kwargs, 1, "p" if name == "norm" else "ord", 2)
    if order not in (2, 2.0, "fro", None):
        return result
    dim = _arg(args, kwargs, 2, "dim")
    if isinstance(dim, (tuple, list)):
        dim = dim[0] if len(dim) == 1 else "many"
    keepdim = bool(_arg(args, kwargs, 3, "keepdim", False))
    if dim == "many":
        return result
    axis = None if dim is None else _negative_axis(dim, source.ndim)
    derived = provenance.derive(f".{name}()", state=FeatureState.NORM, norm_source=provenance,
                                norm_axis=axis, norm_keepdim=keepdim, unit_axis=None, scale=())
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
    return _call(func, args, kwargs)


def _normalize(func, name, args, kwargs):
    result = _call(func, args, kwargs)
    source = args[0]
    provenance = provenance_of(source)
    if provenance is None or not provenance.is_features:
        return result
    dim_name, default_dim = facts.NORMALIZING_OPS[name]
    order = _arg(args, kwargs, 1, "p", 2.0)
    dim = _arg(args, kwargs, 2, dim_name, default_dim)
    axis = _negative_axis(dim, source.ndim)
    step = f"F.{name}(dim={dim})"
    if order != 2:
        return track(result, provenance.as_raw(step, scale=()))
    derived = provenance.derive(step, dtype_name(result.dtype), state=FeatureState.UNIT, unit_axis=axis,
                                scale=(), normalized_axis=axis)
    return track(result, derived)


# ---------------------------------------------------------------- aggregates


def _aggregate(func, name, args, kwargs):
    provenance = provenance_of(args[0])
    if provenance is not None and provenance.state is FeatureState.PRODUCT:
        if name not in facts.PRODUCT_REDUCTIONS:
            return _call(func, args, kwargs)
        return _product_sum(func, name, args, kwargs, provenance)
    result = _call(func, args, kwargs)
    if provenance is None or not provenance.is_features or not isinstance(result, torch.Tensor):
        return result
    dim = _arg(args, kwargs, 1, "dim")
    if dim is None or isinstance(dim, (tuple, list)):
        return result
    source = args[0]
    axis = _negative_axis(dim, source.ndim)
    feature_axis = provenance.unit_axis if provenance.unit_axis is not None else -1
    if axis >= feature_axis:  # reducing the feature axis: not a batch of vectors any more
        return result
    state = (FeatureState.MEAN_OF_UNIT if provenance.state in (FeatureState.UNIT, FeatureState.MEAN_OF_UNIT)
             else FeatureState.RAW)
    derived = provenance.derive(_step(name, args, kwargs), dtype_name(result.dtype), state=state,
                                unit_axis=None)
    return track(result, derived)


def _product_sum(func, name, args, kwargs, provenance: Provenance):
    product = args[0]
    dim = _arg(args, kwargs, 1, "dim")
    if dim is not None and not isinstance(dim, (tuple, list)):
        axis = _negative_axis(dim, product.ndim)
        left, right = provenance.factors
        _check_operands(f"(a * b).{name}(dim={dim})", ((left, (axis,)), (right, (axis,))),
                        ("left", "right"))
    return _call(func, args, kwargs)


# ---------------------------------------------------------------- similarity ops


def _is_parameter_like(value: Any) -> bool:
    if isinstance(value, torch.nn.Parameter):
        return True
    return isinstance(getattr(value, "_base", None), torch.nn.Parameter)


def _similarity(func, name, args, kwargs):
    if name == "einsum":
        pairs = _einsum_operands(args, kwargs)
    elif name == "tensordot":
        pairs = _tensordot_operands(args, kwargs)
    else:
        pairs = _binary_operands(name, args, kwargs)
    if pairs is not None:
        _check_operands(_display_name(name), pairs, _operand_names(len(pairs)))
    return _call(func, args, kwargs)


def _display_name(name: str) -> str:
    return {"__matmul__": "@", "linear": "F.linear"}.get(name, name)


def _operand_names(count: int) -> tuple[str, ...]:
    return ("left", "right") if count == 2 else tuple(f"#{i}" for i in range(count))


def _binary_operands(name: str, args: tuple, kwargs: dict):
    left = _arg(args, kwargs, 0, "input")
    right = _arg(args, kwargs, 1, "weight" if name == "linear" else "other")
    if name == "linear" and provenance_of(right) is None:
        return None  # a linear head on features, not a similarity
    if _is_parameter_like(left) or _is_parameter_like(right):
        return None
    contraction = facts.SIMILARITY_OPS[name]
    right_dims = contraction.right_if_vector if getattr(right, "ndim", 2) == 1 else contraction.right
    return ((left, contraction.left), (right, right_dims))


def _einsum_operands(args: tuple, kwargs: dict):
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    if len(operands) < 2 or "..." in equation or any(_is_parameter_like(op) for op in operands):
        return None
    equation = equation.replace(" ", "")
    inputs, _, output = equation.partition("->")
    input_labels = inputs.split(",")
    if not output and "->" not in equation:
        counts = {c: inputs.count(c) for c in set(inputs) if c.isalpha()}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    pairs = []
    for labels, operand in zip(input_labels, operands):
        summed = tuple(i - len(labels) for i, label in enumerate(labels) if label not in output)
        pairs.append((operand, summed))
    return tuple(pairs)


def _tensordot_operands(args: tuple, kwargs: dict):
    left, right = args[0], args[1]
    if _is_parameter_like(left) or _is_parameter_like(right):
        return None
    dims = _arg(args, kwargs, 2, "dims", 2)
    if isinstance(dims, int):
        left_dims = tuple(range(-dims, 0))
        right_dims = tuple(range(0, dims))
    else:
        left_dims, right_dims = (tuple(d) if isinstance(d, (tuple, list)) else (d,) for d in dims)
    return ((left, tuple(_negative_axis(d, left.ndim) for d in left_dims)),
            (right, tuple(_negative_axis(d, right.ndim) for d in right_dims)))


def _check_operands(op: str, pairs, operand_names) -> None:
    for (operand, dims), operand_name in zip(pairs, operand_names):
        provenance = provenance_of(operand)
        if provenance is not None and provenance.is_features and dims:
            check_unit_norm(operand, provenance, op, operand_name, tuple(dims))


def check_unit_norm(features: torch.Tensor, provenance: Provenance, op: str, operand: str,
                    contracted: tuple[int, ...]) -> None:
    """Check that `features` have unit L2 norm along `contracted`; recognized unit skips the math."""
    contracted = tuple(_negative_axis(d, features.ndim) for d in contracted)
    recognized = provenance.state is FeatureState.UNIT and contracted == (provenance.unit_axis,)
    if recognized and not provenance.settings.check_recognized:
        return
    if features.numel() == 0 or not features.is_floating_point():
        return
    dtype = dtype_name(features.dtype)
    tolerance = provenance.settings.tolerance_for(provenance.dtypes | {dtype})
    immediate = features.device.type == "cpu" or provenance.settings.strict
    if immediate and passes_now(features, contracted, provenance, tolerance):
        return
    stats = unit_norm_stats(features, contracted, provenance, tolerance)
    rows = features.numel() // max(1, _product(features.shape[d] for d in contracted))
    site = CheckSite(op, operand, contracted, provenance.encoder, provenance.origin,
                     provenance.describe_chain(), dtype, tolerance, rows, user_location(),
                     provenance.state, bool(provenance.scale), provenance.normalized_axis)
    VERDICTS.submit(site, stats, provenance.settings.strict)


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
