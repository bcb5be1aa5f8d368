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
    Mix,
    Value,
)
from clip_lint.engine.locator import children_in_source_order


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
        """One finding per sink, naming every operand that is not unit (and fixing exactly those)."""
        if any(value.kind is Kind.PARAMETER for _, value in operands):
            return
        for _, value in operands:
            if value.mix is not None and value.is_feature:
                self.report_mix(value.mix, op)
        bad: List[Tuple[cst.CSTNode, Value]] = []
        names: List[str] = []
        for expression, value in operands:
            name = self.describe(expression, value) if value.kind in (Kind.RAW, Kind.POOLED) else ""
            if name and name not in names:  # ``x @ x.T`` names x once
                bad.append((expression, value))
                names.append(name)
        if not bad:
            return
        # The more basic bug gives the code, and its operand the message's first fields.
        raw = [operand for operand in bad if operand[1].kind is Kind.RAW]
        code = "CLN001" if raw else "CLN004"
        expression, value = (raw or bad)[0]
        plans = []
        for other_expression, other_value in bad:
            plan = self.sink_fix_plan(other_expression, other_value)
            if plan is None:
                plans = []  # fix every operand or none
                break
            if plan not in plans:
                plans.append(plan)
        fix = ("all", tuple(plans)) if plans else None
        named = tuple(
            (name, operand_value, self.named_feature_axis(operand_expression, operand_value))
            for name, (operand_expression, operand_value) in zip(names, bad)
        )
        name = self.describe(expression, value)
        self.report(Pending(code, node, value, name, op=op, fix_plan=fix, operands=named))

    def report_mix(self, mix: Mix, op: str) -> None:
        """CLN005 where different encoders' raw features were mixed; its fix normalizes each one."""
        named = tuple(
            (self.describe(expression, value), value, self.named_feature_axis(expression, value))
            for expression, value in mix.operands
        )
        plans: List[Optional[tuple]] = []
        for expression, value in mix.operands:
            plan = self.sink_fix_plan(expression, value)
            if plan is None or plan not in plans:
                plans.append(plan)
        fix = ("all", tuple(plans)) if None not in plans else None
        first_name, first_value, _ = named[0]
        self.report(Pending("CLN005", mix.node, first_value, first_name, op=op, fix_plan=fix, operands=named))

    def sink_fix_plan(self, expression: cst.CSTNode, value: Value) -> Optional[tuple]:
        if value.binding is not None:
            # inside an inlined helper the comparison is the helper's, not this caller's
            compared = None if self.call_stack else expression
            return ("insert-after", value.binding, value.binding.library, value.binding.dim, compared)
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
            left, right = self.product_operands(node)
            self.check_sink(node, "sum of a product", [(left, first), (right, second)])
        return UNKNOWN

    @staticmethod
    def product_operands(call: cst.Call) -> Tuple[cst.CSTNode, cst.CSTNode]:
        """The two factors of ``(a * b).sum()`` / ``torch.sum(a * b)``; the call when hidden."""
        product: cst.CSTNode = call.func.value if isinstance(call.func, cst.Attribute) else call
        if product is call and call.args:
            product = call.args[0].value
        if isinstance(product, cst.BinaryOperation) and isinstance(product.operator, cst.Multiply):
            return product.left, product.right
        return call, call

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
