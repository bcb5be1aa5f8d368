"""The flow analysis of one module: follow what each value is through its code.

The engine walks a libcst tree statement by statement, keeping for every name an abstract
``Value`` (raw features, unit features, pooled unit features, a norm, ...). It reads every
domain fact from ``clip_lint/facts.py``. The stages live in their own modules:

- ``values`` and ``shapes``: the abstract values, how they merge, rank and feature-axis arithmetic;
- ``syntax``: small readers of libcst nodes (names, literals, arguments);
- ``locator``: positions and source order of the few nodes a report needs, from ``ast``;
- ``frames``: scopes, classes, and findings before positions (``Pending``);
- ``statements``, ``expressions``, ``calls``, ``callables``, ``normalization``, ``sinks``,
  ``inlining``, ``ranks``: the mixins that make up the ``Analyzer`` (``analyzer``); ``callables``
  calls what the code keeps as a value (bound methods, lambdas, partials, models, objects), and
  ``ranks`` reads the output rank of the project's own encoders from their bodies;
- ``imports`` and ``linking``: names that lead into the project's other modules and classes,
  read through a ``ProjectView`` (``project_view``), which the project layer implements.

The engine never reads files and never builds a fix: ``clip_lint.project.checking`` runs it,
and ``clip_lint.fix.finding_builder`` turns what it reports into findings with fixes.
The names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Analyzer": "clip_lint.engine.analyzer",
    "Pending": "clip_lint.engine.frames",
    "dotted_name": "clip_lint.engine.syntax",
    "einsum_contracts_last": "clip_lint.engine.sinks",
    "find_arg": "clip_lint.engine.syntax",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
