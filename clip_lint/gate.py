"""The substring gate: a file that never names an encoder or an embedding field has no finding.

It runs before any parse, in both front ends, and imports nothing heavy: a run where no file
passes it never imports libcst.
"""

from __future__ import annotations

from clip_lint import facts
from clip_lint.options import AnalysisOptions

_DEFAULT_OPTIONS = AnalysisOptions()


def passes_gate(source: str, options: AnalysisOptions = _DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding."""
    return any(word in source for word in facts.GATE_WORDS) or any(
        word in source for word in options.extra_encoders
    )
