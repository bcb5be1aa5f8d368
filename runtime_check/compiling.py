"""Whether torch.compile is tracing code that must stay one graph (`fullgraph=True`, export).

There the checker's wrappers run the model's own code and nothing else: no bookkeeping, no
tracking, so no graph break. In other compiled code their bookkeeping is a clean graph break
that runs eagerly, and features are tracked as in eager mode.
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch
import torch._dynamo

Function = TypeVar("Function", bound=Callable)


@torch._dynamo.assume_constant_result  # called by dynamo while tracing; a constant in the graph
def _tracing_one_graph() -> bool:
    try:
        from torch._dynamo.symbolic_convert import InstructionTranslator

        tracer = InstructionTranslator.current_tx()
        return bool(tracer.one_graph or getattr(tracer, "error_on_graph_break", False))
    except Exception:  # noqa: BLE001 - a torch whose tracer looks different: never break its graph
        return True


def in_one_graph_region() -> bool:
    """True while dynamo traces code that allows no graph break; False in eager mode."""
    return torch.compiler.is_compiling() and _tracing_one_graph()


def graph_break_when_compiled(function: Function) -> Function:
    """`function` itself in eager mode; in compiled code, a clean graph break that runs it eagerly.

    The same as `torch.compiler.disable`, whose wrapper costs more than this check when nothing is
    being compiled: these run on every encoder call.
    """
    disabled = torch.compiler.disable(function)

    @functools.wraps(function)
    def run(*args, **kwargs):
        if torch.compiler.is_compiling():
            return disabled(*args, **kwargs)
        return function(*args, **kwargs)

    return run  # type: ignore[return-value]
