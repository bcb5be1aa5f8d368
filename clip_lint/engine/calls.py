"""Calls: encoders, library functions and methods from the facts tables, and unknown calls."""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine import shapes
from clip_lint.engine.frames import Frame
from clip_lint.engine.syntax import (
    axis_of,
    dotted_name,
    find_arg,
    last_component,
    literal_bool,
    literal_float,
    literal_int,
)
from clip_lint.engine.values import (
    UNKNOWN,
    Kind,
    Value,
    merge,
)


KNOWN_FUNCTION_TABLES: Tuple[Iterable[str], ...] = (
    facts.NORM_FUNCTIONS,
    facts.NORMALIZE_FUNCTIONS,
    facts.INPLACE_NORMALIZE_FUNCTIONS,
    facts.SIMILARITY_FUNCTIONS,
    facts.EINSUM_FUNCTIONS,
    facts.DIVISION_FUNCTIONS,
    facts.PRODUCT_SUM_FUNCTIONS,
    facts.REDUCTION_FUNCTIONS,
    facts.COMBINER_FUNCTIONS,
    facts.CONVERTER_FUNCTIONS,
    facts.INNER_PRODUCT_INDEXES,
    facts.PARAMETER_CONSTRUCTORS,
    facts.SQRT_FUNCTIONS,
    facts.POW_FUNCTIONS,
    facts.SQUARE_FUNCTIONS,
)


class CallEvaluator:
    """Evaluates calls (a mixin of ``Analyzer``)."""

    def eval_Call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        name = dotted_name(func)
        qualified = self.qualify(name) if name is not None else None
        if qualified is not None and self.is_known_function(qualified):
            args = self.eval_args(node, frame)
            return self.call_function(qualified, node, args, frame)
        if name is not None and name.partition(".")[0] not in frame.env:
            found = self.reference(func, frame, self.may_hand_features(node, frame))
            if found is not None:
                args = self.eval_args(node, frame)
                result = self.call_reference(found, node, args, frame)
                if result is not None:
                    return result
                return self.call_unknown(name, node, args)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in self.encoders:
                return self.call_encoder(node, method, frame)
            if method in facts.MODEL_FACTORY_METHODS:
                model = self.model_kind(dotted_name(func.value))
                if model:
                    self.eval_args(node, frame)
                    return Value(Kind.MODEL, tag=model)
            if isinstance(func.value, cst.Name) and func.value.value == "self" and frame.class_info is not None:
                method_def = frame.class_info.methods.get(method)
                if method_def is not None:
                    args = self.eval_args(node, frame)
                    return self.inline(method_def, node, args, frame, frame.class_info, skip_self=True)
            called = frame.env.get(name) if name is not None else None
            if called is not None and called.kind is Kind.INSTANCE:
                args = self.eval_args(node, frame)
                result = self.call_instance(called, None, node, args, frame)
                return result if result is not None else self.call_unknown(name, node, args)
            receiver = self.eval(func.value, frame)
            args = self.eval_args(node, frame)
            if receiver.kind is Kind.INSTANCE:
                result = self.call_instance(receiver, method, node, args, frame)
                if result is not None:
                    return result
            return self.call_method(receiver, method, node, args, frame)
        if isinstance(func, cst.Name):
            if func.value in self.functions and func.value not in self.imported:
                args = self.eval_args(node, frame)
                return self.inline(self.functions[func.value], node, args, frame, None)
            model = self.model_kind(name)
            if model:
                self.eval_args(node, frame)
                return Value(Kind.MODEL, tag=model)
        callee = self.eval(func, frame)
        args = self.eval_args(node, frame)
        if callee.kind is Kind.MODEL:
            return Value(Kind.OUTPUT, tag=callee.tag)
        if callee.kind is Kind.INSTANCE:
            result = self.call_instance(callee, None, node, args, frame)
            if result is not None:
                return result
        return self.call_unknown(name, node, args)

    def qualify(self, name: str) -> str:
        head, _, rest = name.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return name
        return f"{full}.{rest}" if rest else full

    def is_known_function(self, qualified: str) -> bool:
        return any(qualified in table for table in KNOWN_FUNCTION_TABLES) or (
            qualified in self.extra_normalizers or last_component(qualified) in self.extra_normalizers
        )

    def model_kind(self, name: Optional[str]) -> str:
        if name is None:
            return ""
        cls = last_component(self.qualify(name))
        if cls in facts.PROJECTION_MODEL_CLASSES:
            return "projection"
        if cls in facts.NORMALIZING_MODEL_CLASSES:
            return "normalizing"
        return ""

    def eval_args(self, node: cst.Call, frame: Frame) -> List[Tuple[cst.Arg, Value]]:
        return [(arg, self.eval(arg.value, frame)) for arg in node.args]

    def call_encoder(self, node: cst.Call, method: str, frame: Frame) -> Value:
        """An encoder call: raw features, unless the project's own method provably normalizes."""
        assert isinstance(node.func, cst.Attribute)
        receiver_node = node.func.value
        is_self = isinstance(receiver_node, cst.Name) and receiver_node.value == "self"
        receiver = self.eval(receiver_node, frame)
        self.eval_args(node, frame)
        normalize = find_arg(node, None, (facts.NORMALIZE_KEYWORD,))
        origin = self.make_origin(method, node)
        self.remember(node)
        if normalize is not None and literal_bool(normalize.value) is True:
            return Value(Kind.UNIT, rank=2, origin=origin)
        own = self.own_encoder(None if is_self else receiver, method, frame)
        if own is not None and self.returns_unit(*own):
            return Value(Kind.UNIT, rank=2, origin=origin)
        model = "output-object" if method in facts.OUTPUT_OBJECT_ENCODERS else ""
        return Value(Kind.RAW, rank=2, origin=origin, tag=model)

    def call_function(
        self, qualified: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Value:
        first = args[0][1] if args else UNKNOWN
        if qualified in facts.NORM_FUNCTIONS:
            return self.make_norm(first, node, facts.NORM_FUNCTIONS[qualified], receiver_is_input=False)
        if qualified in facts.NORMALIZE_FUNCTIONS:
            return self.call_normalize_function(facts.NORMALIZE_FUNCTIONS[qualified], node, first, args)
        if qualified in facts.INPLACE_NORMALIZE_FUNCTIONS:
            position = facts.INPLACE_NORMALIZE_FUNCTIONS[qualified]
            if position < len(args):
                self.normalize_in_place(args[position][0].value, args[position][1], frame)
            return UNKNOWN
        if qualified in facts.SIMILARITY_FUNCTIONS:
            self.check_sink(node, self.callee_text(node), [(a.value, v) for a, v in args[:2]])
            return UNKNOWN
        if qualified in facts.EINSUM_FUNCTIONS:
            self.check_einsum(node, args)
            return UNKNOWN
        if qualified in facts.DIVISION_FUNCTIONS and len(args) >= 2:
            return self.divide(args[0][1], args[1][1], node, args[0][0].value)
        if qualified in facts.PRODUCT_SUM_FUNCTIONS and first.kind is Kind.NORM:
            return self.sum_of_squares(first, node, find_arg(node, 1, facts.AXIS_KEYWORDS))
        if qualified in facts.PRODUCT_SUM_FUNCTIONS and first.kind is Kind.PRODUCT:
            return self.sum_product(first, axis_of(find_arg(node, 1, facts.AXIS_KEYWORDS)), node)
        if qualified in facts.REDUCTION_FUNCTIONS:
            keep = find_arg(node, None, facts.KEEPDIM_KEYWORDS)
            return self.reduce(first, find_arg(node, 1, facts.AXIS_KEYWORDS), keep)
        if qualified in facts.COMBINER_FUNCTIONS:
            axis = literal_int(getattr(find_arg(node, 1, facts.AXIS_KEYWORDS), "value", None))
            return self.combine(
                first, facts.COMBINER_FUNCTIONS[qualified], facts.COMBINER_LIBRARY[qualified], axis or 0
            )
        if qualified in facts.CONVERTER_FUNCTIONS:
            return first.but(library=facts.CONVERTER_FUNCTIONS[qualified]) if first.is_feature else UNKNOWN
        if qualified in facts.INNER_PRODUCT_INDEXES:
            return Value(Kind.IP_INDEX)
        if qualified in facts.PARAMETER_CONSTRUCTORS:
            return Value(Kind.PARAMETER)
        if qualified in facts.SQRT_FUNCTIONS:
            return self.square_root(first)
        if qualified in facts.POW_FUNCTIONS:
            exponent = find_arg(node, 1, facts.EXPONENT_KEYWORDS)
            return self.power(first, literal_float(exponent.value) if exponent else None)
        if qualified in facts.SQUARE_FUNCTIONS:
            return self.power(first, 2.0)
        # a configured extra normalizer
        return first.but(kind=Kind.UNIT, binding=None) if first.is_feature else UNKNOWN

    def call_method(
        self, receiver: Value, method: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Value:
        kind = receiver.kind
        first = args[0][1] if args else UNKNOWN
        if receiver.is_feature or kind is Kind.PARAMETER:
            result = self.feature_method(receiver, method, node, args, frame)
            if result is not None:
                return result
        elif kind is Kind.NORM:
            return self.norm_method(receiver, method, node)
        elif kind is Kind.PRODUCT and method in facts.PRODUCT_SUM_METHODS:
            return self.sum_product(receiver, axis_of(find_arg(node, 0, facts.AXIS_KEYWORDS)), node)
        elif kind is Kind.CONTAINER and method in facts.CONTAINER_ADD_METHODS:
            element = first if method == "append" else self.element_of(args[-1][1] if args else UNKNOWN)
            key = dotted_name(node.func.value)  # type: ignore[attr-defined]
            if key is not None:
                frame.env[key] = receiver.but(parts=(merge(receiver.parts[0], element),))
            return UNKNOWN
        elif kind is Kind.IP_INDEX and method in facts.INDEX_SINK_METHODS:
            if args:
                self.check_sink(node, self.callee_text(node), [(args[0][0].value, first)])
            return UNKNOWN
        elif kind is Kind.MODEL:
            if method in facts.MODEL_PASSTHROUGH_METHODS:
                return receiver
            if method in facts.MODEL_CALL_METHODS:
                return Value(Kind.OUTPUT, tag=receiver.tag)
        return self.call_unknown(method, node, args)

    @staticmethod
    def transposed(value: Value, name: str, call: Optional[cst.Call]) -> Value:
        """A transpose keeps what a value is and moves its feature axis."""
        shape = (value.rank, value.feature_axis)
        if name in facts.REVERSING_TRANSPOSES:
            shape = shapes.reverse_axes(shape)
        elif name in facts.LAST_TWO_TRANSPOSES:
            shape = shapes.swap_axes(shape, -1, -2)
        elif name in facts.SWAPPING_TRANSPOSES:
            axes = [literal_int(arg.value) for arg in (call.args if call else ())]
            if len(axes) != 2 or None in axes:
                return value.but(rank=None)
            shape = shapes.swap_axes(shape, axes[0], axes[1])  # type: ignore[arg-type]
        return value.but(rank=shape[0], feature_axis=shape[1])

    def feature_method(
        self, receiver: Value, method: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Optional[Value]:
        first = args[0][1] if args else UNKNOWN
        func = node.func
        assert isinstance(func, cst.Attribute)
        if method in facts.PASSTHROUGH_METHODS:
            library = "numpy" if method in facts.TO_NUMPY_METHODS else receiver.library
            return receiver.but(library=library)
        if method in facts.REVERSING_TRANSPOSES or method in facts.SWAPPING_TRANSPOSES:
            return self.transposed(receiver, method, node)
        if method in facts.RESHAPE_METHODS:
            return receiver.but(rank=None, feature_axis=-1)
        if method in facts.UNSQUEEZE_METHODS:
            axis = literal_int(args[0][0].value) if args else None
            if axis is None:
                return receiver.but(rank=None)
            rank, feature_axis = shapes.insert_axis((receiver.rank, receiver.feature_axis), axis)
            return receiver.but(rank=rank, feature_axis=feature_axis)
        if receiver.kind is Kind.PARAMETER:
            return None
        if method == facts.NORM_METHOD:
            return self.make_norm(receiver, node, facts.NORM_METHOD_SIGNATURE, receiver_is_input=True)
        if method in facts.SIMILARITY_METHODS:
            operands = [(func.value, receiver)] + ([(args[0][0].value, first)] if args else [])
            self.check_sink(node, "." + method + "()", operands)
            return UNKNOWN
        if method in facts.REDUCTION_METHODS:
            keep = find_arg(node, None, facts.KEEPDIM_KEYWORDS)
            return self.reduce(receiver, find_arg(node, 0, facts.AXIS_KEYWORDS), keep)
        if method in facts.DIVISION_METHODS and args:
            return self.divide(receiver, first, node, func.value)
        if method in facts.INPLACE_DIVISION_METHODS and args:
            result = self.divide(receiver, first, node, func.value)
            key = dotted_name(func.value)
            if key is not None:
                frame.env[key] = result.but(binding=receiver.binding) if result.is_feature else result
                frame.inplace.add(key)
            return result
        if method in facts.SCALING_METHODS:
            return self.multiply(receiver, first)
        if method in facts.POW_METHODS and args:
            return self.power(receiver, literal_float(args[0][0].value))
        if method in facts.SQUARE_METHODS:
            return self.power(receiver, 2.0)
        return None

    def call_unknown(self, name: Optional[str], node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> Value:
        if self.probing:
            return Value(Kind.RAW)  # probing an encoder method: unknown results count as raw
        first = args[0][1] if args else UNKNOWN
        short = last_component(name) if name else ""
        if first.is_feature and facts.NORMALIZING_NAME_FRAGMENT in short.lower():
            return first.but(kind=Kind.UNIT, binding=None)
        if first.is_feature and short in self.extra_normalizers:
            return first.but(kind=Kind.UNIT, binding=None)
        for _, value in args:
            self.note_escape(value)
        return UNKNOWN

    def note_escape(self, value: Value) -> None:
        if value.binding is not None:
            self.escaped.add(value.binding)
            self.escape_log.append(value.binding)

    def callee_text(self, node: cst.Call) -> str:
        return " ".join(self.module.code_for_node(node.func).split())
