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
- ``project``: finding and reading those modules, and ``analyze_file``, what the front ends call;
- ``entry``: the gate, the parse, and ``analyze_source`` for one module on its own.
"""

from importlib import import_module
from typing import Any

from clip_lint.engine.entry import DEFAULT_OPTIONS, analyze_source
from clip_lint.engine.gate import needs_analysis, passes_gate

# The names below need libcst: they load on first use (PEP 562), so importing the engine for
# ``analyze_source`` costs nothing until a module passes the gate and the pre-filter.
_LAZY = {
    "Analyzer": "clip_lint.engine.analyzer",
    "Pending": "clip_lint.engine.frames",
    "einsum_contracts_last": "clip_lint.engine.sinks",
    "dotted_name": "clip_lint.engine.syntax",
    "find_arg": "clip_lint.engine.syntax",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Analyzer",
    "DEFAULT_OPTIONS",
    "Pending",
    "analyze_source",
    "needs_analysis",
    "dotted_name",
    "einsum_contracts_last",
    "find_arg",
    "passes_gate",
]
