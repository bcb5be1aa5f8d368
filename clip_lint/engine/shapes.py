"""Shape bookkeeping for feature values: the rank, and which axis holds the features.

A value's feature axis is kept as a negative index (-1: the last axis, as encoders return
it). Stacking along ``dim=1``, transposes and indexing move it; reductions over it, or an
integer index into it, leave no features at all (``None`` below).
"""

from __future__ import annotations

from typing import Optional, Tuple

Shape = Tuple[Optional[int], int]  # (rank or None when unknown, feature axis as a negative index)


def position(rank: int, axis: int) -> int:
    """A possibly negative axis as a position from 0."""
    return axis if axis >= 0 else rank + axis


def feature_position(rank: Optional[int], feature_axis: int) -> Optional[int]:
    return None if rank is None else rank + feature_axis


def insert_axis(shape: Shape, axis: int) -> Shape:
    """A new axis at ``axis`` (as ``unsqueeze`` and ``stack`` make it)."""
    rank, feature_axis = shape
    if rank is None:
        return None, feature_axis
    new_rank = rank + 1
    where = position(new_rank, axis)
    features = rank + feature_axis
    if where <= features:
        features += 1
    return new_rank, features - new_rank


def remove_axis(shape: Shape, axis: int) -> Optional[Shape]:
    """Drop ``axis`` (an integer index, a reduction); None when it held the features."""
    rank, feature_axis = shape
    if rank is None:
        return (None, feature_axis) if axis != feature_axis else None
    where = position(rank, axis)
    features = rank + feature_axis
    if where == features or not 0 <= where < rank:
        return None
    if where < features:
        features -= 1
    return rank - 1, features - (rank - 1)


def swap_axes(shape: Shape, first: int, second: int) -> Shape:
    rank, feature_axis = shape
    if rank is None:
        return None, feature_axis
    features = rank + feature_axis
    a, b = position(rank, first), position(rank, second)
    if features == a:
        features = b
    elif features == b:
        features = a
    return rank, features - rank


def reverse_axes(shape: Shape) -> Shape:
    """``.T``: every axis reversed."""
    rank, feature_axis = shape
    if rank is None:
        return None, feature_axis
    return rank, (rank - 1 - (rank + feature_axis)) - rank
