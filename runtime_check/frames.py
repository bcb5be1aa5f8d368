"""Find the user's file:line by walking out of torch, runtime_check and the model libraries.

A frame is a library's when the module that owns its code (its `__name__`) belongs to one of
`facts.LIBRARY_PACKAGES` and its file lies inside that package's installed location. A path that
merely contains `/open_clip/` or `/torch/` (a clone of a repository, a project folder) is user code.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

from .facts import LIBRARY_PACKAGES

_LIBRARIES = frozenset(LIBRARY_PACKAGES)
_cache: dict[tuple[str, str], bool] = {}


def _locations(package: str) -> tuple[str, ...]:
    """The folders (a package) or the file (a single-module library) a library is loaded from."""
    module = sys.modules.get(package)
    if module is None:
        return ()
    paths = list(getattr(module, "__path__", None) or ())
    if not paths and getattr(module, "__file__", None):
        return (os.path.realpath(module.__file__),)
    return tuple(os.path.realpath(path) + os.sep for path in paths)


def _owned_by_library(module_name: str, filename: str) -> bool:
    if filename.startswith(("<frozen", "<eval_with_key")):
        return True  # the import machinery, torch.fx generated code
    package = module_name.partition(".")[0]
    if package not in _LIBRARIES:
        return False
    real = os.path.realpath(filename)
    return any(real == location or real.startswith(location) for location in _locations(package))


def is_library_frame(frame: FrameType) -> bool:
    module_name = frame.f_globals.get("__name__") or ""
    filename = frame.f_code.co_filename
    key = (module_name, filename)
    known = _cache.get(key)
    if known is None:
        known = _cache[key] = _owned_by_library(module_name, filename)
    return known


def user_location(skip: int = 1) -> str:
    """Return `file:line` of the innermost frame outside the libraries, or `<unknown>`."""
    frame = sys._getframe(skip)
    while frame is not None:
        if not is_library_frame(frame):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"
