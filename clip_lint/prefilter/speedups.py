"""Private switches that turn a speed optimization off, to prove that it never changes a finding.

``CLIP_LINT_SPEEDUPS_OFF=prefilter,slicing`` (comma separated; ``all`` for every one) makes the
command and the flake8 plugin run without them. The bench (``bench/ruff_compare.py``) and the
tests compare the findings both ways; users never need it.

``gate`` lets every file through the gate (``clip_lint/prefilter/gate.py``): every discovered
file is parsed and analysed. The gate also decides which files can report CLN900 (a file the
gate skips is never parsed, so it can't fail to parse), so without it a file that can't be
parsed or analysed reports CLN900 even when it names no encoder. The rules' findings
(CLN001 to CLN005) of a single module are the same either way; that is what comparing with the
gate off checks. Across a project, one known difference remains: a module that names no encoder
and compares nothing by its text, but hands one project module's features to another's
comparison, is skipped by the gate (docs/project.md, known limits).
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from typing import Any, Callable, List, Tuple, TypeVar

VARIABLE = "CLIP_LINT_SPEEDUPS_OFF"

#: The optimizations that may skip work but never change a finding. Switching the gate off may
#: add CLN900 findings (see above), never change another.
OPTIMIZATIONS = ("gate", "prefilter", "slicing", "gc")


def enabled(name: str) -> bool:
    """False when ``name`` (or ``all``) is listed in ``CLIP_LINT_SPEEDUPS_OFF``."""
    switched_off = os.environ.get(VARIABLE)
    if not switched_off:
        return True
    names = {part.strip() for part in switched_off.split(",")}
    return name not in names and "all" not in names


#: The young-generation threshold while a module is analysed (Python's default is 700).
YOUNG_COLLECTION_THRESHOLD = 100_000
Function = TypeVar("Function", bound=Callable[..., Any])


def fewer_collections(function: Function) -> Function:
    """Run ``function`` with the cyclic garbage collector's young generation collected rarely.

    ``ast`` and libcst build hundreds of thousands of small, acyclic nodes per module; at the
    default threshold the collector scans them again and again (about 15% of a run). The
    collector stays on, and the outermost call restores the thresholds, so a host such as flake8
    keeps its own settings, also when calls overlap in threads.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not enabled("gc"):
            return function(*args, **kwargs)
        _raise_threshold()
        try:
            return function(*args, **kwargs)
        finally:
            _restore_threshold()

    return wrapper  # type: ignore[return-value]


_threshold_lock = threading.Lock()
_raised: List[Tuple[int, ...]] = []  # the thresholds to restore, once per running call


def _raise_threshold() -> None:
    with _threshold_lock:
        thresholds = gc.get_threshold()
        if not _raised:
            gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_THRESHOLD), *thresholds[1:])
        _raised.append(thresholds)


def _restore_threshold() -> None:
    with _threshold_lock:
        first = _raised[0]
        _raised.pop()
        if not _raised:
            gc.set_threshold(*first)
