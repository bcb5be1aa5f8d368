"""Calls into the module's own functions and methods: run the body with the caller's values."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from clip_lint.engine.frames import ClassInfo, Frame
from clip_lint.engine.syntax import (
    dotted_name,
)
from clip_lint.engine.values import (
    BOTTOM,
    UNKNOWN,
    Kind,
    Value,
    merge,
)

MAX_INLINE_DEPTH = 3


class Inliner:
    """Inlines the project's own functions at their calls (a mixin of ``Analyzer``)."""

    def inline(
        self,
        function: cst.FunctionDef,
        node: cst.Call,
        args: List[Tuple[cst.Arg, Value]],
        frame: Frame,
        class_info: Optional[ClassInfo],
        skip_self: bool = False,
        scope: Optional[object] = None,
    ) -> Value:
        """Run a function (a method, for ``self.method()``) with the caller's values; its result."""
        callee = self.run_inlined(function, node, args, frame, class_info, skip_self, scope)
        if callee is None:
            return UNKNOWN
        if class_info is not None:
            for key, value in callee.env.items():
                if key.startswith("self."):
                    frame.env[key] = value
        return self.returned(callee)

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
    ) -> Optional[Frame]:
        """Run a function's body in its own module's scope; None when it is too deep or recursive.

        ``self_state`` is the state of the object a method runs on; without it, a method
        sees the caller's ``self.<attr>`` values (a ``self.method()`` call).
        """
        if len(self.call_stack) >= MAX_INLINE_DEPTH or any(f is function for f, _ in self.call_stack):
            return None
        names = self.parameter_names(function)
        if skip_self and names:
            names = names[1:]
        bound: Dict[str, Value] = {}
        callers: Dict[str, cst.CSTNode] = {}
        positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
        for name, (arg, value) in zip(names, positional):
            bound[name], callers[name] = value, arg.value
        for arg, value in args:
            if arg.keyword is not None:
                bound[arg.keyword.value], callers[arg.keyword.value] = value, arg.value
        caller_env = frame.env
        self.remember(node)
        self.call_stack.append((function, node))
        caller_top = self.top_statement
        target_scope = scope if scope is not None else self.scope
        try:
            with self.in_scope(target_scope):
                env = self.global_env(frame)
                if class_info is not None and self_state is None:
                    env.update({k: v for k, v in caller_env.items() if k.startswith("self.")})
                if target_scope.home:
                    self.top_statement = self.top_of_definition.get(id(function), caller_top)
                callee = self.run_function(
                    function, env, class_info=class_info, bound=bound, self_state=self_state
                )
        finally:
            self.call_stack.pop()
            self.top_statement = caller_top
        for name in callee.inplace & set(callers):
            key = dotted_name(callers[name])
            if key is not None and callee.env.get(name, UNKNOWN).kind is Kind.UNIT:
                frame.env[key] = callee.env[name].but(binding=frame.env.get(key, UNKNOWN).binding)
        return callee

    @staticmethod
    def returned(callee: Frame) -> Value:
        """What a run function returns: its return values merged; features lose their binding."""
        result = BOTTOM
        for value in callee.returns:
            result = merge(result, value)
        if result.kind is Kind.BOTTOM:
            return UNKNOWN
        return result.but(binding=None) if result.is_feature else result
