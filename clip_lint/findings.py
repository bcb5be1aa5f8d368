"""The data a check produces: findings, and the text edits that fix them.

Both front ends (the flake8 plugin and the ``clip-lint`` command) consume these; neither
holds analysis of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple


@dataclass(frozen=True, order=True)
class TextEdit:
    """Replace source text between two positions (1-based line, 0-based column).

    An insertion has ``start == end``. Edits of one fix never overlap.
    """

    start: Tuple[int, int]
    end: Tuple[int, int]
    text: str


@dataclass(frozen=True)
class Fix:
    """A repair attached to a finding, in the style of Ruff: a title and a safety mark."""

    title: str
    edits: Tuple[TextEdit, ...]
    safe: bool = True


@dataclass(frozen=True)
class Finding:
    """One violation. ``line`` is 1-based and ``col`` 0-based, as flake8 expects.

    ``end_line`` / ``end_col`` close the reported expression (None: a point, at the start).
    """

    code: str
    line: int
    col: int
    message: str
    fix: Optional[Fix] = field(default=None, compare=False)
    end_line: Optional[int] = field(default=None, compare=False)
    end_col: Optional[int] = field(default=None, compare=False)

    @property
    def text(self) -> str:
        """The flake8-style message: the code, a space, the message."""
        return f"{self.code} {self.message}"
