"""Callables held as values, and the arguments that ``*args`` / ``**kwargs`` hand on.

A bound method (``embed = model.encode_image``), a function named without a call, a lambda,
a ``functools.partial`` and a project class are values like any other: kept in a name, an
attribute, a dict or a list, passed as an argument. Calling one runs what calling the original
would (a mixin of ``Analyzer``). So does calling a model or an object of a project class, and
"one of" several of them runs each and keeps what they agree on.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine.frames import ClassInfo, Frame
from clip_lint.engine.values import BOTTOM, UNKNOWN, Kind, Value, merge

Arguments = List[Tuple[cst.Arg, Value]]
#: The name of the one-line function a lambda runs as (messages call it "lambda").
LAMBDA_NAME = "_lambda_"


class SplicedArg(cst.Arg):
    """An argument handed on from a tuple, a dict, ``*args`` or ``**kwargs``: its value is known,
    but its expression is not the caller's own (a callee that normalizes it in place can't
    write back to a name)."""

    __slots__ = ()

    # Equal when they hand on the same expression under the same name: a call's summary is then
    # reused for the same call site (libcst nodes are otherwise equal only to themselves).
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SplicedArg)
            and self.value is other.value
            and (self.keyword.value if self.keyword else None) == (other.keyword.value if other.keyword else None)
        )

    def __hash__(self) -> int:
        return hash((id(self.value), self.keyword.value if self.keyword else None))


class BoundMethod:
    """``receiver.method`` read without a call; ``receiver`` None means ``self`` of ``class_info``."""

    __slots__ = ("receiver", "method", "class_info")

    def __init__(self, receiver: Optional[Value], method: str, class_info: Optional[ClassInfo]) -> None:
        self.receiver = receiver
        self.method = method
        self.class_info = class_info

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BoundMethod)
            and self.method == other.method
            and self.class_info is other.class_info
            and self.receiver == other.receiver
        )

    def __hash__(self) -> int:
        return hash((self.method, id(self.class_info)))


class FunctionValue:
    """A function of a module (its own scope), named without a call."""

    __slots__ = ("function", "scope")

    def __init__(self, function: cst.FunctionDef, scope: object) -> None:
        self.function = function
        self.scope = scope


class LambdaValue:
    """A lambda: its body as a one-line function, and the names it closes over."""

    __slots__ = ("function", "closure", "class_info", "scope")

    def __init__(
        self, function: cst.FunctionDef, closure: Dict[str, Value], class_info: Optional[ClassInfo], scope: object
    ) -> None:
        self.function = function
        self.closure = closure
        self.class_info = class_info
        self.scope = scope


class DefinitionValue:
    """A function or class of another module named without a call: parsed only if it is called."""

    __slots__ = ("scope", "name")

    def __init__(self, scope: object, name: str) -> None:
        self.scope = scope
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefinitionValue) and self.scope is other.scope and self.name == other.name

    def __hash__(self) -> int:
        return hash((id(self.scope), self.name))


class PartialValue:
    """``functools.partial(inner, *args, **kwargs)``: the callable and the arguments fixed in advance."""

    __slots__ = ("inner", "args")

    def __init__(self, inner: Value, args: Tuple[Tuple[cst.Arg, Value], ...]) -> None:
        self.inner = inner
        self.args = args


def callable_value(payload: object) -> Value:
    return Value(Kind.CALLABLE, callee=payload)


class Callables:
    """Makes and calls callables held as values (a mixin of ``Analyzer``)."""

    def function_value(self, function: cst.FunctionDef, scope: object) -> Value:
        """The value of a function named without a call: one per function, so that merges agree."""
        value = self.function_values.get(id(function))
        if value is None or value.callee.function is not function:  # type: ignore[union-attr]
            value = self.function_values[id(function)] = callable_value(FunctionValue(function, scope))
        return value

    def eval_Lambda(self, node: cst.Lambda, frame: Frame) -> Value:
        function = self.lambda_functions.get(id(node))
        if function is None or function[0] is not node:
            body = cst.IndentedBlock([cst.SimpleStatementLine([cst.Return(node.body)])])
            made = cst.FunctionDef(name=cst.Name(LAMBDA_NAME), params=node.params, body=body)
            function = self.lambda_functions[id(node)] = (node, made)
            if self.top_statement is not None:
                self.top_of_definition[id(made)] = self.top_statement
        closure = {name: value for name, value in frame.env.items() if value.kind is not Kind.UNKNOWN}
        return callable_value(LambdaValue(function[1], closure, frame.class_info, self.scope))

    def call_value(self, callee: Value, node: cst.Call, args: Arguments, frame: Frame) -> Optional[Value]:
        """Call a value that stands for something callable; None when it is not one."""
        kind = callee.kind
        if kind is Kind.MODEL:
            return Value(Kind.OUTPUT, tag=callee.tag)
        if kind is Kind.INSTANCE:
            return self.call_instance(callee, None, node, args, frame)
        if kind is Kind.ONE_OF:
            return self.each_candidate(callee, lambda candidate: self.call_value(candidate, node, args, frame))
        if kind is Kind.CALLABLE:
            return self.call_callable(callee.callee, node, args, frame)
        return None

    def call_callable(self, payload: object, node: cst.Call, args: Arguments, frame: Frame) -> Optional[Value]:
        if isinstance(payload, BoundMethod):
            return self.call_bound_method(payload, node, args, frame)
        if isinstance(payload, FunctionValue):
            return self.inline(payload.function, node, args, frame, None, scope=payload.scope)
        if isinstance(payload, LambdaValue):
            return self.inline(
                payload.function, node, args, frame, payload.class_info, scope=payload.scope, closure=payload.closure
            )
        if isinstance(payload, PartialValue):
            return self.call_value(payload.inner, node, combined_arguments(payload.args, args), frame)
        if isinstance(payload, DefinitionValue):
            scope = payload.scope
            if payload.name in scope.functions:  # type: ignore[attr-defined]
                return self.inline(scope.functions[payload.name], node, args, frame, None, scope=scope)  # type: ignore
            ref = scope.class_ref(payload.name)  # type: ignore[attr-defined]
            return self.instantiate(ref, node, args, frame) if ref is not None else None
        if payload.__class__.__name__ == "ClassRef":
            return self.instantiate(payload, node, args, frame)  # type: ignore[arg-type]
        return None

    def call_bound_method(self, bound: BoundMethod, node: cst.Call, args: Arguments, frame: Frame) -> Optional[Value]:
        method, receiver = bound.method, bound.receiver
        if method in self.encoders:
            return self.encoder_result(method, receiver, node, args, frame, bound.class_info)
        if receiver is None:
            function = bound.class_info.methods.get(method) if bound.class_info is not None else None
            if function is None:
                return None
            return self.inline(function, node, args, frame, bound.class_info, skip_self=True)
        if receiver.kind is Kind.ONE_OF:
            return self.each_candidate(
                receiver, lambda one: self.call_bound_method(BoundMethod(one, method, None), node, args, frame)
            )
        if receiver.kind is Kind.INSTANCE:
            return self.call_instance(receiver, method, node, args, frame)
        if receiver.kind is Kind.MODEL and method in facts.MODEL_CALL_METHODS:
            return Value(Kind.OUTPUT, tag=receiver.tag)
        return None

    def each_candidate(self, value: Value, run: Callable[[Value], Optional[Value]]) -> Value:
        """Run something on each candidate of a ONE_OF, muted: their results merged (agreement is known)."""
        result = BOTTOM
        self.mute += 1
        try:
            for candidate in value.parts:
                outcome = run(candidate)
                if outcome is None:
                    return UNKNOWN
                result = merge(result, outcome)
        finally:
            self.mute -= 1
        return UNKNOWN if result.kind is Kind.BOTTOM else result

    def bound_method_value(self, receiver: Optional[Value], method: str, class_info: Optional[ClassInfo]) -> Value:
        return callable_value(BoundMethod(receiver, method, class_info))

    @staticmethod
    def expand_arguments(args: Arguments) -> Arguments:
        """Arguments with ``*x`` and ``**x`` spread out where ``x`` is known: a tuple, a dict with
        literal keys, or what a ``*args`` / ``**kwargs`` parameter received."""
        if not any(arg.star for arg, _ in args):
            return args
        expanded: Arguments = []
        for arg, value in args:
            if arg.star == "*" and value.kind is Kind.TUPLE:
                if value.packed is not None:
                    expanded.extend(value.packed)
                else:
                    expanded.extend((SplicedArg(value=arg.value), part) for part in value.parts)
                continue
            if arg.star == "**" and value.kind is Kind.MAPPING:
                if value.packed is not None:
                    expanded.extend(value.packed)
                    continue
                if all(isinstance(key, str) and key.isidentifier() for key in value.keys):
                    expanded.extend(
                        (SplicedArg(value=arg.value, keyword=cst.Name(str(key))), part)
                        for key, part in zip(value.keys, value.parts)
                    )
                    continue
            expanded.append((arg, value))
        return expanded


def combined_arguments(fixed: Tuple[Tuple[cst.Arg, Value], ...], given: Arguments) -> Arguments:
    """A partial's arguments, then the call's: positional ones in that order, a keyword given
    again replaces the fixed one."""
    given_keywords = {arg.keyword.value for arg, _ in given if arg.keyword is not None}
    kept = [(arg, value) for arg, value in fixed if arg.keyword is None or arg.keyword.value not in given_keywords]
    positional = [pair for pair in kept if pair[0].keyword is None and not pair[0].star]
    keywords = [pair for pair in kept if pair not in positional]
    return positional + list(given) + keywords
