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

from clip_lint.engine.analyzer import Analyzer
from clip_lint.engine.entry import DEFAULT_OPTIONS, analyze_source, needs_analysis, passes_gate
from clip_lint.engine.frames import Pending
from clip_lint.engine.sinks import einsum_contracts_last
from clip_lint.engine.syntax import dotted_name, find_arg

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
