"""Find the user's file:line by walking out of torch, runtime_check and the model libraries."""

from __future__ import annotations

import sys

from .facts import LIBRARY_PATH_FRAGMENTS

_library_cache: dict[str, bool] = {}


def is_library(filename: str) -> bool:
    known = _library_cache.get(filename)
    if known is None:
        normalized = filename.replace("\\", "/")
        known = normalized.startswith(("<frozen", "<eval_with_key")) or any(
            fragment in normalized for fragment in LIBRARY_PATH_FRAGMENTS
        )
        _library_cache[filename] = known
    return known


def user_location(skip: int = 1) -> str:
    """Return `file:line` of the innermost frame outside the libraries, or `<unknown>`."""
    frame = sys._getframe(skip)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not is_library(filename):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"
