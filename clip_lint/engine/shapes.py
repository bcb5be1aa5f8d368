"""Shape bookkeeping for feature values: the rank, which axis holds the features, and which
axes are known to have size 1.

Axes are kept as negative indices (-1: the last axis, as encoders return it). Stacking along
``dim=1``, transposes and indexing move them; reductions over the feature axis, or an integer
index into it, leave no features at all (``None`` below). Size-1 axes come from
``keepdim=True`` reductions, ``unsqueeze`` / ``x[None]`` and literal sizes of ``expand`` /
``repeat``: a value whose every other axis has size 1 holds one vector (``[1, D]``,
``[D, 1]``, ``[D]``), and a norm over all its elements is that vector's norm.
"""

from __future__ import annotations

from typing import FrozenSet, Optional, Sequence, Tuple

# (rank or None when unknown, feature axis, axes known to have size 1)
Shape = Tuple[Optional[int], int, FrozenSet[int]]
NO_ONES: FrozenSet[int] = frozenset()


def position(rank: int, axis: int) -> int:
    """A possibly negative axis as a position from 0."""
    return axis if axis >= 0 else rank + axis


def feature_position(rank: Optional[int], feature_axis: int) -> Optional[int]:
    return None if rank is None else rank + feature_axis


def unknown_rank(shape: Shape) -> Shape:
    return None, shape[1], NO_ONES


def _moved(rank: int, new_rank: int, axis: int, where: int, inserted: bool) -> Optional[int]:
    """Where ``axis`` (negative) goes when an axis is inserted at or removed from ``where``."""
    at = rank + axis
    if inserted:
        at += at >= where
    elif at == where:
        return None
    else:
        at -= at > where
    return at - new_rank


def insert_axis(shape: Shape, axis: int, size_one: bool = True) -> Shape:
    """A new axis at ``axis`` (as ``unsqueeze`` and ``x[None]`` make it, of size 1; ``stack``'s is not)."""
    rank, feature_axis, ones = shape
    if rank is None:
        return unknown_rank(shape)
    new_rank = rank + 1
    where = position(new_rank, axis)
    moved = {_moved(rank, new_rank, one, where, True) for one in ones}
    if size_one:
        moved.add(where - new_rank)
    features = _moved(rank, new_rank, feature_axis, where, True)
    return new_rank, features, frozenset(a for a in moved if a is not None)  # type: ignore[return-value]


def remove_axis(shape: Shape, axis: int) -> Optional[Shape]:
    """Drop ``axis`` (an integer index, a reduction); None when it held the features."""
    rank, feature_axis, ones = shape
    if rank is None:
        return unknown_rank(shape) if axis != feature_axis else None
    where = position(rank, axis)
    if not 0 <= where < rank or where == rank + feature_axis:
        return None
    moved = {_moved(rank, rank - 1, one, where, False) for one in ones}
    features = _moved(rank, rank - 1, feature_axis, where, False)
    assert features is not None
    return rank - 1, features, frozenset(a for a in moved if a is not None)


def keep_axis_as_one(shape: Shape, axis: int) -> Optional[Shape]:
    """A reduction with ``keepdim=True``: ``axis`` stays, with size 1."""
    rank, feature_axis, ones = shape
    if rank is None:
        return shape if axis != feature_axis else None
    where = position(rank, axis)
    if not 0 <= where < rank or where == rank + feature_axis:
        return None
    return rank, feature_axis, ones | {where - rank}


def squeeze(shape: Shape, axis: Optional[int]) -> Shape:
    """``squeeze(axis)`` / ``squeeze()``: only axes known to have size 1 surely go away."""
    rank, feature_axis, ones = shape
    if rank is None:
        return unknown_rank(shape)
    if axis is None:
        if not holds_one_vector(shape):
            return unknown_rank(shape)  # other axes may or may not have size 1
        return 1, -1, NO_ONES
    negative = position(rank, axis) - rank
    if negative not in ones:
        return unknown_rank(shape)
    removed = remove_axis(shape, negative)
    return removed if removed is not None else unknown_rank(shape)


def broadcast(shape: Shape, sizes: Optional[Sequence[Optional[int]]], repeats: bool) -> Shape:
    """``expand(*sizes)`` (``repeats=False``) or ``repeat``/``tile(*reps)``: sizes align from the right.

    A size is an int literal or None (unknown). New leading axes come first, so the feature
    axis (a negative index) stays where it is. ``expand``'s -1 and a repeat of 1 keep the size.
    """
    rank, feature_axis, ones = shape
    if rank is None or sizes is None:
        return unknown_rank(shape)
    new_rank = max(rank, len(sizes))
    kept = set()
    for axis in range(-new_rank, 0):
        size = sizes[axis] if -axis <= len(sizes) else (1 if repeats else -1)
        was_one = axis in ones or -axis > rank
        if (size == 1 and (was_one or not repeats)) or (size == -1 and not repeats and was_one):
            kept.add(axis)
    return new_rank, feature_axis, frozenset(kept)


def at_least_2d(shape: Shape) -> Shape:
    """``atleast_2d``: a vector becomes one row."""
    rank, feature_axis, ones = shape
    if rank == 1:
        return insert_axis(shape, 0)
    return shape


def swap_axes(shape: Shape, first: int, second: int) -> Shape:
    rank, feature_axis, ones = shape
    if rank is None:
        return unknown_rank(shape)
    a, b = position(rank, first) - rank, position(rank, second) - rank
    swap = {a: b, b: a}
    return rank, swap.get(feature_axis, feature_axis), frozenset(swap.get(one, one) for one in ones)


def reverse_axes(shape: Shape) -> Shape:
    """``.T``: every axis reversed."""
    rank, feature_axis, ones = shape
    if rank is None:
        return unknown_rank(shape)
    return rank, -1 - rank - feature_axis, frozenset(-1 - rank - one for one in ones)


def spelled_axis(rank: Optional[int], axis: int) -> int:
    """How a message or a fix writes the feature axis: -1 for the last one, else counted from the
    front when the rank is known (a ``[D, K]`` bank of class columns is normalized over dim=0)."""
    if axis == -1 or rank is None or not -rank <= axis < 0:
        return axis
    return rank + axis


def holds_one_vector(shape: Shape) -> bool:
    """Every axis but the feature axis is known to have size 1."""
    rank, feature_axis, ones = shape
    if rank is None:
        return False
    return all(axis == feature_axis or axis in ones for axis in range(-rank, 0))
