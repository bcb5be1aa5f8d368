"""Turn pending findings into positioned findings with fixes.

Positions are the costly libcst metadata, so they are resolved here, once, and only for
modules that have something to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine.syntax import dotted_name, find_arg
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.locator import Locator
from clip_lint.rules import RULES, format_message

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.engine.analyzer import Analyzer
    from clip_lint.engine.frames import Pending


def build_findings(analyzer: "Analyzer", pendings: List["Pending"]) -> List[Finding]:
    positions = Locator(analyzer.module, analyzer.text, analyzer.tree, analyzer.top_of_node)
    builder = FixBuilder(analyzer, positions)
    findings = []
    for pending in pendings:
        start = positions[pending.node].start
        origin = pending.subject.origin
        encoder, line, source = "an encoder", "?", "an encoder, line ?"
        if origin is not None and origin.scope is not None:
            encoder, line = origin.encoder, origin.scope.line_of(origin.node)
            source = f"{encoder} via {origin.scope.display}:{line}"
        elif origin is not None and origin.node in positions:
            encoder, line = origin.encoder, str(positions[origin.node].start.line)
            source = f"{encoder}, line {line}"
        fields = dict(
            name=pending.name,
            encoder=encoder,
            line=line,
            source=source,
            site=site_of(pending),
            op=pending.op,
            detail=pending.detail,
            feature_dim=feature_dim_of(pending.subject),
        )
        message = format_message(pending.code, **fields)
        fix = builder.build(pending, fields)
        findings.append(Finding(pending.code, start.line, start.column, message, fix))
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return findings


def site_of(pending: "Pending") -> str:
    """Where in another module a finding happened: `` in 'helper()' at utils/scoring.py:12``."""
    if pending.site is None:
        return ""
    scope, node, helper = pending.site
    return f" in '{helper}()' at {scope.display}:{scope.line_of(node)}"


def feature_dim_of(value) -> int:
    """The feature axis of the value a message names: as bound to its name, if it has one."""
    return value.binding.feature_axis if value.binding is not None else value.feature_axis


class FixBuilder:
    """Writes each fix plan as text edits, using libcst to render changed nodes."""

    def __init__(self, analyzer: "Analyzer", positions: Locator) -> None:
        self.analyzer = analyzer
        self.positions = positions
        self.lines = positions.lines

    def build(self, pending: "Pending", fields: Dict[str, str]) -> Optional[Fix]:
        plan = pending.fix_plan
        if plan is None:
            return None
        title = RULES[pending.code].fix_title.format(**fields)
        if plan[0] == "all":
            return self.combine([self.build_plan(part, title) for part in plan[1]], title)
        return self.build_plan(plan, title)

    @staticmethod
    def combine(fixes: List[Optional[Fix]], title: str) -> Optional[Fix]:
        if not fixes or any(fix is None for fix in fixes):
            return None
        edits = sorted({edit for fix in fixes for edit in fix.edits})  # type: ignore[union-attr]
        return Fix(title, tuple(edits), safe=all(fix.safe for fix in fixes))  # type: ignore[union-attr]

    def build_plan(self, plan: tuple, title: str) -> Optional[Fix]:
        kind = plan[0]
        if kind == "insert-after":
            return self.insert_after(plan[1], plan[2], plan[3], title)
        if kind == "wrap":
            return self.wrap(plan[1], title)
        if kind == "fix-norm":
            return self.fix_norm_call(plan[1], plan[2], plan[3], title)
        return None

    # ----- plans

    def insert_after(self, binding, library: str, feature_axis: int, title: str) -> Optional[Fix]:
        statement = binding.statement
        if statement not in self.positions:
            return None
        where = self.positions[statement]
        indent = self.lines[where.start.line - 1][: where.start.column]
        if indent.strip():
            return None  # the statement shares its line with something else
        edits: List[TextEdit] = []
        numpy_alias = "np"
        if library == "numpy":
            numpy_alias, import_edit = self.alias_for("numpy", "import numpy as np", "np")
            edits += import_edit
        spelling = facts.NORMALIZE_SPELLING[library].format(x=binding.target, np=numpy_alias, dim=feature_axis)
        end_line = where.end.line
        end = (end_line, len(self.lines[end_line - 1]))
        edits.append(TextEdit(end, end, f"\n{indent}{binding.target} = {spelling}"))
        safe = binding not in self.analyzer.escaped
        return Fix(title, tuple(sorted(edits)), safe=safe)

    def wrap(self, node: cst.CSTNode, title: str) -> Optional[Fix]:
        if node not in self.positions:
            return None
        alias, edits = self.alias_for("torch.nn.functional", "import torch.nn.functional as F", "F")
        code = self.analyzer.module.code_for_node(node)
        edits.append(self.replace(node, f"{alias}.normalize({code}, dim=-1)"))
        return Fix(title, tuple(sorted(edits)), safe=True)

    def fix_norm_call(self, call: cst.CSTNode, feature_axis: int, by_division: bool, title: str) -> Optional[Fix]:
        if not isinstance(call, cst.Call) or call not in self.positions:
            return None
        signature = self.signature_of(call)
        if signature is None:
            return None
        axis_position, axis_keyword, keep_keyword, is_method = signature
        new_call = set_argument(call, axis_position, axis_keyword, integer(feature_axis), is_method)
        if by_division and keep_keyword:
            new_call = set_argument(new_call, None, keep_keyword, cst.Name("True"), is_method)
        return Fix(title, (self.replace(call, self.analyzer.module.code_for_node(new_call)),), safe=True)

    # ----- helpers

    def signature_of(self, call: cst.Call) -> Optional[Tuple[Optional[int], str, str, bool]]:
        """(axis position, axis keyword, keepdim keyword, called as a method) for a norm call."""

        name = dotted_name(call.func)
        qualified = self.analyzer.qualify(name) if name else None
        if qualified in facts.NORM_FUNCTIONS:
            sig = facts.NORM_FUNCTIONS[qualified]
            return sig.axis_position, sig.axis_keywords[0], sig.keepdim_keyword, False
        if qualified in facts.NORMALIZE_FUNCTIONS:
            norm_sig = facts.NORMALIZE_FUNCTIONS[qualified]
            return norm_sig.axis_position, norm_sig.axis_keyword, "", False
        if isinstance(call.func, cst.Attribute):
            method = call.func.attr.value
            if method == facts.NORM_METHOD:
                sig = facts.NORM_METHOD_SIGNATURE
                return sig.axis_position, sig.axis_keywords[0], sig.keepdim_keyword, True
            if method in facts.PRODUCT_SUM_METHODS:
                return 1, facts.AXIS_KEYWORDS[0], facts.KEEPDIM_KEYWORDS[0], True
        return None

    def replace(self, node: cst.CSTNode, text: str) -> TextEdit:
        where = self.positions[node]
        return TextEdit((where.start.line, where.start.column), (where.end.line, where.end.column), text)

    def alias_for(self, module: str, import_line: str, default: str) -> Tuple[str, List[TextEdit]]:
        """The local name of an imported module, or a default plus the edit that imports it."""
        for local, full in self.analyzer.imported.items():
            if full == module:
                return local, []
        return default, [self.import_edit(import_line)]

    def import_edit(self, import_line: str) -> TextEdit:
        body = self.analyzer.module.body
        anchor: Optional[cst.CSTNode] = None
        for index, statement in enumerate(body):
            is_import = isinstance(statement, cst.SimpleStatementLine) and any(
                isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
            )
            is_docstring = index == 0 and isinstance(statement, cst.SimpleStatementLine) and (
                isinstance(statement.body[0], cst.Expr)
                and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
            )
            if is_import or is_docstring:
                anchor = statement
            elif anchor is not None:
                break
        if anchor is None:
            return TextEdit((1, 0), (1, 0), import_line + "\n")
        end_line = self.positions[anchor].end.line
        end = (end_line, len(self.lines[end_line - 1]))
        return TextEdit(end, end, "\n" + import_line)


def integer(value: int) -> cst.BaseExpression:
    """An integer literal node, built directly (parse_expression costs a parse each)."""
    if value < 0:
        return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer(str(-value)))
    return cst.Integer(str(value))


def set_argument(
    call: cst.Call, position: Optional[int], keyword: str, new_value: cst.BaseExpression, is_method: bool
) -> cst.Call:
    """A copy of ``call`` with one argument (found by position or keyword) set to ``new_value``.

    ``position`` counts the input as argument 0; a method call's receiver is its input.
    """

    in_call = None if position is None else position - (1 if is_method else 0)
    existing = find_arg(call, in_call, (keyword,))
    if existing is not None:
        args = [arg.with_changes(value=new_value) if arg is existing else arg for arg in call.args]
        return call.with_changes(args=args)
    new_arg = cst.Arg(
        value=new_value,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    args = list(call.args)
    if args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, new_arg])
