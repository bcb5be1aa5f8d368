"""Calls: encoders, library functions and methods from the facts tables, and unknown calls."""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine import shapes
from clip_lint.engine.frames import Frame
from clip_lint.engine.syntax import (
    NOT_A_CONSTANT,
    axis_of,
    dotted_name,
    find_arg,
    find_parameter,
    find_arg_in,
    last_component,
    literal_bool,
    literal_float,
    literal_int,
    literal_sizes,
)
from clip_lint.engine.values import (
    BOTTOM,
    OBJECT_KINDS,
    UNKNOWN,
    Kind,
    Value,
    gather,
    merge,
)
from clip_lint.engine.callables import PartialValue, callable_value

#: Values a call runs: a model, a project object, a callable, or one of these.
CALLED_KINDS = OBJECT_KINDS | {Kind.ONE_OF}


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
    facts.RANK_CHANGE_FUNCTIONS,
    facts.MODEL_WRAPPER_FUNCTIONS,
    facts.PARTIAL_FUNCTIONS,
    facts.NORM_GUARD_FUNCTIONS,
    facts.RECIPROCAL_FUNCTIONS,
    facts.RSQRT_FUNCTIONS,
    facts.SCALING_FUNCTIONS,
)


class CallEvaluator:
    """Evaluates calls (a mixin of ``Analyzer``)."""

    def eval_Call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        name = dotted_name(func)
        qualified = self.qualify(name) if name is not None else None
        if qualified is not None and self.is_known_function(qualified):
            args = self.call_arguments(node, frame)
            return self.call_function(qualified, node, args, frame)
        if name is not None and name.partition(".")[0] not in frame.env:
            found = self.reference(func, frame, self.may_hand_features(node, frame))
            if found is not None:
                args = self.call_arguments(node, frame)
                result = self.call_reference(found, node, args, frame)
                if result is not None:
                    return result
                return self.call_unknown(name, node, args)
        called = frame.env.get(name) if name is not None else None
        if called is not None and called.kind in CALLED_KINDS:
            args = self.call_arguments(node, frame)
            result = self.call_value(called, node, args, frame)
            return result if result is not None else self.call_unknown(name, node, args)
        if isinstance(func, cst.Attribute):
            return self.call_attribute(node, func, name, frame)
        if isinstance(func, cst.Name):
            if func.value in self.functions and func.value not in self.imported:
                args = self.call_arguments(node, frame)
                return self.inline(self.functions[func.value], node, args, frame, None)
            model = self.model_kind(name)
            if model:
                self.eval_args(node, frame)
                return Value(Kind.MODEL, tag=model)
        callee = self.eval(func, frame)
        built = self.undefer(callee, node, frame) if callee.deferred is not None else callee
        args = self.call_arguments(node, frame)
        if built is not callee:
            result = self.keep_deferred(callee, node, frame, lambda: self.call_value(built, node, args, frame))
        else:
            result = self.call_value(callee, node, args, frame)
        if result is not None:
            return result
        result = self.call_unknown(name, node, args)
        return self.deferred_call(node, args) if result is UNKNOWN and name is not None else result

    def call_attribute(self, node: cst.Call, func: cst.Attribute, name: Optional[str], frame: Frame) -> Value:
        """``receiver.method(...)``: an encoder, a model factory, the class's own method, a method of
        a known object or value."""
        method = func.attr.value
        if method in self.encoders:
            return self.call_encoder(node, method, frame)
        if method in facts.MODEL_FACTORY_METHODS:
            built = self.built_by_factory(node, func, frame)
            if built is not None:
                return built
        is_self = isinstance(func.value, cst.Name) and func.value.value == "self"
        if is_self and frame.class_info is not None:
            method_def = frame.class_info.methods.get(method)
            if method_def is not None:
                args = self.call_arguments(node, frame)
                return self.inline(method_def, node, args, frame, frame.class_info, skip_self=True)
        receiver = self.eval(func.value, frame)
        args = self.call_arguments(node, frame)
        result = self.method_on(receiver, method, node, args, frame)
        # ``models.Scorer()``: a class of an imported module
        return self.deferred_call(node, args) if result is UNKNOWN and receiver.kind is Kind.UNKNOWN else result

    def method_on(
        self, receiver: Value, method: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Value:
        if receiver.deferred is not None:
            built = self.undefer(receiver, node, frame)
            if built is not receiver:
                run = lambda: self.method_on(built, method, node, args, frame)  # noqa: E731
                return self.keep_deferred(receiver, node, frame, run)
        if receiver.kind is Kind.INSTANCE:
            result = self.call_instance(receiver, method, node, args, frame)
            if result is not None:
                return result
        if receiver.kind is Kind.ONE_OF:
            return self.each_candidate(receiver, lambda one: self.method_on(one, method, node, args, frame))
        return self.call_method(receiver, method, node, args, frame)

    def built_by_factory(self, node: cst.Call, func: cst.Attribute, frame: Frame) -> Optional[Value]:
        """``Cls.from_pretrained(...)``: a model of a known class, or an object of a project class."""
        model = self.model_kind(dotted_name(func.value))
        if model:
            self.eval_args(node, frame)
            return Value(Kind.MODEL, tag=model)
        if dotted_name(func.value) is None:
            return None
        found = self.reference(func.value, frame)
        if found is None or found.__class__.__name__ != "ClassRef":
            return None
        return self.instantiate(found, node, self.call_arguments(node, frame), frame)  # type: ignore[arg-type]

    def call_arguments(self, node: cst.Call, frame: Frame) -> List[Tuple[cst.Arg, Value]]:
        """The call's arguments and their values, with ``*x`` / ``**x`` spread out where known."""
        args = self.eval_args(node, frame)
        for arg in node.args:
            if arg.star:
                return self.expand_arguments(args)
        return args

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
        """The model class a name refers to, when the facts know its outputs (the MODEL tag)."""
        if name is None:
            return ""
        cls = last_component(self.qualify(name))
        return cls if cls in facts.MODEL_OUTPUTS else ""

    def eval_args(self, node: cst.Call, frame: Frame) -> List[Tuple[cst.Arg, Value]]:
        return [(arg, self.eval(arg.value, frame)) for arg in node.args]

    def call_encoder(self, node: cst.Call, method: str, frame: Frame) -> Value:
        """An encoder call: raw features, unless the project's own method provably normalizes."""
        assert isinstance(node.func, cst.Attribute)
        receiver_node = node.func.value
        is_self = isinstance(receiver_node, cst.Name) and receiver_node.value == "self"
        receiver = self.eval(receiver_node, frame)
        args = self.call_arguments(node, frame)
        return self.encoder_result(method, None if is_self else receiver, node, args, frame, frame.class_info)

    def encoder_result(
        self,
        method: str,
        receiver: Optional[Value],
        node: cst.Call,
        args: List[Tuple[cst.Arg, Value]],
        frame: Frame,
        class_info: object,
    ) -> Value:
        """What calling ``method`` on ``receiver`` (None: ``self`` of ``class_info``) returns."""
        if receiver is not None and receiver.kind is Kind.ONE_OF:
            return self.each_candidate(
                receiver, lambda one: self.encoder_result(method, one, node, args, frame, None)
            )
        origin = self.make_origin(method, node)
        self.remember(node)
        if normalize_requested(args):
            return Value(Kind.UNIT, rank=2, origin=origin)
        own = self.own_encoder(receiver, method, class_info)
        if own is not None:
            return self.own_encoder_value(own, receiver, args, origin, method)
        model = "output-object" if method in facts.OUTPUT_OBJECT_ENCODERS else ""
        return Value(Kind.RAW, rank=2, origin=origin, tag=model)

    def call_function(
        self, qualified: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Value:
        first = args[0][1] if args else UNKNOWN
        kept = self.object_function(qualified, node, args)
        if kept is not None:
            return kept
        if qualified in facts.NORM_FUNCTIONS:
            signature = facts.NORM_FUNCTIONS[qualified]
            return self.make_norm(self.input_value(signature.parameters, node, args), node, signature)
        if qualified in facts.NORMALIZE_FUNCTIONS:
            normalize = facts.NORMALIZE_FUNCTIONS[qualified]
            return self.call_normalize_function(normalize, node, self.input_value(normalize.parameters, node, args))
        if qualified in facts.INPLACE_NORMALIZE_FUNCTIONS:
            position = facts.INPLACE_NORMALIZE_FUNCTIONS[qualified]
            if position < len(args):
                self.normalize_in_place(args[position][0].value, args[position][1], frame)
            return UNKNOWN
        if qualified in facts.SIMILARITY_FUNCTIONS:
            self.check_sink(node, self.callee_text(node), self.compared_operands(args))
            return UNKNOWN
        if qualified in facts.EINSUM_FUNCTIONS:
            self.check_einsum(node, args)
            return UNKNOWN
        if qualified in facts.DIVISION_FUNCTIONS and len(args) >= 2:
            return self.divide(args[0][1], args[1][1], node, args[0][0].value)
        if qualified in facts.SUM_FUNCTION_SIGNATURES:
            summed = self.input_value(facts.SUM_FUNCTION_SIGNATURES[qualified].parameters, node, args)
            if summed.kind is Kind.NORM:
                return self.sum_of_squares(summed, node, facts.SUM_FUNCTION_SIGNATURES[qualified])
        if qualified in facts.PRODUCT_SUM_FUNCTIONS and first.kind is Kind.PRODUCT:
            return self.sum_product(first, axis_of(find_arg(node, 1, facts.AXIS_KEYWORDS)), node)
        if qualified in facts.REDUCTION_FUNCTIONS:
            keep = find_arg(node, None, facts.KEEPDIM_KEYWORDS)
            if first.kind in (Kind.CONTAINER, Kind.TUPLE):  # np.mean([a, b], axis=0) stacks them first
                first = self.combine(first, 1, self.qualify(qualified).split(".")[0])
            return self.reduce(first, find_arg(node, 1, facts.AXIS_KEYWORDS), keep, node)
        if qualified in facts.COMBINER_FUNCTIONS:
            axis = literal_int(getattr(find_arg(node, 1, facts.AXIS_KEYWORDS), "value", None))
            return self.combine(
                first, facts.COMBINER_FUNCTIONS[qualified], facts.COMBINER_LIBRARY[qualified], axis or 0
            )
        if qualified in facts.RANK_CHANGE_FUNCTIONS:
            change = facts.RANK_CHANGE_FUNCTIONS[qualified]
            return rank_changed(first, change, node.args[1:]) if first.is_feature else UNKNOWN
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
        if qualified in facts.SCALING_FUNCTIONS and len(args) >= 2:
            return self.product(first, args[1][1], node, args[0][0].value, args[1][0].value)
        norm = self.norm_function(qualified, node, first)
        if norm is not None:
            return norm
        if qualified not in self.extra_normalizers and last_component(qualified) not in self.extra_normalizers:
            return self.call_unknown(qualified, node, args)
        # a configured extra normalizer
        return first.but(kind=Kind.UNIT, binding=None) if first.is_feature else UNKNOWN

    def compared_operands(self, args: List[Tuple[cst.Arg, Value]]) -> List[Tuple[cst.CSTNode, Value]]:
        """The two operands a similarity function compares; ``torch.mm(*mats)`` of a list whose
        length is unknown compares two of its elements."""
        operands = [(arg.value, self.element_of(value) if arg.star == "*" else value) for arg, value in args]
        if len(operands) == 1 and args[0][0].star == "*":
            operands *= 2
        return operands[:2]

    @staticmethod
    def input_value(parameters: Sequence[str], node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> Value:
        """The value passed for a function's first parameter, by position or keyword."""
        input_arg = find_parameter(node, parameters, parameters[0])
        return next((value for arg, value in args if arg is input_arg), UNKNOWN)

    def object_function(self, qualified: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> Optional[Value]:
        """Functions that wrap, or build, something callable: wrappers and ``partial``."""
        first = args[0][1] if args else UNKNOWN
        if qualified in facts.MODEL_WRAPPER_FUNCTIONS:
            return first if first.kind in CALLED_KINDS else UNKNOWN
        if qualified in facts.PARTIAL_FUNCTIONS:
            if first.kind not in CALLED_KINDS or args[0][0].keyword is not None or args[0][0].star:
                return UNKNOWN
            return callable_value(PartialValue(first, tuple(args[1:])))
        return None

    def norm_function(self, qualified: str, node: cst.Call, first: Value) -> Optional[Value]:
        """Functions of a norm: a floor against zero keeps it; a reciprocal or an rsqrt inverts it."""
        if first.kind is not Kind.NORM:
            return None
        if qualified in facts.NORM_GUARD_FUNCTIONS and len(node.args) >= 2:
            return first
        if qualified in facts.RECIPROCAL_FUNCTIONS and first.tag == "norm":
            return first.but(tag="inverse")
        if qualified in facts.RSQRT_FUNCTIONS and first.tag == "sum-of-squares":
            return first.but(tag="inverse")
        return None

    def call_method(
        self, receiver: Value, method: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Value:
        kind = receiver.kind
        first = args[0][1] if args else UNKNOWN
        if method in facts.MODEL_WRAPPER_METHODS and not receiver.is_feature and kind is not Kind.MAPPING:
            wrapped = [value for _, value in args]
            if any(value.kind in CALLED_KINDS for value in wrapped):
                if len(wrapped) == 1:
                    return wrapped[0]
                return Value(Kind.TUPLE, parts=tuple(v if v.kind in CALLED_KINDS else UNKNOWN for v in wrapped))
        if kind is Kind.MAPPING:
            return self.mapping_method(receiver, method, node, args)
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
                frame.env[key] = receiver.but(parts=(gather(receiver.parts[0], element),), items=())
            return UNKNOWN
        elif kind is Kind.CONTAINER and receiver.items:  # pop, sort, reverse...: positions may change
            key = dotted_name(node.func.value)  # type: ignore[attr-defined]
            if key is not None and frame.env.get(key) is receiver:
                frame.env[key] = receiver.but(items=())
        elif kind is Kind.IP_INDEX and method in facts.INDEX_SINK_METHODS:
            if args:
                self.check_sink(node, self.callee_text(node), [(args[0][0].value, first)])
            return UNKNOWN
        elif kind is Kind.MODEL:
            if method in facts.MODEL_PASSTHROUGH_METHODS:
                return receiver
            if method in facts.MODEL_CALL_METHODS:
                return Value(Kind.OUTPUT, tag=receiver.tag)
        elif kind is Kind.CALLABLE and method in facts.MODEL_CALL_METHODS:
            result = self.call_value(receiver, node, args, frame)
            if result is not None:
                return result
        if kind in OBJECT_KINDS:  # a model or a callable held in an attribute (``wrapper.module(...)``)
            held = self.object_attribute(receiver, method)
            if held is not None and held.kind in CALLED_KINDS:
                result = self.call_value(held, node, args, frame)
                if result is not None:
                    return result
        return self.call_unknown(method, node, args)

    def mapping_method(
        self, mapping: Value, method: str, node: cst.Call, args: List[Tuple[cst.Arg, Value]]
    ) -> Value:
        """``d.get(key)``, ``d.values()``, ``d.items()`` of a dict whose entries are known."""
        if method in facts.MAPPING_GET_METHODS and args:
            key = args[0][1]
            return self.lookup(mapping, key.constant if key.kind is Kind.LITERAL else NOT_A_CONSTANT)
        merged = BOTTOM
        for part in mapping.parts:
            merged = merge(merged, part)
        if method in facts.MAPPING_VALUES_METHODS:
            return Value(Kind.CONTAINER, parts=(merged,))
        if method in facts.MAPPING_ITEMS_METHODS:
            return Value(Kind.CONTAINER, parts=(Value(Kind.TUPLE, parts=(UNKNOWN, merged)),))
        return self.call_unknown(method, node, args)

    @staticmethod
    def transposed(value: Value, name: str, call: Optional[cst.Call]) -> Value:
        """A transpose keeps what a value is and moves its feature axis."""
        shape = value.shape
        if name in facts.REVERSING_TRANSPOSES:
            shape = shapes.reverse_axes(shape)
        elif name in facts.LAST_TWO_TRANSPOSES:
            shape = shapes.swap_axes(shape, -1, -2)
        elif name in facts.SWAPPING_TRANSPOSES:
            axes = [literal_int(arg.value) for arg in (call.args if call else ())]
            if len(axes) != 2 or None in axes:
                return value.with_shape(shapes.unknown_rank(shape))
            shape = shapes.swap_axes(shape, axes[0], axes[1])  # type: ignore[arg-type]
        return value.with_shape(shape)

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
        if method in facts.RANK_CHANGE_METHODS:
            return rank_changed(receiver, facts.RANK_CHANGE_METHODS[method], node.args)
        if receiver.kind is Kind.PARAMETER:
            return None
        if method == facts.NORM_METHOD:
            return self.make_norm(receiver, node, facts.NORM_METHOD_SIGNATURE)
        if method in facts.SIMILARITY_METHODS:
            operands = [(func.value, receiver)] + ([(args[0][0].value, first)] if args else [])
            self.check_sink(node, "." + method + "()", operands)
            return UNKNOWN
        if method in facts.REDUCTION_METHODS:
            keep = find_arg(node, None, facts.KEEPDIM_KEYWORDS)
            return self.reduce(receiver, find_arg(node, 0, facts.AXIS_KEYWORDS), keep, node)
        if method in facts.DIVISION_METHODS and args:
            return self.divide(receiver, first, node, func.value)
        if method in facts.INPLACE_DIVISION_METHODS and args:
            result = self.divide(receiver, first, node, func.value)
            key = dotted_name(func.value)
            if key is not None:
                frame.env[key] = result.but(binding=receiver.binding) if result.is_feature else result
                frame.inplace.add(key)
            return result
        if method in facts.SCALING_METHODS and args:
            return self.product(receiver, first, node, func.value, args[0][0].value)
        if method in facts.POW_METHODS and args:
            return self.power(receiver, literal_float(args[0][0].value))
        if method in facts.SQUARE_METHODS:
            return self.power(receiver, 2.0)
        return None

    def call_unknown(self, name: Optional[str], node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> Value:
        short = last_component(name) if name else ""
        if facts.OUTPUT_RECORD_NAME_FRAGMENT in short and any(arg.keyword is not None for arg, _ in args):
            return mapping_of_keywords(args).but(tag="record")  # an output record: its fields as given
        if self.probing:
            return Value(Kind.RAW)  # probing an encoder method: unknown results count as raw
        first = args[0][1] if args else UNKNOWN
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


def rank_changed(value: Value, change: str, args: Sequence[cst.Arg]) -> Value:
    """A value after a rank change from ``facts.RANK_CHANGE_*``, read from the call's arguments."""
    shape = value.shape
    axis_arg = find_arg_in(args, 0, facts.AXIS_KEYWORDS)
    axis = literal_int(axis_arg.value) if axis_arg is not None else None
    if change == "insert" and axis is not None:
        return value.with_shape(shapes.insert_axis(shape, axis))
    if change == "squeeze" and (axis is not None or axis_arg is None):
        return value.with_shape(shapes.squeeze(shape, axis))
    if change in ("expand", "repeat"):
        return value.with_shape(shapes.broadcast(shape, literal_sizes(args), repeats=change == "repeat"))
    if change == "atleast_2d":
        return value.with_shape(shapes.at_least_2d(shape))
    return value.but(rank=None, feature_axis=-1 if change == "unknown" else value.feature_axis)


def normalize_requested(args: List[Tuple[cst.Arg, Value]]) -> bool:
    """``normalize=True`` among an encoder call's arguments (open_clip)."""
    for arg, value in args:
        if arg.keyword is not None and arg.keyword.value == facts.NORMALIZE_KEYWORD:
            return literal_bool(arg.value) is True or (value.kind is Kind.LITERAL and value.constant is True)
    return False


def mapping_of_keywords(args: List[Tuple[cst.Arg, Value]]) -> Value:
    """A dict (or an output record) of the keyword arguments; any other argument makes its keys unknown."""
    keys: List[object] = []
    parts: List[Value] = []
    for arg, value in args:
        if arg.keyword is not None:
            keys.append(arg.keyword.value)
            parts.append(value)
        elif value.kind is Kind.MAPPING:
            keys.extend(value.keys)
            parts.extend(value.parts)
        else:
            keys.append(None)
            parts.append(UNKNOWN)
    return Value(Kind.MAPPING, keys=tuple(keys), parts=tuple(parts))
