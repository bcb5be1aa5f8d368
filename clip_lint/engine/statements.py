"""Statements: blocks, branches, loops, definitions, imports and assignments."""

from __future__ import annotations

import operator
from typing import Dict, List, Optional, Sequence

import libcst as cst

from clip_lint.engine.frames import LOOP_PASSES, ClassInfo, Frame
from clip_lint.engine.imports import Instance, ImportTarget
from clip_lint.engine.syntax import (
    NOT_A_CONSTANT,
    constant_of,
    dotted_name,
    is_none,
)
from clip_lint import facts
from clip_lint.engine.values import (
    BOTTOM,
    UNKNOWN,
    Binding,
    Kind,
    Value,
    merge,
    merge_envs,
)


class StatementRunner:
    """Runs statements, updating the frame's environment (a mixin of ``Analyzer``)."""

    def run_block(self, body: object, frame: Frame) -> None:
        if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            statements: Sequence[cst.CSTNode] = body.body
            if isinstance(body, cst.SimpleStatementSuite):
                self.current_line = None
                for small in statements:
                    if frame.ended:
                        return
                    self.run_small(small, frame)
                return
        else:
            statements = body  # type: ignore[assignment]
        for statement in statements:
            if frame.ended:
                return
            self.run_statement(statement, frame)

    def run_statement(self, statement: cst.CSTNode, frame: Frame) -> None:
        if self.call_stack:
            self.budget.spend()
        if type(statement) is cst.SimpleStatementLine:
            for small in statement.body:
                if frame.ended:
                    break
                self.current_line = statement
                self.run_small(small, frame)
            self.current_line = None
            return
        self.current_line = None
        handler = getattr(self, "run_" + type(statement).__name__, None)
        if handler is not None:
            handler(statement, frame)
        else:
            self.visit_children(statement, frame)

    def run_small(self, small: cst.CSTNode, frame: Frame) -> None:
        kind = type(small)  # exact types: the small statements are final classes, and isinstance is slow
        if kind is cst.Assign:
            value = self.eval(small.value, frame)
            for target in small.targets:
                self.assign(target.target, value, frame)
        elif kind is cst.AnnAssign:
            if small.value is not None:
                value = self.eval(small.value, frame)
                if value.kind is Kind.UNKNOWN:
                    value = self.annotated(small.annotation, frame)
                self.assign(small.target, value, frame)
        elif kind is cst.AugAssign:
            self.run_augassign(small, frame)
        elif kind is cst.Expr:
            self.eval(small.value, frame)
        elif kind is cst.Return:
            value = self.eval(small.value, frame) if small.value is not None else UNKNOWN
            self.note_escape(value)
            frame.returns.append(value)
            frame.ended = True
        elif isinstance(small, cst.Raise):
            self.visit_children(small, frame)
            frame.ended = True
        elif isinstance(small, cst.Import):
            self.run_import(small)
        elif isinstance(small, cst.ImportFrom):
            self.run_import_from(small)
        else:
            self.visit_children(small, frame)

    def run_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.bind_alias(alias.asname.name.value, full)
                self.record_import(alias.asname.name.value, ImportTarget(full))
            else:
                head = full.split(".")[0]
                self.bind_alias(head, head)
                self.record_import(head, ImportTarget(head))

    def run_import_from(self, node: cst.ImportFrom) -> None:
        base = dotted_name(node.module) if node.module is not None else ""
        if base is None:
            return
        level = len(node.relative)
        if isinstance(node.names, cst.ImportStar):
            self.record_import("*", ImportTarget(base, level, "*"))
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.record_import(local, ImportTarget(base, level, name))
            if not level and base:
                self.bind_alias(local, f"{base}.{name}")

    def bind_alias(self, local: str, full: str) -> None:
        self.aliases[local] = full
        self.imported[local] = full

    def run_If(self, node: cst.If, frame: Frame) -> None:
        self.eval(node.test, frame)
        decided = self.decide(node.test, frame)
        if decided is not None:
            branch = node.body if decided else node.orelse
            if isinstance(branch, cst.If):
                self.run_If(branch, frame)
            elif branch is not None:
                self.run_block(branch if decided else branch.body, frame)
            return
        before = dict(frame.env)
        self.run_block(node.body, frame)
        after_body, body_ended = frame.env, frame.ended
        frame.env, frame.ended = before, False
        if node.orelse is not None:
            if isinstance(node.orelse, cst.If):
                self.run_If(node.orelse, frame)
            else:
                self.run_block(node.orelse.body, frame)
        if body_ended and not frame.ended:
            return  # only the other branch continues
        if frame.ended and not body_ended:
            frame.env, frame.ended = after_body, False
            return
        frame.env = merge_envs(after_body, frame.env)

    def decide(self, test: cst.BaseExpression, frame: Frame) -> Optional[bool]:
        """Which branch a test takes, when what it tests is known: a parameter the call left None,
        a constant the call or the code gave, a rank the analysis knows (``x.dim() == 3``)."""
        kind = type(test)  # exact types: isinstance on libcst's abstract nodes is slow, and this runs at every if
        if kind is cst.Comparison:
            decided = self.none_test(test, frame)
            if decided is None and len(test.comparisons) == 1:  # type: ignore[attr-defined]
                decided = self.decide_comparison(test, frame)  # type: ignore[arg-type]
            return decided
        if kind is cst.UnaryOperation and type(test.operator) is cst.Not:  # type: ignore[attr-defined]
            inner = self.decide(test.expression, frame)  # type: ignore[attr-defined]
            return None if inner is None else not inner
        if kind is cst.BooleanOperation:
            return self.decide_boolean(test, frame)  # type: ignore[arg-type]
        if kind is not cst.Name and kind is not cst.Attribute and kind is not cst.Call:
            return None
        value = self.quantity(test, frame)
        return None if value is NOT_A_CONSTANT else bool(value)

    def decide_boolean(self, test: cst.BooleanOperation, frame: Frame) -> Optional[bool]:
        left, right = self.decide(test.left, frame), self.decide(test.right, frame)
        deciding = isinstance(test.operator, cst.Or)  # the value that decides alone
        if left is deciding or right is deciding:
            return deciding
        if left is None or right is None:
            return None
        return not deciding

    def decide_comparison(self, test: cst.Comparison, frame: Frame) -> Optional[bool]:
        comparison = test.comparisons[0]
        left, right = self.quantity(test.left, frame), self.quantity(comparison.comparator, frame)
        if left is NOT_A_CONSTANT or right is NOT_A_CONSTANT:
            return None
        operator = type(comparison.operator).__name__
        compare = COMPARISONS.get(operator)
        if compare is None:
            return None
        try:
            return bool(compare(left, right))
        except TypeError:  # ``"a" < 1``: the program would raise; decide nothing
            return None

    def quantity(self, expression: cst.BaseExpression, frame: Frame) -> object:
        """A constant an expression is known to have: a literal, a name bound to one by the code or
        a call (not a module global, which other code may change), or a rank (``x.dim()``,
        ``x.ndim``, ``len(x.shape)``); ``NOT_A_CONSTANT`` otherwise."""
        literal = constant_of(expression)
        if literal is not NOT_A_CONSTANT:
            return literal
        key = dotted_name(expression)
        if key is not None:
            value = frame.env.get(key)
            if value is not None and value.kind is Kind.LITERAL and value.tag != "global":
                return value.constant
            if isinstance(expression, cst.Attribute) and expression.attr.value in facts.SHAPE_GUARDS.rank_attributes:
                return self.rank_of_name(expression.value, frame)
            return NOT_A_CONSTANT
        if isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute) and not expression.args:
            if expression.func.attr.value in facts.SHAPE_GUARDS.rank_methods:
                return self.rank_of_name(expression.func.value, frame)
        if (
            isinstance(expression, cst.Call)
            and isinstance(expression.func, cst.Name)
            and expression.func.value in facts.SHAPE_GUARDS.length_functions
            and len(expression.args) == 1
        ):
            return self.rank_of_shape(expression.args[0].value, frame)
        return NOT_A_CONSTANT

    def rank_of_shape(self, shape: cst.BaseExpression, frame: Frame) -> object:
        """The rank that ``x.shape`` or ``x.size()`` holds: what ``len()`` of it gives."""
        if isinstance(shape, cst.Attribute) and shape.attr.value in facts.SHAPE_GUARDS.shape_attributes:
            return self.rank_of_name(shape.value, frame)
        if isinstance(shape, cst.Call) and isinstance(shape.func, cst.Attribute) and not shape.args:
            if shape.func.attr.value in facts.SHAPE_GUARDS.shape_methods:
                return self.rank_of_name(shape.func.value, frame)
        return NOT_A_CONSTANT

    @staticmethod
    def rank_of_name(expression: cst.BaseExpression, frame: Frame) -> object:
        key = dotted_name(expression)
        value = frame.env.get(key) if key is not None else None
        if value is None or not value.is_feature or value.rank is None:
            return NOT_A_CONSTANT
        return value.rank

    @staticmethod
    def none_test(test: cst.BaseExpression, frame: Frame) -> Optional[bool]:
        """``param is None`` / ``is not None`` on a parameter the call gave: which branch runs.

        Only a parameter still holding what the call passed is decided (``model(images, None)``).
        """
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
            return None
        target, comparison = test.left, test.comparisons[0]
        negated = isinstance(comparison.operator, cst.IsNot)
        if not (isinstance(comparison.operator, (cst.Is, cst.IsNot)) and is_none(comparison.comparator)):
            return None
        if not isinstance(target, cst.Name) or target.value not in frame.arguments:
            return None
        value = frame.arguments[target.value]
        if frame.env.get(target.value) is not value:
            return None
        if value.kind is Kind.BOTTOM:
            return not negated
        if value.kind is Kind.UNKNOWN:
            return None
        return negated

    def run_loop(self, frame: Frame, body: object, bind_target) -> None:
        """Run a loop body until the states settle (two passes), reporting on the last."""
        entry = dict(frame.env)
        for loop_pass in range(LOOP_PASSES):
            last = loop_pass == LOOP_PASSES - 1
            if not last:
                self.mute += 1
            try:
                frame.ended = False
                bind_target()
                self.run_block(body, frame)
            finally:
                if not last:
                    self.mute -= 1
            frame.env = merge_envs(entry, frame.env)
        frame.ended = False  # the body may not run at all

    def run_For(self, node: cst.For, frame: Frame) -> None:
        element = self.element_of(self.eval(node.iter, frame))
        self.run_loop(frame, node.body, lambda: self.assign(node.target, element, frame))
        if node.orelse is not None:
            self.run_block(node.orelse.body, frame)

    def run_While(self, node: cst.While, frame: Frame) -> None:
        self.run_loop(frame, node.body, lambda: self.eval(node.test, frame))
        if node.orelse is not None:
            self.run_block(node.orelse.body, frame)

    def run_With(self, node: cst.With, frame: Frame) -> None:
        for item in node.items:
            value = self.eval(item.item, frame)
            if item.asname is not None:
                self.assign(item.asname.name, value if value.kind is Kind.MODEL else UNKNOWN, frame)
        self.run_block(node.body, frame)

    def run_Try(self, node: cst.CSTNode, frame: Frame) -> None:
        entry = dict(frame.env)
        self.run_block(node.body, frame)
        if getattr(node, "orelse", None) is not None:
            self.run_block(node.orelse.body, frame)
        merged = frame.env
        for handler in node.handlers:
            frame.env, frame.ended = merge_envs(entry, merged), False
            self.run_block(handler.body, frame)
            merged = merge_envs(merged, frame.env)
        frame.env, frame.ended = merged, False
        if getattr(node, "finalbody", None) is not None:
            self.run_block(node.finalbody.body, frame)

    run_TryStar = run_Try

    def run_Match(self, node: cst.CSTNode, frame: Frame) -> None:
        self.eval(node.subject, frame)
        entry = dict(frame.env)
        merged: Optional[Dict[str, Value]] = None
        for case in node.cases:
            frame.env, frame.ended = dict(entry), False
            self.run_block(case.body, frame)
            merged = frame.env if merged is None else merge_envs(merged, frame.env)
        frame.env = merge_envs(entry, merged or {})
        frame.ended = False

    def run_FunctionDef(self, node: cst.FunctionDef, frame: Frame) -> None:
        if self.top_statement is not None:
            self.top_of_definition.setdefault(id(node), self.top_statement)
        if frame is not self.module_frame and frame.class_info is None:
            self.functions.setdefault(node.name.value, node)
        self.run_function(node, self.global_env(frame), class_info=frame.class_info)
        frame.env[node.name.value] = self.function_value(node, self.scope) if frame.class_info is None else UNKNOWN

    def run_ClassDef(self, node: cst.ClassDef, frame: Frame) -> None:
        info = self.classes.get(node.name.value)
        if info is None or frame is not self.module_frame:
            info = ClassInfo(
                {s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)}
            )
        if self.top_statement is not None:
            for method in info.methods.values():
                self.top_of_definition.setdefault(id(method), self.top_statement)
        class_frame = Frame(env=self.global_env(frame))
        others = [s for s in node.body.body if not isinstance(s, cst.FunctionDef)]
        self.run_block(others, class_frame)
        # First, learn what each method leaves in self.<attr>; then check with that known.
        self.mute += 1
        try:
            for method in info.methods.values():
                self.budget.start_unit()
                final = self.run_function(method, self.global_env(frame), class_info=info)
                for key, value in final.env.items():
                    if key.startswith("self."):
                        info.attrs[key] = merge(info.attrs.get(key, BOTTOM), value)
        finally:
            self.mute -= 1
        for method in info.methods.values():
            self.budget.start_unit()
            self.run_function(method, self.global_env(frame), class_info=info)

    def global_env(self, frame: Frame) -> Dict[str, Value]:
        return dict(self.module_frame.env)

    def run_function(
        self,
        node: cst.FunctionDef,
        env: Dict[str, Value],
        class_info: Optional[ClassInfo] = None,
        bound: Optional[Dict[str, Value]] = None,
        self_state: Optional[Dict[str, Value]] = None,
    ) -> Frame:
        frame = Frame(env=env, class_info=class_info)
        if class_info is not None:
            frame.env.update(class_info.attrs)
        if self_state:
            frame.env.update(self_state)
        calling = bound is not None
        bound = bound or {}
        for index, param in enumerate(self.parameter_nodes(node)):
            name = param.name.value
            if name in bound:
                frame.env[name] = frame.arguments[name] = bound[name]
            elif calling and is_none(param.default):
                frame.env[name] = frame.arguments[name] = BOTTOM
            elif calling and constant_of(param.default) is not NOT_A_CONSTANT:  # a flag, a mode, an eps
                frame.env[name] = frame.arguments[name] = Value(Kind.LITERAL, constant=constant_of(param.default))
            elif index == 0 and class_info is not None:
                frame.env[name] = UNKNOWN  # self
            else:
                frame.env[name] = self.unbound_parameter(param, frame)
        saved_line = self.current_line
        self.run_block(node.body, frame)
        self.current_line = saved_line
        return frame

    def unbound_parameter(self, param: cst.Param, frame: Frame) -> Value:
        """A parameter no call gives: an object of its annotated class, else unknown.

        While an encoder method is probed, unknown inputs count as raw features.
        """
        value = self.annotated(param.annotation, frame)
        if value.kind is Kind.UNKNOWN and self.probing:
            return Value(Kind.RAW)
        return value

    def annotated(self, annotation: Optional[cst.Annotation], frame: Frame) -> Value:
        cls = self.class_of_annotation(annotation, frame)
        return Value(Kind.INSTANCE, instance=Instance(cls, {})) if cls is not None else UNKNOWN

    @staticmethod
    def parameter_nodes(node: cst.FunctionDef) -> List[cst.Param]:
        params = node.params
        ordered = list(params.posonly_params) + list(params.params)
        if isinstance(params.star_arg, cst.Param):
            ordered.append(params.star_arg)
        ordered.extend(params.kwonly_params)
        if params.star_kwarg is not None:
            ordered.append(params.star_kwarg)
        return ordered

    @staticmethod
    def parameter_names(node: cst.FunctionDef) -> List[str]:
        params = node.params
        ordered = list(params.posonly_params) + list(params.params)
        names = [p.name.value for p in ordered]
        if isinstance(params.star_arg, cst.Param):
            names.append(params.star_arg.name.value)
        names.extend(p.name.value for p in params.kwonly_params)
        if params.star_kwarg is not None:
            names.append(params.star_kwarg.name.value)
        return names

    def run_augassign(self, node: cst.AugAssign, frame: Frame) -> None:
        current = self.eval(node.target, frame)
        right = self.eval(node.value, frame)
        result = self.apply_operator(node.operator, current, right, node, node.target, node.value)
        if result.is_feature and current.binding is not None:
            result = result.but(binding=current.binding)
        key = dotted_name(node.target)
        if key is not None:
            frame.env[key] = result
            frame.inplace.add(key)

    def assign(self, target: cst.CSTNode, value: Value, frame: Frame) -> None:
        if isinstance(target, (cst.Name, cst.Attribute)):
            key = dotted_name(target)
            if key is None:
                self.eval(target, frame)
                return
            if value.kind is Kind.LITERAL and frame is self.module_frame:
                value = value.but(tag="global")  # other code may change a module's global
            frame.env[key] = self.bound(value, key)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if value.kind is Kind.TUPLE and len(value.parts) == len(elements):
                parts: Sequence[Value] = value.parts
            elif value.kind is Kind.CONTAINER:
                parts = list(value.items) if len(value.items) == len(elements) else [value.parts[0]] * len(elements)
            else:
                parts = [UNKNOWN] * len(elements)
            for element, part in zip(elements, parts):
                if isinstance(element, cst.StarredElement):
                    self.assign(element.value, UNKNOWN, frame)
                else:
                    self.assign(element.value, part, frame)
        elif isinstance(target, cst.Subscript):
            self.assign_item(target, value, frame)
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, UNKNOWN, frame)

    def bound(self, value: Value, key: str) -> Value:
        at_home_line = self.scope.home and isinstance(self.current_line, cst.SimpleStatementLine)
        if value.kind in (Kind.RAW, Kind.POOLED) and at_home_line:
            self.remember(self.current_line)
            binding = Binding(key, self.current_line, value.feature_axis, value.library, value.rank)
            return value.but(binding=binding)
        if value.is_feature:
            return value.but(binding=None)
        return value

    def assign_item(self, target: cst.Subscript, value: Value, frame: Frame) -> None:
        key = dotted_name(target.value)
        index: Value = UNKNOWN
        for element in target.slice:
            if isinstance(element.slice, cst.Index) and len(target.slice) == 1:
                index = self.eval(element.slice.value, frame)
            else:
                self.visit_children(element, frame)
        if key is None:
            return
        container = frame.env.get(key, UNKNOWN)
        if container.kind is Kind.CONTAINER:
            frame.env[key] = container.but(parts=(merge(container.parts[0], value),), items=())
        elif container.kind is Kind.MAPPING:
            entries = dict(zip(container.keys, container.parts))
            literal = index.constant if index.kind is Kind.LITERAL else None
            entries[literal] = merge(entries[literal], value) if literal is None and None in entries else value
            frame.env[key] = container.but(keys=tuple(entries), parts=tuple(entries.values()), packed=None)


COMPARISONS = {
    "Equal": operator.eq,
    "NotEqual": operator.ne,
    "LessThan": operator.lt,
    "LessThanEqual": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEqual": operator.ge,
}
