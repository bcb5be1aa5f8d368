"""What the engine knows about a value: the abstract states and how they merge."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Optional, Tuple

import libcst as cst


class Kind(enum.Enum):
    """The abstract kinds a value can have. UNKNOWN is silent everywhere."""

    BOTTOM = "bottom"  # no value yet (an empty list's element, an unassigned branch)
    UNKNOWN = "unknown"
    RAW = "raw"  # raw encoder features (possibly scaled)
    UNIT = "unit"  # L2-normalized along the feature dim (possibly scaled)
    POOLED = "pooled"  # a mean or sum of unit features: not unit
    REPORTED = "reported"  # a bad normalization already reported: stay silent
    NORM = "norm"  # the norm of a feature value, waiting to divide it
    PRODUCT = "product"  # elementwise product of two feature values
    CONTAINER = "container"  # a list of values
    TUPLE = "tuple"  # a fixed tuple of values
    MODEL = "model"  # a model of a known class
    OUTPUT = "output"  # the forward output of such a model
    IP_INDEX = "ip_index"  # an inner-product vector index
    PARAMETER = "parameter"  # a learned weight: products with it are linear heads
    INSTANCE = "instance"  # an object of a class the project defines


FEATURE_KINDS = frozenset({Kind.RAW, Kind.UNIT, Kind.POOLED, Kind.REPORTED})


class Origin:
    """Where features came from: the encoder's name, its call node, and its module.

    ``scope`` is None in the checked module, else the other module's scope (messages name
    its file and line). Compared by identity: libcst nodes compare structurally, which is slow.
    """

    __slots__ = ("encoder", "node", "scope")

    def __init__(self, encoder: str, node: cst.CSTNode, scope: object = None) -> None:
        self.encoder = encoder
        self.node = node
        self.scope = scope


class Binding:
    """The statement that bound a feature value to a name, where a fix can follow it."""

    __slots__ = ("target", "statement", "feature_axis")

    def __init__(self, target: str, statement: cst.CSTNode, feature_axis: int = -1) -> None:
        self.target = target
        self.statement = statement
        self.feature_axis = feature_axis  # of the value as bound, which a fix normalizes


@dataclass(frozen=True)
class Value:
    """An abstract value. Fields other than ``kind`` matter only for some kinds."""

    kind: Kind
    rank: Optional[int] = None  # number of axes, when known (2 for a [B, D] batch)
    feature_axis: int = -1  # which axis holds the features, as a negative index
    origin: Optional[Origin] = None
    binding: Optional[Binding] = None
    library: str = "torch"
    parts: Tuple["Value", ...] = ()  # CONTAINER: (element,), TUPLE: items, NORM: (of,), PRODUCT: (a, b)
    axis: object = None  # NORM: the axis (int), None for no axis, ANY_AXIS when unknown
    keepdim: bool = False  # NORM
    tag: str = ""  # MODEL/OUTPUT: "projection" | "normalizing"; RAW: "output-object"; NORM: its stage
    norm_call: Optional[cst.CSTNode] = None  # NORM: the call that computed it, for fixes
    instance: object = None  # INSTANCE: the object (``imports.Instance``), compared by identity

    @property
    def is_feature(self) -> bool:
        return self.kind in FEATURE_KINDS

    def but(self, **changes: object) -> "Value":
        return replace(self, **changes)


ANY_AXIS = "any"
BOTTOM = Value(Kind.BOTTOM)
UNKNOWN = Value(Kind.UNKNOWN)


def merge(first: Value, second: Value) -> Value:
    """Join two values from different paths; disagreement gives UNKNOWN (silent)."""
    if first is second or first.kind is Kind.BOTTOM:
        return second
    if second.kind is Kind.BOTTOM:
        return first
    if first.kind is not second.kind:
        if {first.kind, second.kind} == {Kind.RAW, Kind.REPORTED}:
            return first if first.kind is Kind.REPORTED else second
        return UNKNOWN
    kind = first.kind
    if kind in (Kind.CONTAINER,):
        return first.but(parts=(merge(first.parts[0], second.parts[0]),))
    if kind is Kind.TUPLE:
        if len(first.parts) != len(second.parts):
            return UNKNOWN
        return first.but(parts=tuple(merge(a, b) for a, b in zip(first.parts, second.parts)))
    if kind in (Kind.MODEL, Kind.OUTPUT):
        return first if first.tag == second.tag else UNKNOWN
    if kind is Kind.INSTANCE:
        return merge_instances(first, second)
    if kind in (Kind.NORM, Kind.PRODUCT):
        return first if first == second else UNKNOWN
    same_shape = first.rank == second.rank and first.feature_axis == second.feature_axis
    rank = first.rank if same_shape else None
    feature_axis = first.feature_axis if same_shape else -1
    binding = first.binding if first.binding is second.binding else None
    library = first.library if first.library == second.library else "torch"
    return first.but(
        rank=rank, feature_axis=feature_axis, binding=binding, library=library, origin=first.origin or second.origin
    )


def merge_instances(first: Value, second: Value) -> Value:
    """Objects of the same class merge their states; of different classes, they are unknown."""
    one, other = first.instance, second.instance
    if one is other:
        return first
    if one.cls != other.cls:  # type: ignore[attr-defined]
        return UNKNOWN
    state = merge_envs(one.state, other.state)  # type: ignore[attr-defined]
    for name in set(one.state) ^ set(other.state):  # type: ignore[attr-defined]
        state[name] = UNKNOWN
    return first.but(instance=type(one)(one.cls, state))  # type: ignore[attr-defined, call-arg]


def merge_envs(first: dict, second: dict) -> dict:
    """Join two environments key by key; a name missing on one side keeps the other's."""
    merged = dict(first)
    for name, value in second.items():
        merged[name] = merge(first.get(name, BOTTOM), value)
    return merged
