"""The generic flow analysis: follow what each value is through a module's code.

The engine walks a libcst tree statement by statement, keeping for every name an abstract
``Value`` (raw features, unit features, pooled unit features, a norm, ...). It reads every
domain fact from ``clip_lint/facts.py``. The stages live in their own modules:

- ``values`` and ``shapes``: the abstract values, how they merge, rank and feature-axis arithmetic;
- ``syntax``: small readers of libcst nodes (names, literals, arguments);
- ``frames``: scopes, classes, and findings before positions;
- ``statements``, ``expressions``, ``calls``, ``normalization``, ``sinks``, ``inlining``:
  the mixins that make up the ``Analyzer`` (``analyzer``);
- ``imports`` and ``linking``: names that lead into the project's other modules and classes;
- ``project``: finding and reading those modules, and ``analyze_file``;
- ``gate``: the text tests before any parse (an encoder word, an import that leads to one);
- ``entry``: the parse, and ``analyze_source`` for one module on its own;
- ``cache``: findings kept on disk between runs, checked before ``entry`` is even imported;
  ``check_source`` is what the front ends call.

The names below are imported on first use: a run whose files all come from the cache never
imports libcst.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Analyzer": "clip_lint.engine.analyzer",
    "DEFAULT_OPTIONS": "clip_lint.engine.gate",
    "Pending": "clip_lint.engine.frames",
    "analyze_source": "clip_lint.engine.entry",
    "dotted_name": "clip_lint.engine.syntax",
    "einsum_contracts_last": "clip_lint.engine.sinks",
    "find_arg": "clip_lint.engine.syntax",
    "needs_analysis": "clip_lint.engine.gate",
    "passes_gate": "clip_lint.engine.gate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
