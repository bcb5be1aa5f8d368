"""Private switches that turn a speed optimization off, to prove that it never changes a finding.

``CLIP_LINT_SPEEDUPS_OFF=prefilter,slicing`` (comma separated; ``all`` for every one) makes the
command and the flake8 plugin run without them. The bench (``bench/ruff_compare.py``) and the
tests compare the findings both ways; users never need it.
"""

from __future__ import annotations

import os

VARIABLE = "CLIP_LINT_SPEEDUPS_OFF"

#: The optimizations that may skip work but never change a finding. The substring gate is not
#: one of them: it also decides which files can report CLN900.
OPTIMIZATIONS = ("prefilter", "slicing")


def enabled(name: str) -> bool:
    """False when ``name`` (or ``all``) is listed in ``CLIP_LINT_SPEEDUPS_OFF``."""
    switched_off = os.environ.get(VARIABLE)
    if not switched_off:
        return True
    names = {part.strip() for part in switched_off.split(",")}
    return name not in names and "all" not in names
