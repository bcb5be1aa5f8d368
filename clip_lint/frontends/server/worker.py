"""The analysis process: the language server analyses in a child process that stays warm.

Some inputs crash the interpreter itself (libcst's native parser on deep nesting), and a
check can in principle run away. The server must outlive both: it talks LSP in one process
and analyses in another, started once (libcst imported once, every module's summary kept
in memory), and started again when it dies or misses its deadline. The request that killed
it is answered with ``AnalysisFailed``, which the server turns into one CLN900 diagnostic.

The child holds the unsaved texts of open modules; the parent remembers them and hands
them to a new child after a restart.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from typing import Any, Callable, Dict, Optional

from clip_lint.frontends.server.analysis import Analysis, FileSettings
from clip_lint.frontends.workers import _describe_exit

#: How long one request may take before the process is killed (a check usually takes < 1 s).
DEADLINE_SECONDS = 60.0


class AnalysisFailed(Exception):
    """The analysis process died or stalled on a request; the message says how."""


class AnalysisProcess:
    """The parent's handle on the analysis process; one request at a time (a lock serializes them)."""

    def __init__(self, make_settings: Callable[[], FileSettings], deadline: float = DEADLINE_SECONDS) -> None:
        self._make_settings = make_settings
        self._deadline = deadline
        self._context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._process: Any = None
        self._connection: Any = None
        self._texts: Dict[str, str] = {}
        self._lock = threading.Lock()
        self.restarts = 0

    def call(self, method: str, *args: Any) -> Any:
        """Run ``Analysis.<method>(*args)`` in the analysis process and return its answer."""
        with self._lock:
            if method == "set_texts":
                self._remember(args[0])
            self._ensure_started()
            return self._exchange(method, args)

    def close(self) -> None:
        """End the analysis process: at once when a request is still running in it."""
        idle = self._lock.acquire(timeout=1.0)
        try:
            process, connection = self._process, self._connection
            if process is not None and not idle:
                process.kill()  # the request's thread gets EOF and gives up
            if connection is not None and idle:
                connection.close()
            if process is not None:
                process.join(timeout=2)
                if process.is_alive():
                    process.kill()
                    process.join()
            if idle:  # else the request's thread, which holds them, lets them go when its read fails
                self._process = self._connection = None
        finally:
            if idle:
                self._lock.release()

    def _remember(self, texts: Dict[str, Optional[str]]) -> None:
        for path, text in texts.items():
            if text is None:
                self._texts.pop(path, None)
            else:
                self._texts[path] = text

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=serve_requests, args=(child_end, self._make_settings), name="clip-lint-analysis", daemon=True
        )
        process.start()
        child_end.close()
        self._process, self._connection = process, parent_end
        if self._texts:
            self._exchange("set_texts", (dict(self._texts),))

    def _exchange(self, method: str, args: tuple) -> Any:
        try:
            self._connection.send((method, args))
            if not self._connection.poll(self._deadline):
                self._stop()
                raise AnalysisFailed(f"the analysis did not finish within {self._deadline:.0f} s and was stopped")
            status, value = self._connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            exitcode = self._stop()
            raise AnalysisFailed(f"analysing it crashed the analysis process ({_describe_exit(exitcode)})") from None
        if status != "ok":
            raise AnalysisFailed(f"internal error {value}")
        return value

    def _stop(self) -> Optional[int]:
        """End the current process (it died or stalled); the next request starts a new one."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        self.restarts += 1
        if connection is not None:
            connection.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join()
        return process.exitcode


def serve_requests(connection: Any, make_settings: Callable[[], FileSettings]) -> None:
    """The analysis process's loop: answer ``(method, args)`` requests until the pipe closes."""
    os.dup2(2, 1)  # fd 1 is the editor's LSP stream: nothing of ours may ever reach it
    sys.stdout = sys.stderr
    analysis = Analysis(make_settings)
    import libcst  # noqa: F401  (warm: the first check of a session pays for no import)

    import clip_lint.engine.analyzer  # noqa: F401
    import clip_lint.fix.finding_builder  # noqa: F401

    while True:
        try:
            method, args = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            answer = ("ok", getattr(analysis, method)(*args))
        except Exception as error:  # reported for this request; the process serves the next one
            answer = ("error", f"{type(error).__name__}: {error}")
        connection.send(answer)
