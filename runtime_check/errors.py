"""Exceptions of the runtime checker (importable without torch)."""

from __future__ import annotations


class UnnormalizedFeaturesError(AssertionError):
    """CLIP features reached a similarity op without being L2-normalized along the contracted dim."""


class CheckerInternalError(RuntimeError):
    """The checker itself failed; raised instead of letting a TypeError escape a binary operator."""
