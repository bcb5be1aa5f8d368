"""A progress line on stderr for long runs: only on a terminal, never in pipes or CI logs."""

from __future__ import annotations

import os
import sys
import time
from typing import Optional, TextIO

DELAY_ENV = "CLIP_LINT_PROGRESS_DELAY"  # seconds before the line appears (default 1)
REDRAW_EVERY = 0.1


class Progress:
    """``Checked 120/2900 files`` redrawn in place; erased when the run ends."""

    def __init__(self, total: int, stream: Optional[TextIO] = None, enabled: bool = True, plain: bool = False,
                 delay: float = 1.0) -> None:  # fmt: skip
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.plain = plain  # NO_COLOR: no escape codes, the line is overwritten with spaces
        self.delay = delay
        self.done = 0
        self._start = time.monotonic()
        self._drawn_at: Optional[float] = None
        self._width = 0

    @classmethod
    def for_stderr(cls, total: int, quiet: int = 0, color: str = "auto") -> "Progress":
        """Shown when stderr is a terminal and the run is not quiet; plain under NO_COLOR."""
        try:
            delay = float(os.environ.get(DELAY_ENV, "1"))
        except ValueError:
            delay = 1.0
        plain = "NO_COLOR" in os.environ or color == "never"
        return cls(total, sys.stderr, enabled=sys.stderr.isatty() and not quiet, plain=plain, delay=delay)

    def advance(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._start < self.delay:
            return
        if self._drawn_at is None or now - self._drawn_at >= REDRAW_EVERY or self.done == self.total:
            self._draw(f"clip-lint: checked {self.done}/{self.total} files")
            self._drawn_at = now

    def finish(self) -> None:
        if self._drawn_at is not None:
            self._draw("")
            self.stream.write("\r")
            self.stream.flush()
            self._drawn_at = None

    def _draw(self, text: str) -> None:
        if self.plain:
            self.stream.write("\r" + text.ljust(self._width))
        else:
            self.stream.write("\r\x1b[2K" + text)
        self._width = max(self._width, len(text))
        self.stream.flush()
