"""The substring gate that runs before any parse; it needs neither libcst nor the engine."""

from __future__ import annotations

from clip_lint import facts
from clip_lint.options import AnalysisOptions

DEFAULT_OPTIONS = AnalysisOptions()


def passes_gate(source: str, options: AnalysisOptions = DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding."""
    return any(word in source for word in facts.GATE_WORDS) or any(
        word in source for word in options.extra_encoders
    )
