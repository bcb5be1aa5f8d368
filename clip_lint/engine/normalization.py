"""Norms, normalizations and reductions: where a value becomes unit, pooled, or is reported."""

from __future__ import annotations

from typing import Optional, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine import shapes
from clip_lint.engine.frames import Frame, Pending
from clip_lint.engine.syntax import (
    axis_of,
    dotted_name,
    find_arg,
    find_parameter,
    literal_bool,
    literal_float,
    unpacks_arguments,
)
from clip_lint.engine.values import (
    ANY_AXIS,
    NORMALIZABLE_KINDS,
    UNKNOWN,
    Kind,
    Value,
)


class Normalization:
    """Norms and normalizations (a mixin of ``Analyzer``)."""

    def make_norm(self, value: Value, node: cst.Call, signature: facts.NormSignature) -> Value:
        if not value.is_feature:
            return UNKNOWN
        axis, keepdim = self.norm_arguments(node, signature)
        return Value(
            Kind.NORM,
            tag="norm",
            parts=(value,),
            rank=value.rank,
            axis=axis,
            keepdim=keepdim,
            library=signature.library,
            norm_call=node,
        )

    def norm_arguments(self, node: cst.Call, signature: facts.NormSignature) -> Tuple[object, bool]:
        """The axis a norm call reduces and whether it keeps it, read through its signature.

        Unpacked arguments (``*args``) or a keepdim held in a variable are trusted.
        """
        self.norm_signatures[id(node)] = signature
        if unpacks_arguments(node):
            return ANY_AXIS, True
        keep_arg = find_parameter(node, signature.parameters, signature.keepdim)
        keepdim = literal_bool(keep_arg.value) if keep_arg is not None else False
        return axis_of(find_parameter(node, signature.parameters, signature.axis)), keepdim is not False

    def norm_method(self, norm: Value, method: str, node: cst.Call) -> Value:
        if method in facts.PRODUCT_SUM_METHODS:
            return self.sum_of_squares(norm, node, facts.SUM_METHOD_SIGNATURES.get(norm.library))
        if norm.tag == "sum-of-squares" and method in facts.SQRT_METHODS:
            return norm.but(tag="norm")
        if norm.tag == "sum-of-squares" and method in facts.POW_METHODS:
            exponent = find_arg(node, 0, facts.EXPONENT_KEYWORDS)
            return self.power(norm, literal_float(exponent.value) if exponent else None)
        if norm.tag == "norm" and method in facts.RECIPROCAL_METHODS:
            return norm.but(tag="inverse")
        if norm.tag == "sum-of-squares" and method in facts.RSQRT_METHODS:
            return norm.but(tag="inverse")
        if method in facts.NORM_PASSTHROUGH_METHODS:
            return norm
        if method in facts.NORM_KEEPDIM_METHODS or method in facts.RESHAPE_METHODS:
            return norm.but(keepdim=True)
        return UNKNOWN

    def sum_of_squares(self, squares: Value, node: cst.Call, signature: Optional[facts.NormSignature]) -> Value:
        if squares.tag != "squares" or signature is None:
            return UNKNOWN
        axis, keepdim = self.norm_arguments(node, signature)
        return squares.but(tag="sum-of-squares", axis=axis, keepdim=keepdim, norm_call=node)

    def square_root(self, value: Value) -> Value:
        if value.kind is Kind.NORM and value.tag == "sum-of-squares":
            return value.but(tag="norm")
        return UNKNOWN

    def normalize(
        self,
        value: Value,
        axis: object,
        keepdim: bool,
        node: cst.CSTNode,
        value_expr: cst.CSTNode,
        norm_call: Optional[cst.CSTNode],
        by_division: bool,
    ) -> Value:
        if value.kind is Kind.REPORTED:
            return value
        if value.kind not in NORMALIZABLE_KINDS:
            return UNKNOWN
        one_vector = shapes.holds_one_vector(value.shape)
        problem = "" if one_vector and axis is None else self.axis_problem(value.rank, value.feature_axis, axis)
        code = "CLN002" if problem else ""
        if not code and by_division and axis is not None and not keepdim and (value.rank or 0) >= 2 and not one_vector:
            code = "CLN003"
        if code and value.kind is Kind.EITHER:
            return UNKNOWN  # raw on only some paths: a bad normalization there is not certain enough
        if code:
            dim = shapes.spelled_axis(value.rank, value.feature_axis)
            fix = ("fix-norm", norm_call, dim, by_division) if norm_call is not None else None
            name = self.describe(value_expr, value)
            self.report(Pending(code, node, value, name, detail=problem, fix_plan=fix))
            return value.but(kind=Kind.REPORTED)
        return value.but(kind=Kind.UNIT)

    @staticmethod
    def axis_problem(rank: Optional[int], feature_axis: int, axis: object) -> str:
        """Why normalizing over ``axis`` is wrong for a value of this shape; empty if it is not."""
        if rank is None or axis is ANY_AXIS:
            return ""
        if axis is None:
            return "no axis (one norm for the whole batch)" if rank >= 2 else ""
        assert isinstance(axis, int)
        if rank == 0:
            return ""
        if shapes.position(rank, axis) != rank + feature_axis:
            return f"dim={axis}, not the feature dim"
        return ""

    def call_normalize_function(self, signature: facts.NormalizeSignature, node: cst.Call, value: Value) -> Value:
        self.norm_signatures[id(node)] = signature
        input_arg = find_parameter(node, signature.parameters, signature.parameters[0])
        axis_arg = find_parameter(node, signature.parameters, signature.axis)
        axis = axis_of(axis_arg) if axis_arg is not None else signature.default_axis
        if unpacks_arguments(node):
            axis = ANY_AXIS
        elif axis_arg is None and value.rank is None:
            axis = value.feature_axis  # the default axis can't be judged without the rank
        value_expr = input_arg.value if input_arg is not None else node
        return self.normalize(value, axis, True, node, value_expr, node, False)

    def normalize_in_place(self, expression: cst.CSTNode, value: Value, frame: Frame) -> None:
        key = dotted_name(expression)
        if key is None or value.kind not in (Kind.RAW, Kind.POOLED, Kind.EITHER):
            return
        frame.env[key] = value.but(kind=Kind.UNIT)
        frame.inplace.add(key)

    def reduce(
        self, value: Value, axis_arg: Optional[cst.Arg], keep_arg: Optional[cst.Arg], node: Optional[cst.CSTNode] = None
    ) -> Value:
        if value.kind not in (Kind.RAW, Kind.UNIT, Kind.POOLED):
            return UNKNOWN
        axis = axis_of(axis_arg)
        if axis is None or axis is ANY_AXIS:
            return UNKNOWN
        assert isinstance(axis, int)
        keepdim = keep_arg is not None and literal_bool(keep_arg.value) is True
        shape = (shapes.keep_axis_as_one if keepdim else shapes.remove_axis)(value.shape, axis)
        if shape is None:
            return UNKNOWN  # reduced over the features themselves
        over_one_vector = value.rank is not None and shapes.position(value.rank, axis) - value.rank in value.ones
        kind = value.kind if value.kind is Kind.RAW or over_one_vector else Kind.POOLED
        reduced = value.with_shape(shape, kind=kind, binding=None, sources=())
        if value.sources and node is not None:  # a mean or sum over raw features of several calls
            reduced = self.mixed(reduced, tuple((source.origin.node, source) for source in value.sources), node)
        return reduced

    def combine(self, container: Value, rank_change: Optional[int], library: str, axis: int = 0) -> Value:
        if container.is_feature:
            return container.but(library=library, binding=None)  # np.array(tensor) keeps the shape
        element = self.element_of(container) if container.kind in (Kind.CONTAINER, Kind.TUPLE) else container
        if not element.is_feature:
            return UNKNOWN
        shape = element.shape
        if rank_change == 1:
            shape = shapes.insert_axis(shape, axis, size_one=False)
        elif rank_change is None and element.rank == 1:
            shape = (2, element.feature_axis, shapes.NO_ONES)  # vstack of vectors: one per row
        elif element.rank is not None:  # joined along an axis: it is no longer of size 1
            joined = shapes.position(element.rank, 0 if rank_change is None else axis) - element.rank
            shape = (shape[0], shape[1], shape[2] - {joined})
            if joined == element.feature_axis:
                element = element.but(sources=())  # features side by side (a probe's input), not a mix
        return element.with_shape(shape, library=library, binding=None)
