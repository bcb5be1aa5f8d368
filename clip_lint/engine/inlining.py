"""Calls into the project's own functions and methods: run the body with the caller's values."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import libcst as cst

from clip_lint.engine.callables import SplicedArg
from clip_lint.engine.frames import ClassInfo, Frame
from clip_lint.engine.syntax import (
    dotted_name,
)
from clip_lint.engine.values import (
    BOTTOM,
    Binding,
    UNKNOWN,
    Kind,
    Value,
    merge,
)


@dataclass
class InlineBudget:
    """How much inlining one module may do before calls degrade to unknown (silent).

    Inlining is context-sensitive, so a dense call graph, or calls inside nested loops,
    multiplies the work. Three bounds keep a module's analysis finite: the call depth,
    statements run inside inlined bodies per unit (a top-level statement or one method
    of a class) and per module. They count steps, so they decide the same way on any
    machine. A wall-clock deadline is only a safety net: when it fires, ``clock_ran_out``
    says so, and the result is reported as cut short and never cached.
    """

    max_depth: int = 3
    statements_per_unit: int = 4_000
    statements_per_module: int = 60_000
    seconds_per_module: float = 20.0
    unit_left: int = 0
    module_left: int = 0
    deadline: float = field(default=0.0)
    exhausted: bool = False
    clock_ran_out: bool = False

    def start_module(self) -> None:
        self.module_left = self.statements_per_module
        self.deadline = time.monotonic() + self.seconds_per_module
        self.start_unit()

    def start_unit(self) -> None:
        self.unit_left = self.statements_per_unit

    def spend(self) -> None:
        self.unit_left -= 1
        self.module_left -= 1

    def allows(self, depth: int) -> bool:
        if depth >= self.max_depth:
            return False
        if self.unit_left <= 0 or self.module_left <= 0:
            self.exhausted = True
            return False
        if time.monotonic() > self.deadline:
            self.exhausted = self.clock_ran_out = True
            return False
        return True


@dataclass(frozen=True)
class InlineSummary:
    """What one inlined call did to its caller, kept to replay the same call for free.

    Only calls that made no report (not even a muted one) are kept, so a replay is exact
    whatever the reporting state: its effects are the return value, the arguments it
    normalized in place, the ``self.`` attributes it left, and the values that escaped.
    """

    result: Value
    normalized_arguments: Tuple[Tuple[str, Value], ...]
    self_attributes: Tuple[Tuple[str, Value], ...]
    escaped: Tuple[Binding, ...]
    class_info: Optional[ClassInfo]  # held so that the id() in the key stays its own


class Inliner:
    """Inlines the project's own functions at their calls (a mixin of ``Analyzer``).

    A call into another module runs there (its scope: imports, globals); the same budget
    and memo apply, so a deep or dense project degrades to unknown like a dense module.
    """

    def inline_key(
        self,
        function: cst.FunctionDef,
        bound: Dict[str, Value],
        frame: Frame,
        class_info: Optional[ClassInfo],
        scope: object,
        self_state: Optional[Dict[str, Value]],
        closure: Optional[Dict[str, Value]] = None,
    ) -> Optional[tuple]:
        """Everything an inlined run reads: arguments, globals, ``self.`` state, the call stack."""
        if self_state is not None:
            attributes: Optional[frozenset] = frozenset(self_state.items())
        elif class_info:
            attributes = frozenset((k, v) for k, v in frame.env.items() if k.startswith("self."))
        else:
            attributes = None
        try:
            return (
                function,
                id(class_info),
                frozenset(bound.items()),
                attributes,
                self_state is not None,
                frozenset(scope.module_frame.env.items()),  # type: ignore[attr-defined]
                len(self.call_stack),
                frozenset(id(f) for f, _ in self.call_stack),
                self.probing,
                frozenset(closure.items()) if closure else None,
            )
        except TypeError:  # an unhashable value: run it
            return None

    def replay(self, summary: InlineSummary) -> InlineSummary:
        for binding in summary.escaped:
            self.escaped.add(binding)
            self.escape_log.append(binding)
        return summary

    def apply(self, summary: InlineSummary, callers: Dict[str, cst.CSTNode], frame: Frame) -> Value:
        """Give the caller what the call did: normalized arguments, ``self.`` state, the result."""
        self.apply_arguments(summary, callers, frame)
        frame.env.update(summary.self_attributes)
        return summary.result

    def apply_arguments(self, summary: InlineSummary, callers: Dict[str, cst.CSTNode], frame: Frame) -> None:
        for name, value in summary.normalized_arguments:
            self.update_argument(frame, callers[name], value)

    @staticmethod
    def update_argument(frame: Frame, expression: cst.CSTNode, value: Value) -> None:
        key = dotted_name(expression)
        if key is not None and value.kind is Kind.UNIT:
            frame.env[key] = value.but(binding=frame.env.get(key, UNKNOWN).binding)

    def inline(
        self,
        function: cst.FunctionDef,
        node: cst.Call,
        args: List[Tuple[cst.Arg, Value]],
        frame: Frame,
        class_info: Optional[ClassInfo],
        skip_self: bool = False,
        scope: Optional[object] = None,
        closure: Optional[Dict[str, Value]] = None,
    ) -> Value:
        """Run a function (a method, for ``self.method()``) with the caller's values; its result."""
        outcome = self.run_inlined(function, node, args, frame, class_info, skip_self, scope, closure=closure)
        if outcome is None:
            return UNKNOWN
        summary, callers = outcome
        return self.apply(summary, callers, frame)

    def run_inlined(
        self,
        function: cst.FunctionDef,
        node: Optional[cst.Call],
        args: List[Tuple[cst.Arg, Value]],
        frame: Frame,
        class_info: Optional[ClassInfo],
        skip_self: bool = False,
        scope: Optional[object] = None,
        self_state: Optional[Dict[str, Value]] = None,
        closure: Optional[Dict[str, Value]] = None,
    ) -> Optional[Tuple[InlineSummary, Dict[str, cst.CSTNode]]]:
        """Run a function's body in its own module's scope: what it did, and the argument
        expressions by parameter. None when it is recursive or over the budget.

        ``self_state`` is the state of the object a method runs on; without it, a method
        sees the caller's ``self.<attr>`` values (a ``self.method()`` call).
        """
        if any(f is function for f, _ in self.call_stack):
            return None
        bound, callers = bind_arguments(function, args, skip_self)
        target_scope = scope if scope is not None else self.scope
        crossing = not target_scope.home or self_state is not None  # type: ignore[attr-defined]
        if crossing and not self.probing and not self.worth_running(function, args, self_state, target_scope):
            return None
        key = self.inline_key(function, bound, frame, class_info, target_scope, self_state, closure)
        summary = self.inline_memo.get(key) if key is not None else None
        if summary is not None:
            return self.replay(summary), callers
        if not self.budget.allows(len(self.call_stack)):
            return None
        if crossing and self.foreign_statements_left <= 0:
            return None  # the project's other modules have had their share of this module's budget
        spent_before = self.budget.module_left
        caller_env = frame.env
        self.remember(node)
        if not self.call_stack and node is not None and not self.mute:
            handed = [value for _, value in args]
            handed += [*(self_state or {}).values(), *(closure or {}).values()]
            self.handed = self.handed_over(handed)
        self.call_stack.append((function, node))
        caller_top = self.top_statement
        reports_before, escapes_before = self.report_attempts, len(self.escape_log)
        try:
            with self.in_scope(target_scope):
                env = self.global_env(frame)
                if closure:
                    env.update(closure)
                if class_info is not None and self_state is None:
                    env.update({k: v for k, v in caller_env.items() if k.startswith("self.")})
                if target_scope.home:  # type: ignore[attr-defined]
                    self.top_statement = self.top_of_definition.get(id(function), caller_top)
                callee = self.run_function(function, env, class_info=class_info, bound=bound, self_state=self_state)
        finally:
            self.call_stack.pop()
            self.top_statement = caller_top
            if crossing and self.scope.home:  # type: ignore[attr-defined]
                self.foreign_statements_left -= spent_before - self.budget.module_left
        normalized = tuple(
            (name, callee.env.get(name, UNKNOWN)) for name in sorted(callee.inplace & set(callers))
        )
        attributes = tuple((k, v) for k, v in callee.env.items() if k.startswith("self.")) if class_info else ()
        result = self.returned(callee.returns)
        summary = InlineSummary(result, normalized, attributes, tuple(self.escape_log[escapes_before:]), class_info)
        if key is not None and self.report_attempts == reports_before:
            self.inline_memo[key] = summary
        return summary, callers

    @staticmethod
    def returned(returns: List[Value]) -> Value:
        result = BOTTOM
        for value in returns:
            result = merge(result, value)
        if result.kind is Kind.BOTTOM:
            return UNKNOWN
        return result.but(binding=None) if result.is_feature else result


def bind_arguments(
    function: cst.FunctionDef, args: List[Tuple[cst.Arg, Value]], skip_self: bool
) -> Tuple[Dict[str, Value], Dict[str, cst.CSTNode]]:
    """Each parameter's value, as Python binds the call's arguments, and the caller's expression
    for it. Extra positional arguments go to ``*args`` and extra keywords to ``**kwargs``, which
    keep them to hand on; after an argument unpacked from something unknown, positions are unknown.
    """
    params = function.params
    positional = [param.name.value for param in [*params.posonly_params, *params.params]]
    if skip_self and positional:
        positional = positional[1:]
    named = set(positional) | {param.name.value for param in params.kwonly_params}
    star = params.star_arg.name.value if isinstance(params.star_arg, cst.Param) else None
    star_keywords = params.star_kwarg.name.value if params.star_kwarg is not None else None
    bound: Dict[str, Value] = {}
    callers: Dict[str, cst.CSTNode] = {}
    extras: List[Tuple[cst.Arg, Value]] = []
    extra_keywords: List[Tuple[cst.Arg, Value]] = []
    position, open_positions, open_keywords = 0, False, False

    def bind(name: str, arg: cst.Arg, value: Value) -> None:
        bound[name] = value
        if not isinstance(arg, SplicedArg):
            callers[name] = arg.value

    for arg, value in args:
        if arg.keyword is not None:
            if arg.keyword.value in named:
                bind(arg.keyword.value, arg, value)
            else:
                extra_keywords.append((SplicedArg(value=arg.value, keyword=arg.keyword), value))
        elif arg.star == "**":
            open_keywords = True
        elif arg.star:
            open_positions = True
        elif not open_positions:
            if position < len(positional):
                bind(positional[position], arg, value)
            else:
                extras.append((SplicedArg(value=arg.value), value))
            position += 1
    if star is not None:
        bound[star] = UNKNOWN if open_positions else Value(
            Kind.TUPLE, parts=tuple(value for _, value in extras), packed=tuple(extras)
        )
    if star_keywords is not None:
        bound[star_keywords] = UNKNOWN if open_keywords else Value(
            Kind.MAPPING,
            keys=tuple(arg.keyword.value for arg, _ in extra_keywords),  # type: ignore[union-attr]
            parts=tuple(value for _, value in extra_keywords),
            packed=tuple(extra_keywords),
        )
    return bound, callers
