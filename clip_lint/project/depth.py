"""Run an analysis at the same stack depth and recursion limit, whoever asks for it.

How deep Python may recurse decides some results (a ``RecursionError`` becomes CLN900 "nests
too deeply"), and each front end calls the analysis from its own stack depth: flake8 from
deeper than the command. ``at_fixed_depth`` runs the analysis in a thread of its own, whose
stack starts empty, under a fixed recursion limit, so that the answer depends on the code alone.
Nothing here imports anything heavy: the gate and the cache use it too.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from typing import Any, Callable, List, Optional, Tuple, TypeVar

#: The recursion limit an analysis runs under, whatever the host's own (Python's default).
ANALYSIS_RECURSION_LIMIT = 1000
#: The analysis thread's stack when the main thread's can't be known (Linux's usual 8 MB).
DEFAULT_STACK_BYTES = 8 * 1024 * 1024
MAX_STACK_BYTES = 256 * 1024 * 1024


def analysis_stack_bytes() -> int:
    """The stack the main thread gets (``ulimit -s``), so that the analysis has the room it had
    there: as many frames of the engine, and libcst's parser overflows where it did."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    except (ImportError, ValueError, OSError):
        return DEFAULT_STACK_BYTES
    if soft <= 0 or soft == resource.RLIM_INFINITY:
        return DEFAULT_STACK_BYTES
    return min(soft, MAX_STACK_BYTES)


Result = TypeVar("Result")


class _Request:
    __slots__ = ("function", "args", "done", "result", "error")

    def __init__(self, function: Callable[..., Any], args: Tuple[Any, ...]) -> None:
        self.function, self.args = function, args
        self.done = threading.Event()
        self.result: Any = None
        self.error: Optional[BaseException] = None


class _FixedDepthThread:
    """One long-lived daemon thread per process that runs analyses one at a time."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.requests: "queue.SimpleQueue[_Request]" = queue.SimpleQueue()
        self.lock = threading.Lock()  # one analysis at a time: they share the project's memos
        previous = threading.stack_size()
        threading.stack_size(analysis_stack_bytes())
        try:
            self.thread = threading.Thread(target=self._serve, name="clip-lint-analysis", daemon=True)
            self.thread.start()
        finally:
            threading.stack_size(previous)

    def _serve(self) -> None:
        while True:
            request = self.requests.get()
            previous = sys.getrecursionlimit()
            try:
                sys.setrecursionlimit(ANALYSIS_RECURSION_LIMIT)
                request.result = request.function(*request.args)
            except BaseException as error:  # handed back to the caller, who raises it
                request.error = error
            finally:
                sys.setrecursionlimit(previous)
                request.done.set()

    def run(self, function: Callable[..., Result], args: Tuple[Any, ...]) -> Result:
        request = _Request(function, args)
        with self.lock:
            self.requests.put(request)
            request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[no-any-return]


_depth_thread: List[_FixedDepthThread] = []


def at_fixed_depth(function: Callable[..., Result], *args: Any) -> Result:
    """``function(*args)``, run at the same stack depth and recursion limit whoever calls it.

    A ``RecursionError`` (CLN900 "nests too deeply") then depends on the code alone, never on
    the front end. Calls made from inside the analysis thread run directly.
    """
    if _depth_thread and _depth_thread[0].pid == os.getpid():
        worker = _depth_thread[0]
    else:  # the first call, or a forked child (a fork keeps no threads)
        _depth_thread[:] = [_FixedDepthThread()]
        worker = _depth_thread[0]
    if threading.current_thread() is worker.thread:
        return function(*args)
    return worker.run(function, args)
