"""Expressions: names, attributes, indexing, containers and operators give abstract values."""

from __future__ import annotations

from typing import Optional, Sequence

import libcst as cst

from clip_lint import facts
from clip_lint.engine import shapes
from clip_lint.engine.frames import Frame
from clip_lint.engine.callables import DefinitionValue
from clip_lint.engine.imports import Definitions, ValueRef
from clip_lint.engine.linking import VALUE_ONLY, Deferred
from clip_lint.engine.syntax import (
    NOT_A_CONSTANT,
    constant_of,
    dotted_name,
    is_none,
    literal_int,
)
from clip_lint.engine.values import (
    BOTTOM,
    OBJECT_KINDS,
    UNKNOWN,
    Kind,
    Mix,
    Value,
    gather,
    merge,
)
from clip_lint.engine.locator import children_in_source_order


class ExpressionEvaluator:
    """Evaluates expressions to abstract values (a mixin of ``Analyzer``)."""

    def eval(self, node: Optional[cst.CSTNode], frame: Frame) -> Value:
        if node is None:
            return UNKNOWN
        handler = getattr(self, "eval_" + type(node).__name__, None)
        if handler is not None:
            return handler(node, frame)
        self.visit_children(node, frame)
        return UNKNOWN

    def visit_children(self, node: cst.CSTNode, frame: Frame) -> None:
        """Evaluate every expression below a node we don't model, for the sinks in it."""
        for child in children_in_source_order(node):
            role = node_role(child)
            if role is EXPRESSION:
                self.eval(child, frame)
            elif role is SUITE:
                self.run_block(child, frame)
            elif role is STATEMENT:
                self.run_statement(child, frame)
            else:
                self.visit_children(child, frame)

    def eval_Name(self, node: cst.Name, frame: Frame) -> Value:
        name = node.value
        if name == "None":
            return BOTTOM
        if name in ("True", "False"):
            return Value(Kind.LITERAL, constant=name == "True")
        value = frame.env.get(name)
        if value is None:
            return self.definition_value(name, frame)
        return value

    def definition_value(self, name: str, frame: Frame) -> Value:
        """A name not bound in the frame: a function or class of this module, or an imported global."""
        if name not in self.imported:
            functions, classes = self.functions, self.classes
            if type(functions) is Definitions:  # another module's: parsed only if it is called
                if functions.knows(name) or (type(classes) is Definitions and classes.knows(name)):
                    return Value(Kind.CALLABLE, callee=DefinitionValue(self.scope, name))
            elif name in functions:
                return self.function_value(functions[name], self.scope)
            elif name in classes:
                ref = self.scope.class_ref(name)
                return Value(Kind.CALLABLE, callee=ref) if ref is not None else UNKNOWN
        return self.imported_value(name, frame)

    def eval_SimpleString(self, node: cst.SimpleString, frame: Frame) -> Value:
        """A string is a constant (a registry's key, a mode a branch tests). Numbers are not kept as
        values: a size passed to a call would make each call's summary its own; code that needs a
        number (``1 / norm``, ``x ** -0.5``, ``if n == 3``) reads the literal itself."""
        value = self.literals.get(node.value)  # one value per spelling of a constant
        if value is None:
            constant = constant_of(node)
            value = UNKNOWN if constant is NOT_A_CONSTANT else Value(Kind.LITERAL, constant=constant)
            self.literals[node.value] = value
        return value

    def eval_Attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        key = dotted_name(node)
        if key is not None and key in frame.env:
            return frame.env[key]
        found: object = False
        if key is not None and key.partition(".")[0] in self.scope.imports:
            found = self.reference(node, frame, VALUE_ONLY)
            if isinstance(found, ValueRef):
                return found.value
        value = self.read_attribute(node, frame)
        # ``ops.RANKER``, not followed: remembered, should a call on it be handed features
        return self.deferred_read(node) if value is UNKNOWN and found is None else value

    def read_attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        is_self = isinstance(node.value, cst.Name) and node.value.value == "self" and frame.class_info is not None
        if is_self and node.attr.value in frame.class_info.methods:  # type: ignore[union-attr]
            return self.bound_method_value(None, node.attr.value, frame.class_info)
        base = self.eval(node.value, frame)
        if is_self and node.attr.value in self.encoders:
            return self.bound_method_value(None, node.attr.value, frame.class_info)
        return self.attribute_of(base, node.attr.value, node)

    def attribute_of(self, base: Value, attr: str, node: cst.CSTNode) -> Value:
        """What reading ``attr`` of a value gives."""
        kind = base.kind
        if base.deferred is not None and kind is Kind.UNKNOWN:  # ``RANKER.rank``, made when called
            return Value(Kind.UNKNOWN, deferred=Deferred(None, node, None, base=base.deferred, attribute=attr))
        if attr in facts.PASSTHROUGH_ATTRIBUTES and (base.is_feature or kind is Kind.PARAMETER):
            return self.transposed(base, attr, None)
        if kind is Kind.OUTPUT:
            return self.output_field(base, attr, node)
        if kind is Kind.RAW and base.tag == "output-object" and attr in facts.FEATURES_OUTPUT_FIELDS:
            return base.but(tag="", rank=2)
        if kind is Kind.MAPPING and base.tag == "record":
            return self.lookup(base, attr)
        if kind is Kind.ONE_OF:
            return self.each_candidate(base, lambda candidate: self.attribute_of(candidate, attr, node))
        if kind in OBJECT_KINDS:
            found = self.object_attribute(base, attr)
            if found is not None:
                return found
        elif attr in self.encoders and not base.is_feature:
            return self.bound_method_value(base, attr, None)
        if attr in facts.PARAMETER_ATTRIBUTES:
            return Value(Kind.PARAMETER)
        return UNKNOWN

    def output_field(self, output: Value, field: str, node: cst.CSTNode) -> Value:
        """A field of a model's forward output: raw or unit features, by the facts on its class."""
        outputs = facts.MODEL_OUTPUTS.get(output.tag)
        if outputs is None:
            return UNKNOWN
        if field in outputs.raw:
            self.remember(node)
            return Value(Kind.RAW, rank=2, origin=self.make_origin(field, node))
        if field in outputs.unit:
            return Value(Kind.UNIT, rank=2)
        return UNKNOWN

    def object_attribute(self, base: Value, attr: str) -> Optional[Value]:
        """An attribute of a model, an object or a callable: its state, a bound method, or what a
        wrapper wraps (``DataParallel(m).module``)."""
        if base.kind is Kind.INSTANCE:
            state = base.instance.state  # type: ignore[union-attr]
            if "self." + attr in state:
                return state["self." + attr]
            if attr in base.instance.cls.info.methods:  # type: ignore[union-attr]
                return self.bound_method_value(base, attr, None)
        elif base.kind is Kind.MODEL and (attr in facts.MODEL_CALL_METHODS or attr in self.encoders):
            return self.bound_method_value(base, attr, None)
        if attr in facts.WRAPPED_MODEL_ATTRIBUTES:
            return base
        if attr in self.encoders:
            return self.bound_method_value(base, attr, None)
        return None

    def eval_Subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.eval(node.value, frame)
        key: object = NOT_A_CONSTANT
        if base.kind is Kind.MAPPING and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            index = self.eval(node.slice[0].slice.value, frame)
            key = index.constant if index.kind is Kind.LITERAL else NOT_A_CONSTANT
        else:
            for element in node.slice:
                self.visit_children(element, frame)
        if base.kind is Kind.MAPPING:
            return self.lookup(base, key)
        if base.kind is Kind.CONTAINER:
            index = literal_int(node.slice[0].slice.value) if isinstance(node.slice[0].slice, cst.Index) else None
            if base.items and index is not None and -len(base.items) <= index < len(base.items):
                return base.items[index]  # a list literal's element, by position
            return base.parts[0]
        if base.kind is Kind.TUPLE:
            index = literal_int(node.slice[0].slice.value) if isinstance(node.slice[0].slice, cst.Index) else None
            if index is not None and -len(base.parts) <= index < len(base.parts):
                return base.parts[index]
            return UNKNOWN
        if base.kind is Kind.NORM:
            adds_axis = any(
                isinstance(e.slice, cst.Index) and is_none(e.slice.value) for e in node.slice
            )
            return base.but(keepdim=True) if adds_axis else base
        if base.kind is Kind.PARAMETER:
            return base
        if not base.is_feature:
            return UNKNOWN
        if base.tag == "output-object":
            return base.but(tag="", rank=None)
        shape = self.indexed_shape(base.shape, node.slice)
        if shape is None:
            return UNKNOWN  # an integer index into the feature axis: a column, not features
        return base.with_shape(shape)

    @staticmethod
    def lookup(mapping: Value, key: object) -> Value:
        """``mapping[key]``: the entry of a literal key, else every entry that may be meant, merged
        (known when they all agree)."""
        if key is not NOT_A_CONSTANT and key in mapping.keys:
            return mapping.parts[mapping.keys.index(key)]
        if key is not NOT_A_CONSTANT and None not in mapping.keys:
            return UNKNOWN  # a literal key that is not there
        found = BOTTOM
        for part in mapping.parts:
            found = merge(found, part)
        return UNKNOWN if found.kind is Kind.BOTTOM else found

    def eval_Dict(self, node: cst.Dict, frame: Frame) -> Value:
        entries: dict = {}
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = self.eval(element.key, frame)
                value = self.eval(element.value, frame)
                add_entry(entries, key.constant if key.kind is Kind.LITERAL else None, value)
            else:
                other = self.eval(element.value, frame)
                if other.kind is Kind.MAPPING:
                    for other_key, part in zip(other.keys, other.parts):
                        add_entry(entries, other_key, part)
                else:
                    add_entry(entries, None, UNKNOWN)
        return Value(Kind.MAPPING, keys=tuple(entries), parts=tuple(entries.values()))

    def indexed_shape(self, shape: shapes.Shape, elements: Sequence[cst.SubscriptElement]) -> Optional[shapes.Shape]:
        """The shape after ``x[...]``: axes before an ``...`` count from the front, after it from the back."""
        kinds = [self.index_kind(element.slice) for element in elements]
        ellipsis = kinds.index("ellipsis") if "ellipsis" in kinds else len(kinds)
        if "ellipsis" in kinds[ellipsis + 1:] or "unknown" in kinds:
            return shapes.unknown_rank(shape)  # a tensor index: the rank is unknown
        axis = 0
        for kind in kinds[:ellipsis]:
            shape, axis = self.index_axis(shape, axis, kind, step=1)  # type: ignore[arg-type]
            if shape is None:
                return None
        axis = -1
        for kind in reversed(kinds[ellipsis + 1:]):
            shape, axis = self.index_axis(shape, axis, kind, step=-1)  # type: ignore[arg-type]
            if shape is None:
                return None
        return shape

    @staticmethod
    def index_axis(shape: shapes.Shape, axis: int, kind: str, step: int) -> tuple:
        """One index element at ``axis``: the shape after it and the next axis to index."""
        if kind == "new":
            return shapes.insert_axis(shape, axis), axis + step
        if kind == "int":
            return shapes.remove_axis(shape, axis), axis  # the next axis moves into its place
        if kind == "one":  # x[:1], x[0:1]: the axis stays, with size 1
            return shapes.keep_axis_as_one(shape, axis) or shapes.unknown_rank(shape), axis + step
        return shape, axis + step

    def index_kind(self, index: cst.BaseSlice) -> str:
        """What one index element does: a slice, a size-1 slice, a new axis, an int, an ellipsis."""
        if isinstance(index, cst.Slice):
            lower = literal_int(index.lower) if index.lower is not None else 0
            upper = literal_int(index.upper) if index.upper is not None else None
            one = index.step is None and (
                (lower is not None and upper is not None and 0 <= lower == upper - 1)
                or (lower == -1 and index.upper is None)
            )
            return "one" if one else "slice"
        value = index.value
        name = dotted_name(value)
        if is_none(value) or (name is not None and self.qualify(name) in facts.NEW_AXIS_NAMES):
            return "new"
        if isinstance(value, cst.Ellipsis):
            return "ellipsis"
        return "int" if literal_int(value) is not None else "unknown"

    def eval_NamedExpr(self, node: cst.NamedExpr, frame: Frame) -> Value:
        value = self.eval(node.value, frame)
        self.assign(node.target, value, frame)
        return value

    def eval_Tuple(self, node: cst.Tuple, frame: Frame) -> Value:
        return Value(Kind.TUPLE, parts=tuple(self.eval_element(e, frame) for e in node.elements))

    def eval_List(self, node: cst.List, frame: Frame) -> Value:
        element = BOTTOM
        items = []
        for item in node.elements:
            value = self.eval_element(item, frame)
            items.append(value)
            element = gather(element, value)
        starred = any(isinstance(item, cst.StarredElement) for item in node.elements)
        return Value(Kind.CONTAINER, parts=(element,), items=() if starred else tuple(items))

    def eval_element(self, element: cst.BaseElement, frame: Frame) -> Value:
        value = self.eval(element.value, frame)
        if isinstance(element, cst.StarredElement):
            return self.element_of(value)
        return value

    def eval_comprehension(self, node: cst.CSTNode, frame: Frame) -> Value:
        inner = Frame(env=dict(frame.env), class_info=frame.class_info)
        comp = node.for_in
        while comp is not None:
            element = self.element_of(self.eval(comp.iter, inner))
            self.assign(comp.target, element, inner)
            for condition in comp.ifs:
                self.eval(condition.test, inner)
            comp = comp.inner_for_in
        if isinstance(node, cst.DictComp):
            self.eval(node.key, inner)
            return Value(Kind.MAPPING, keys=(None,), parts=(self.eval(node.value, inner),))
        return Value(Kind.CONTAINER, parts=(self.eval(node.elt, inner),))

    eval_ListComp = eval_comprehension

    eval_GeneratorExp = eval_comprehension

    eval_SetComp = eval_comprehension

    eval_DictComp = eval_comprehension

    def eval_IfExp(self, node: cst.IfExp, frame: Frame) -> Value:
        self.eval(node.test, frame)
        decided = self.decide(node.test, frame)
        if decided is not None:
            return self.eval(node.body if decided else node.orelse, frame)
        return merge(self.eval(node.body, frame), self.eval(node.orelse, frame))

    def eval_Await(self, node: cst.Await, frame: Frame) -> Value:
        return self.eval(node.expression, frame)

    def element_of(self, value: Value) -> Value:
        """What iterating over a value gives."""
        if value.kind is Kind.CONTAINER:
            return value.parts[0]
        if value.kind is Kind.TUPLE:
            element = BOTTOM
            for part in value.parts:
                element = gather(element, part)
            return element
        if value.is_feature and value.rank is not None and value.rank >= 2:
            shape = shapes.remove_axis(value.shape, 0)
            if shape is not None:
                return value.with_shape(shape, binding=None)
        return UNKNOWN

    def eval_BinaryOperation(self, node: cst.BinaryOperation, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        return self.apply_operator(node.operator, left, right, node, node.left, node.right)

    def apply_operator(
        self,
        operator: cst.CSTNode,
        left: Value,
        right: Value,
        node: cst.CSTNode,
        left_expr: cst.CSTNode,
        right_expr: cst.CSTNode,
    ) -> Value:
        """``left <op> right``, for binary operators and augmented assignments alike."""
        if isinstance(operator, (cst.MatrixMultiply, cst.MatrixMultiplyAssign)):
            self.check_sink(node, "@", [(left_expr, left), (right_expr, right)])
            return UNKNOWN
        if isinstance(operator, (cst.Divide, cst.DivideAssign)):
            return self.divide(left, right, node, left_expr)
        if isinstance(operator, (cst.Multiply, cst.MultiplyAssign)):
            return self.product(left, right, node, left_expr, right_expr)
        if isinstance(operator, (cst.Add, cst.AddAssign)):
            return self.mixed(self.add(left, right), ((left_expr, left), (right_expr, right)), node)
        if isinstance(operator, (cst.Subtract, cst.SubtractAssign)):
            return self.difference(left, right)
        if isinstance(operator, (cst.Power, cst.PowerAssign)):
            exponent = constant_of(right_expr)
            return self.power(left, float(exponent) if isinstance(exponent, (int, float)) else None)
        return UNKNOWN

    def eval_UnaryOperation(self, node: cst.UnaryOperation, frame: Frame) -> Value:
        value = self.eval(node.expression, frame)
        if isinstance(node.operator, cst.Minus) and value.is_feature:
            return value
        return UNKNOWN

    def divide(self, left: Value, right: Value, node: cst.CSTNode, left_expr: cst.CSTNode) -> Value:
        if right.kind is Kind.NORM and right.tag == "norm":
            numerator = constant_of(left_expr)
            if type(numerator) in (int, float) and numerator:
                return right.but(tag="inverse")  # 1 / norm: multiplying by it normalizes
            return self.normalize(left, right.axis, right.keepdim, node, left_expr, right.norm_call, True)
        if left.is_feature and not right.is_feature and right.kind is not Kind.NORM:
            return left
        return UNKNOWN

    def product(
        self, left: Value, right: Value, node: cst.CSTNode, left_expr: cst.CSTNode, right_expr: cst.CSTNode
    ) -> Value:
        """``left * right``: a scaling, a square, a product of features, or a normalization by an
        inverse norm (``x * (1 / n)``, ``x * torch.rsqrt(s)``)."""
        for features, expression, other in ((left, left_expr, right), (right, right_expr, left)):
            if other.kind is Kind.NORM and other.tag == "inverse" and features.is_feature:
                return self.normalize(features, other.axis, other.keepdim, node, expression, other.norm_call, True)
        return self.multiply(left, right)

    @staticmethod
    def multiply(left: Value, right: Value) -> Value:
        if left.is_feature and right.is_feature:
            same = left is right or (left.binding is not None and left.binding is right.binding)
            if same:  # x * x, of one name's value
                return Value(Kind.NORM, tag="squares", parts=(left,), rank=left.rank, library=left.library)
            return Value(Kind.PRODUCT, parts=(left, right), rank=left.rank)
        if left.is_feature and right.kind is not Kind.NORM:
            return left
        if right.is_feature and left.kind is not Kind.NORM:
            return right
        if left.kind is Kind.NORM and right.kind is Kind.UNKNOWN:
            return left
        return UNKNOWN

    def mixed(self, result: Value, operands: tuple, node: cst.CSTNode) -> Value:
        """``result`` marked as a mix when its operands are raw features of different encoders."""
        raw = [(expression, value) for expression, value in operands if value.kind is Kind.RAW and value.origin]
        encoders = {self.encoder_key(value.origin) for _, value in raw}
        if result.is_feature and len(raw) == len(operands) and len(encoders) > 1:
            return result.but(mix=Mix(node, tuple(raw)))
        return result

    def difference(self, left: Value, right: Value) -> Value:
        """``left - right``: of raw features, raw; of unit ones, a deliberate contrast, not a pool."""
        if left.is_feature and right.is_feature and Kind.RAW not in (left.kind, right.kind):
            return UNKNOWN
        return self.add(left, right)

    @staticmethod
    def add(left: Value, right: Value) -> Value:
        if left.is_feature and right.is_feature:
            kinds = {left.kind, right.kind}
            if Kind.EITHER in kinds:
                return UNKNOWN
            if Kind.RAW in kinds:  # a sum is no one name's value: a fix can't normalize it at a binding
                return (left if left.kind is Kind.RAW else right).but(binding=None)
            if Kind.REPORTED in kinds:
                return left.but(kind=Kind.REPORTED)
            return left.but(kind=Kind.POOLED, binding=None)
        if left.kind is Kind.NORM and not right.is_feature:
            return left
        if right.kind is Kind.NORM and not left.is_feature:
            return right
        return UNKNOWN

    @staticmethod
    def power(base: Value, exponent: Optional[float]) -> Value:
        if base.is_feature and exponent == 2:
            return Value(Kind.NORM, tag="squares", parts=(base,), rank=base.rank, library=base.library)
        if base.kind is Kind.NORM and base.tag == "sum-of-squares" and exponent == 0.5:
            return base.but(tag="norm")
        if base.kind is Kind.NORM and base.tag == "sum-of-squares" and exponent == -0.5:
            return base.but(tag="inverse")
        if base.kind is Kind.NORM and base.tag == "norm" and exponent == -1:
            return base.but(tag="inverse")
        return UNKNOWN


EXPRESSION, SUITE, STATEMENT, OTHER = "expression", "suite", "statement", "other"
_ROLES: dict = {}


def node_role(node: cst.CSTNode) -> str:
    """What a node is to the analysis, looked up per type (isinstance on libcst's abstract node
    classes is slow, and every child of every unmodelled node is asked)."""
    kind = type(node)
    role = _ROLES.get(kind)
    if role is None:
        if issubclass(kind, cst.BaseExpression):
            role = EXPRESSION
        elif issubclass(kind, cst.BaseSuite):
            role = SUITE
        elif issubclass(kind, (cst.BaseCompoundStatement, cst.SimpleStatementLine)):
            role = STATEMENT
        else:
            role = OTHER
        _ROLES[kind] = role
    return role


def add_entry(entries: dict, key: object, value: Value) -> None:
    """A dict literal's entry: a literal key replaces an earlier one; unknown keys share one entry."""
    if key is None and None in entries:
        entries[None] = merge(entries[None], value)
    else:
        entries[key] = value
