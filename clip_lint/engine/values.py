"""What the engine knows about a value: the abstract states and how they merge."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import FrozenSet, Optional, Tuple

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
    EITHER = "either"  # features raw on some paths and unit on others: silent until normalized
    LITERAL = "literal"  # a constant written in the code (a bool, an int, a float, a string)
    CALLABLE = "callable"  # a function, method, lambda or partial held as a value (``callee``)
    MAPPING = "mapping"  # a dict, keyword arguments or an output record: ``keys`` and ``parts``
    ONE_OF = "one_of"  # one of several models, objects or callables (``parts``), by the path taken


FEATURE_KINDS = frozenset({Kind.RAW, Kind.UNIT, Kind.POOLED, Kind.REPORTED, Kind.EITHER})
#: Features whose state a later normalization makes unit, whatever path they came by.
NORMALIZABLE_KINDS = frozenset({Kind.RAW, Kind.UNIT, Kind.POOLED, Kind.EITHER})
#: Kinds that stand for an object, not data: a merge of two different ones is "one of these".
OBJECT_KINDS = frozenset({Kind.MODEL, Kind.OUTPUT, Kind.INSTANCE, Kind.CALLABLE})
#: At most this many candidates are kept in a ONE_OF; more are unknown.
MAX_CANDIDATES = 4


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

    __slots__ = ("target", "statement", "feature_axis", "library", "rank")

    def __init__(
        self,
        target: str,
        statement: cst.CSTNode,
        feature_axis: int = -1,
        library: str = "torch",
        rank: Optional[int] = None,
    ) -> None:
        self.target = target
        self.statement = statement
        self.feature_axis = feature_axis  # of the value as bound, which a fix normalizes
        self.library = library  # of the value as bound: a later .numpy() copy doesn't change it
        self.rank = rank

    @property
    def dim(self) -> int:
        """The feature axis as a fix writes it (``shapes.spelled_axis``)."""
        from clip_lint.engine.shapes import spelled_axis

        return spelled_axis(self.rank, self.feature_axis)


class Mix:
    """Where raw features of different encoders were added or averaged together (CLN005).

    Kept on the value that results, normalized or not, until it reaches a similarity op.
    """

    __slots__ = ("node", "operands")

    def __init__(self, node: cst.CSTNode, operands: Tuple[Tuple[cst.CSTNode, "Value"], ...]) -> None:
        self.node = node
        self.operands = operands  # (expression, value) of each raw operand, for names and fixes


@dataclass(frozen=True)
class Value:
    """An abstract value. Fields other than ``kind`` matter only for some kinds."""

    kind: Kind
    rank: Optional[int] = None  # number of axes, when known (2 for a [B, D] batch)
    feature_axis: int = -1  # which axis holds the features, as a negative index
    ones: FrozenSet[int] = frozenset()  # axes known to have size 1 (negative indices), with a known rank
    origin: Optional[Origin] = None
    binding: Optional[Binding] = None
    library: str = "torch"
    parts: Tuple["Value", ...] = ()  # CONTAINER: (element,), TUPLE: items, NORM: (of,), PRODUCT: (a, b)
    axis: object = None  # NORM: the axis (int), None for no axis, ANY_AXIS when unknown
    keepdim: bool = False  # NORM
    tag: str = ""  # MODEL/OUTPUT: "projection" | "normalizing"; RAW: "output-object"; NORM: its stage
    norm_call: Optional[cst.CSTNode] = None  # NORM: the call that computed it, for fixes
    instance: object = None  # INSTANCE: the object (``imports.Instance``), compared by identity
    mix: Optional[Mix] = None  # features: a mix of different encoders' raw features it comes from
    sources: Tuple["Value", ...] = ()  # RAW container elements: the raw values of different calls in it
    items: Tuple["Value", ...] = ()  # CONTAINER from a list literal, while unchanged: each element
    constant: object = None  # LITERAL: the constant
    callee: object = None  # CALLABLE: what calling it runs (``callables``), compared by identity
    keys: Tuple[object, ...] = ()  # MAPPING: the literal key of each part (None: a key not known)
    # TUPLE (``*args``) / MAPPING (``**kwargs``) made by a call: the arguments, to hand them on
    packed: Optional[Tuple[Tuple[cst.Arg, "Value"], ...]] = None
    # UNKNOWN from a call of an imported project name that wasn't followed (it handed nothing):
    # how to make it (``linking.Deferred``), should a method of it be handed features later
    deferred: object = None

    @property
    def is_feature(self) -> bool:
        return self.kind in FEATURE_KINDS

    def but(self, **changes: object) -> "Value":
        """A copy with some fields changed. Copies the fields directly: ``dataclasses.replace``
        runs the generated ``__init__`` over every field, and values are copied everywhere."""
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"Value has no field {sorted(unknown)[0]!r}")
        copied = object.__new__(Value)
        state = self.__dict__.copy()
        state.update(changes)
        object.__setattr__(copied, "__dict__", state)
        return copied

    @property
    def shape(self) -> Tuple[Optional[int], int, FrozenSet[int]]:
        """``(rank, feature_axis, ones)``, as ``shapes`` computes with it."""
        return self.rank, self.feature_axis, self.ones if self.rank is not None else frozenset()

    def with_shape(self, shape: Tuple[Optional[int], int, FrozenSet[int]], **changes: object) -> "Value":
        return self.but(rank=shape[0], feature_axis=shape[1], ones=shape[2], **changes)


_FIELD_NAMES = frozenset(field.name for field in fields(Value))
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
        if first.kind in NORMALIZABLE_KINDS and second.kind in NORMALIZABLE_KINDS:
            return either(first, second)
        if first.kind in OBJECT_KINDS | {Kind.ONE_OF} and second.kind in OBJECT_KINDS | {Kind.ONE_OF}:
            return one_of(first, second)
        return UNKNOWN
    kind = first.kind
    if kind is Kind.UNKNOWN:
        return first if first.deferred == second.deferred else UNKNOWN
    if kind is Kind.LITERAL:
        return first if first.constant == second.constant and type(first.constant) is type(second.constant) else UNKNOWN
    if kind is Kind.ONE_OF:
        return one_of(first, second)
    if kind is Kind.CALLABLE:
        return first if first.callee == second.callee else one_of(first, second)
    if kind is Kind.MAPPING:
        return merge_mappings(first, second)
    if kind in (Kind.CONTAINER,):
        items = first.items if len(first.items) == len(second.items) else ()
        items = tuple(merge(a, b) for a, b in zip(items, second.items))
        return first.but(parts=(merge(first.parts[0], second.parts[0]),), items=items)
    if kind is Kind.TUPLE:
        if len(first.parts) != len(second.parts):
            return UNKNOWN
        packed = first.packed if first.packed is second.packed else None
        return first.but(parts=tuple(merge(a, b) for a, b in zip(first.parts, second.parts)), packed=packed)
    if kind in (Kind.MODEL, Kind.OUTPUT):
        return first if first.tag == second.tag else one_of(first, second)
    if kind is Kind.INSTANCE:
        return merge_instances(first, second)
    if kind in (Kind.NORM, Kind.PRODUCT):
        return first if first == second else UNKNOWN
    same_shape = first.rank == second.rank and first.feature_axis == second.feature_axis
    rank = first.rank if same_shape else None
    feature_axis = first.feature_axis if same_shape else -1
    ones = first.ones & second.ones if same_shape else frozenset()
    binding = first.binding if first.binding is second.binding else None
    library = first.library if first.library == second.library else "torch"
    return first.but(
        rank=rank,
        feature_axis=feature_axis,
        ones=ones,
        binding=binding,
        library=library,
        origin=first.origin or second.origin,
        mix=first.mix or second.mix,
        sources=first.sources if first.sources is second.sources else (),
    )


def either(first: Value, second: Value) -> Value:
    """Features in different states on two paths: silent, unless a normalization follows."""
    same_shape = first.rank == second.rank and first.feature_axis == second.feature_axis
    raw = first if first.kind is Kind.RAW else second
    return Value(
        Kind.EITHER,
        rank=first.rank if same_shape else None,
        feature_axis=first.feature_axis if same_shape else -1,
        ones=first.ones & second.ones if same_shape else frozenset(),
        origin=raw.origin or first.origin or second.origin,
        library=first.library if first.library == second.library else "torch",
    )


def candidates(value: Value) -> Tuple[Value, ...]:
    return value.parts if value.kind is Kind.ONE_OF else (value,)


def one_of(first: Value, second: Value) -> Value:
    """Different models, objects or callables on two paths: one of these, while there are few."""
    found = list(candidates(first))
    for candidate in candidates(second):
        for index, known in enumerate(found):
            if same_object(known, candidate):
                found[index] = merge(known, candidate) if known.kind is Kind.INSTANCE else known
                break
        else:
            found.append(candidate)
    if len(found) == 1:
        return found[0]
    if len(found) > MAX_CANDIDATES or any(part.kind is Kind.UNKNOWN for part in found):
        return UNKNOWN
    return Value(Kind.ONE_OF, parts=tuple(found))


def same_object(first: Value, second: Value) -> bool:
    """Whether two candidates are the same thing (their states may still differ)."""
    if first.kind is not second.kind:
        return False
    if first.kind in (Kind.MODEL, Kind.OUTPUT):
        return first.tag == second.tag
    if first.kind is Kind.INSTANCE:
        one, other = first.instance, second.instance
        return one is other or one.cls == other.cls  # type: ignore[union-attr]
    return first.callee == second.callee


def merge_mappings(first: Value, second: Value) -> Value:
    """Two dicts (or records) from different paths: their entries key by key."""
    if first.keys == second.keys and first.tag == second.tag:
        packed = first.packed if first.packed is second.packed else None
        return first.but(parts=tuple(merge(a, b) for a, b in zip(first.parts, second.parts)), packed=packed)
    if first.tag != second.tag:
        return UNKNOWN
    entries = dict(zip(first.keys, first.parts))
    for key, part in zip(second.keys, second.parts):
        entries[key] = merge(entries.get(key, BOTTOM), part) if key in entries else part
    return first.but(keys=tuple(entries), parts=tuple(entries.values()), packed=None)


def merge_instances(first: Value, second: Value) -> Value:
    """Objects of the same class merge their states; of different classes, they are one of these."""
    one, other = first.instance, second.instance
    if one is other:
        return first
    if one.cls != other.cls:  # type: ignore[attr-defined]
        return one_of(first, second)
    state = merge_envs(one.state, other.state)  # type: ignore[attr-defined]
    for name in set(one.state) ^ set(other.state):  # type: ignore[attr-defined]
        state[name] = UNKNOWN
    return first.but(instance=type(one)(one.cls, state))  # type: ignore[attr-defined, call-arg]


def gather(first: Value, second: Value) -> Value:
    """Join two elements of one container: raw features of different calls are both in it."""
    merged = merge(first, second)
    if merged.kind is not Kind.RAW or first.kind is not Kind.RAW or second.kind is not Kind.RAW:
        return merged
    if first.origin is None or second.origin is None or first.origin is second.origin:
        return merged
    sources = list(first.sources or (first,))
    for source in second.sources or (second,):
        if all(source.origin is not known.origin for known in sources):
            sources.append(source)
    return merged.but(sources=tuple(sources))


def merge_envs(first: dict, second: dict) -> dict:
    """Join two environments key by key; a name missing on one side keeps the other's."""
    merged = dict(first)
    for name, value in second.items():
        merged[name] = merge(first.get(name, BOTTOM), value)
    return merged
