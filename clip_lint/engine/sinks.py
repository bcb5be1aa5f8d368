"""Similarity sinks: report raw or pooled operands where features are compared."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from clip_lint.engine import shapes
from clip_lint.engine.frames import Pending
from clip_lint.engine.syntax import (
    literal_string,
)
from clip_lint.engine.values import (
    ANY_AXIS,
    UNKNOWN,
    Kind,
    Value,
)
from clip_lint.locator import children_in_source_order


def einsum_contracts_last(equation: str) -> List[bool]:
    """For each einsum operand: is its last label summed away?"""
    spec = equation.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if not arrow:
        counts: Dict[str, int] = {}
        for term in terms:
            for label in term.replace(".", ""):
                counts[label] = counts.get(label, 0) + 1
        output = "".join(label for label, count in counts.items() if count == 1)
    result = []
    for term in terms:
        labels = term.replace(".", "")
        result.append(bool(labels) and labels[-1] not in output)
    return result


class SinkChecker:
    """Checks the operands of similarity ops (a mixin of ``Analyzer``)."""

    def check_sink(self, node: cst.CSTNode, op: str, operands: List[Tuple[cst.CSTNode, Value]]) -> None:
        if any(value.kind is Kind.PARAMETER for _, value in operands):
            return
        # Raw operands first: one finding per sink, and the more basic bug names it.
        bad = [(e, v) for e, v in operands if v.kind is Kind.RAW]
        bad += [(e, v) for e, v in operands if v.kind is Kind.POOLED]
        if not bad:
            return
        expression, value = bad[0]
        code = "CLN001" if value.kind is Kind.RAW else "CLN004"
        plans = []
        for other_expression, other_value in bad:
            plan = self.sink_fix_plan(other_expression, other_value)
            if plan is None:
                plans = []  # fix every operand or none
                break
            if plan not in plans:
                plans.append(plan)
        fix = ("all", tuple(plans)) if plans else None
        self.report(Pending(code, node, value, self.describe(expression, value), op=op, fix_plan=fix))

    def sink_fix_plan(self, expression: cst.CSTNode, value: Value) -> Optional[tuple]:
        if value.binding is not None:
            return ("insert-after", value.binding, value.library, value.binding.feature_axis, expression)
        origin = value.origin
        inline = origin is not None and self.contains(expression, origin.node)
        if inline and value.kind is Kind.RAW and value.library == "torch":
            return ("wrap", origin.node, value.library, -1)  # type: ignore[union-attr]
        return None

    @staticmethod
    def contains(expression: cst.CSTNode, target: cst.CSTNode) -> bool:
        stack = [expression]
        while stack:
            node = stack.pop()
            if node is target:
                return True
            stack.extend(children_in_source_order(node))
        return False

    def sum_product(self, product: Value, axis: object, node: cst.CSTNode) -> Value:
        first, second = product.parts
        rank = first.rank
        if axis is None or axis is ANY_AXIS:
            on_features = True
        elif rank is None:
            on_features = axis == first.feature_axis
        else:
            on_features = shapes.position(rank, axis) == rank + first.feature_axis  # type: ignore[arg-type]
        if on_features:
            assert isinstance(node, cst.Call)
            self.check_sink(node, "sum of a product", [(node, first), (node, second)])
        return UNKNOWN

    def check_einsum(self, node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> None:
        if not args:
            return
        equation = literal_string(args[0][0].value)
        operands = [(arg.value, value) for arg, value in args[1:]]
        if equation is not None:
            operands = [
                operand
                for operand, contracted in zip(operands, einsum_contracts_last(equation))
                if contracted
            ]
        self.check_sink(node, self.callee_text(node), operands)
