"""Turn pending findings into positioned findings with fixes.

Positions are the costly libcst metadata, so they are resolved here, once, and only for
modules that have something to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition

from clip_lint import facts
from clip_lint.config.selection import is_suppressed
from clip_lint.engine.shapes import spelled_axis
from clip_lint.engine.syntax import dotted_name, find_parameter, unpacks_arguments
from clip_lint.engine.values import Kind
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.fix.linewrap import fit_assignment, fit_call
from clip_lint.engine.locator import Locator, walk_in_source_order
from clip_lint.fix.names import FileNames
from clip_lint.sources.textedits import split_lines
from clip_lint.rules import RULES, format_message

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.engine.analyzer import Analyzer
    from clip_lint.engine.frames import Pending
    from clip_lint.engine.values import Binding


def build_findings(analyzer: "Analyzer", pendings: List["Pending"]) -> List[Finding]:
    positions = Locator(analyzer.module, analyzer.text, analyzer.tree, analyzer.top_of_node)
    builder = FixBuilder(analyzer, positions)
    findings = []
    for pending in pendings:
        if silenced_at_comparison(pending, positions):
            continue
        start, end = report_position(pending.node, positions), positions[pending.node].end
        encoder, line, source = origin_of(pending.subject, positions)
        fields = dict(
            name=pending.name,
            encoder=encoder,
            line=line,
            source=source,
            site=site_of(pending, positions),
            op=pending.op,
            detail=pending.detail,
            feature_dim=pending.operands[0][2] if pending.operands else feature_dim_of(pending.subject),
        )
        if len(pending.operands) > 1:
            fields.update(operand_fields(pending.operands, positions))
        message = format_message(pending.code, **fields)
        fix = builder.build(pending, fields)
        findings.append(Finding(pending.code, start.line, start.column, message, fix, end.line, end.column))
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return findings


def report_position(node: cst.CSTNode, positions: Locator) -> CodePosition:
    """Where a finding is reported: a similarity operator's own position (``@`` in a multi-line
    expression may be lines below its first operand), else where the node starts."""
    if isinstance(node, (cst.BinaryOperation, cst.AugAssign)) and isinstance(
        node.operator, (cst.MatrixMultiply, cst.MatrixMultiplyAssign)
    ):
        found = positions.operator_start(node)
        if found is not None:
            return found
    return positions[node].start


def comparison_line(pending: "Pending", positions: Locator) -> Optional[Tuple[int, str]]:
    """The line of the comparison a finding reported elsewhere names: its number and its text."""
    if pending.site is None or pending.site[1] is None:
        return None
    scope, node, _ = pending.site
    if scope.home:
        if node not in positions:
            return None
        number = positions[node].start.line
        return number, positions.lines[number - 1]
    line = scope.line_of(node)
    if not line.isdigit():
        return None
    lines = split_lines(scope.text)
    number = int(line)
    return (number, lines[number - 1]) if number <= len(lines) else None


def silenced_at_comparison(pending: "Pending", positions: Locator) -> bool:
    """A ``# noqa`` on the comparison line a message names silences the finding, wherever it is."""
    found = comparison_line(pending, positions)
    return found is not None and is_suppressed(pending.code, found[1])


def site_of(pending: "Pending", positions: Locator) -> str:
    """Where the comparison is, when the finding is reported elsewhere: `` in 'helper()' at
    utils/scoring.py:12`` (another module), `` in 'score()' at line 7``, and the other calls."""
    if pending.site is None:
        return ""
    scope, node, helper = pending.site
    if node is None:
        return f" in '{helper}()' (raw features from {calls_at(pending.calls, positions)})"
    found = comparison_line(pending, positions)
    where = f"line {found[0]}" if scope.home and found is not None else f"{scope.display}:{scope.line_of(node)}"
    if pending.in_helper:  # different producers: the normalization belongs in the helper
        others = calls_at(pending.calls, positions)
        also = f" (raw features from this call and {others}; the fix belongs in '{helper}()')"
    else:
        also = f" (also handed over by {calls_at(pending.calls, positions)})" if pending.calls else ""
    return f" in '{helper}()' at {where}{also}"


def calls_at(calls: Sequence[cst.CSTNode], positions: Locator) -> str:
    """``the call at line 12``, ``the calls at lines 12 and 18``, ``the calls at lines 3, 7 and 9``."""
    numbers = sorted({positions[call].start.line for call in calls if call in positions})
    if len(numbers) == 1:
        return f"the call at line {numbers[0]}"
    if not numbers:
        return "several calls"
    return "the calls at lines " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def origin_of(value, positions: Locator) -> Tuple[str, str, str]:
    """The encoder a value came from, the line of that call, and both as a message says them
    (``encode_text, line 4``, or ``encode_text via retrieval/encoders.py:10`` from another module)."""
    origin = value.origin
    if origin is not None and origin.scope is not None:
        line = origin.scope.line_of(origin.node)
        return origin.encoder, line, f"{origin.encoder} via {origin.scope.display}:{line}"
    if origin is not None and origin.node in positions:
        line = str(positions[origin.node].start.line)
        return origin.encoder, line, f"{origin.encoder}, line {line}"
    return "an encoder", "?", "an encoder, line ?"


def operand_fields(operands: tuple, positions: Locator) -> Dict[str, str]:
    """The message fields that name several operands of one similarity op."""
    subjects, names, normalized = [], [], []
    for name, value, feature_dim in operands:
        source = origin_of(value, positions)[2]
        pooled = "a mean or sum of normalized embeddings " if value.kind is Kind.POOLED else ""
        subjects.append(f"'{name}' ({pooled}from {source})")
        names.append(f"'{name}'")
        normalized.append(f"F.normalize({name}, dim={feature_dim})")
    return dict(
        subjects=" and ".join(subjects), names=" and ".join(names), each_normalized=" and ".join(normalized)
    )


def feature_dim_of(value) -> int:
    """The feature axis of the value a message names: as bound to its name, if it has one."""
    return value.binding.dim if value.binding is not None else spelled_axis(value.rank, value.feature_axis)


class FixBuilder:
    """Writes each fix plan as text edits, using libcst to render changed nodes."""

    def __init__(self, analyzer: "Analyzer", positions: Locator) -> None:
        self.analyzer = analyzer
        self.positions = positions
        self.lines = positions.lines
        self.names: Optional[FileNames] = None  # read on the first fix that writes a module name

    def build(self, pending: "Pending", fields: Dict[str, str]) -> Optional[Fix]:
        plan = pending.fix_plan
        if plan is None:
            return None
        rule = RULES[pending.code]
        title = (rule.fix_title_many if "names" in fields else rule.fix_title).format(**fields)
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
            return self.insert_after(plan[1], plan[2], plan[3], plan[4], title)
        if kind == "wrap":
            return self.wrap(plan[1], plan[2], plan[3], title)
        if kind == "fix-norm":
            return self.fix_norm_call(plan[1], plan[2], plan[3], title)
        return None

    # ----- plans

    def insert_after(
        self, binding: "Binding", library: str, feature_axis: int, compared: Optional[cst.CSTNode], title: str
    ) -> Optional[Fix]:
        """Normalize a bound value where it is bound; an escaping one where it is compared."""
        escapes = binding in self.analyzer.escaped
        if escapes and compared is not None:
            at_comparison = self.wrap_uses(binding, compared, library, title)
            if at_comparison is not None:
                return at_comparison
        statement = binding.statement
        if statement not in self.positions:
            return None
        where = self.positions[statement]
        indent = self.lines[where.start.line - 1][: where.start.column]
        if indent.strip():
            return None  # the statement shares its line with something else
        edits: List[TextEdit] = []
        module = ""
        if "{module}" in facts.NORMALIZE_SPELLING[library]:
            reference = self.module_reference(library, where.end.line)
            if reference is None:
                return None
            module, edits = reference
        spelling = facts.NORMALIZE_SPELLING[library].format(x=binding.target, module=module, dim=feature_axis)
        statement_text = fit_assignment(binding.target, spelling, indent, self.analyzer.line_length)
        end_line = where.end.line
        end = (end_line, len(self.lines[end_line - 1]))
        edits.append(TextEdit(end, end, f"\n{indent}{statement_text}"))
        # normalizing an escaping value where it is bound changes what else receives it
        return Fix(title, tuple(sorted(edits)), safe=not escapes)

    def wrap_uses(self, binding: "Binding", compared: cst.CSTNode, library: str, title: str) -> Optional[Fix]:
        """Wrap each use of the binding's name inside the compared expression."""
        uses = [
            node
            for node in walk_in_source_order(compared)
            if isinstance(node, (cst.Name, cst.Attribute)) and dotted_name(node) == binding.target
        ]
        if not uses:
            return None
        return self.combine([self.wrap(use, library, binding.dim, title) for use in uses], title)

    def wrap(self, node: cst.CSTNode, library: str, feature_axis: int, title: str) -> Optional[Fix]:
        """Normalize an expression in place, keeping its own text (and continuation lines)."""
        if node not in self.positions:
            return None
        reference = self.module_reference(library, self.positions[node].start.line)
        if reference is None:
            return None
        module, edits = reference
        spelling = facts.WRAP_SPELLING[library].format(module=module, x=self.source_of(node), dim=feature_axis)
        edits.append(self.replace(node, self.fitted(node, spelling)))
        return Fix(title, tuple(sorted(edits)), safe=True)

    def fix_norm_call(self, call: cst.CSTNode, feature_axis: int, by_division: bool, title: str) -> Optional[Fix]:
        """Set the axis (and keepdim, for a division) of a norm call, where the call passes it."""
        if not isinstance(call, cst.Call) or call not in self.positions or unpacks_arguments(call):
            return None
        signature = self.analyzer.norm_signatures.get(id(call))
        if signature is None:
            return None
        new_call = set_parameter(call, signature.parameters, signature.axis, integer(feature_axis))
        if by_division and signature.keepdim:
            new_call = set_parameter(new_call, signature.parameters, signature.keepdim, cst.Name("True"))
        text = self.render_in_place(call, new_call)
        return Fix(title, (self.replace(call, self.fitted(call, text)),), safe=True) if text is not None else None

    # ----- helpers

    def replace(self, node: cst.CSTNode, text: str) -> TextEdit:
        where = self.positions[node]
        return TextEdit((where.start.line, where.start.column), (where.end.line, where.end.column), text)

    def fitted(self, node: cst.CSTNode, text: str) -> str:
        """The text that replaces ``node``, split if it would make its line too long.

        A line that was already too long is the user's choice and keeps its layout.
        """
        where = self.positions[node]
        line = self.lines[where.start.line - 1]
        limit = self.analyzer.line_length
        if where.start.line != where.end.line or len(line) > limit:
            return text
        indent = line[: len(line) - len(line.lstrip())]
        return fit_call(line[: where.start.column], text, line[where.end.column:], indent, limit)

    def source_of(self, node: cst.CSTNode) -> str:
        where = self.positions[node]
        first, last = where.start.line - 1, where.end.line - 1
        if first == last:
            return self.lines[first][where.start.column: where.end.column]
        middle = self.lines[first + 1: last]
        return "\n".join([self.lines[first][where.start.column:], *middle, self.lines[last][: where.end.column]])

    def render_in_place(self, original: cst.CSTNode, new: cst.CSTNode) -> Optional[str]:
        """``new`` rendered as ``original`` is written: libcst leaves the enclosing block's
        indentation off continuation lines, so put back what the source has there."""
        source = self.source_of(original)
        plain = self.analyzer.module.code_for_node(original)
        indent = ""
        for written, rendered in zip(source.split("\n")[1:], plain.split("\n")[1:]):
            if written != rendered:
                indent = written[: len(written) - len(rendered)]
                break
        if render(self.analyzer.module, original, indent) != source:
            return None
        return render(self.analyzer.module, new, indent)

    def module_reference(self, library: str, site_line: int) -> Optional[Tuple[str, List[TextEdit]]]:
        """How a fix at ``site_line`` writes the library's module, and the import edit it needs."""
        if self.names is None:
            self.names = FileNames.of(self.analyzer.source) or FileNames(star_import=True)
        module, preferred = facts.FIX_MODULES[library]
        reference = self.names.reference(module, preferred)
        if reference is None:
            return None
        name, import_line = reference
        return name, ([self.import_edit(import_line, site_line)] if import_line else [])

    def import_edit(self, import_line: str, site_line: int) -> TextEdit:
        """Add an import after the last top-level import above the fix, else at the top."""
        body = self.analyzer.module.body
        anchor: Optional[cst.CSTNode] = None
        for index, statement in enumerate(body):
            # only simple statements are located here: a def's position costs a full pass
            if not (is_import(statement) or (index == 0 and is_docstring(statement))):
                continue
            if statement not in self.positions or self.positions[statement].start.line >= site_line:
                break
            anchor = statement
        if anchor is not None:
            end_line = self.positions[anchor].end.line
            end = (end_line, len(self.lines[end_line - 1]))
            return TextEdit(end, end, "\n" + import_line)
        # the first statement; a bare ``pass`` may stand for a notebook's magic line
        first = next((statement for statement in body if not is_pass(statement)), None)
        line = self.first_line_of(first) if first is not None else None
        if first is None or line is None:
            return TextEdit((1, 0), (1, 0), import_line + "\n")
        start = (line, 0)
        # two blank lines before a top-level def or class (E302)
        gap = "\n\n\n" if isinstance(first, (cst.FunctionDef, cst.ClassDef)) else "\n"
        return TextEdit(start, start, import_line + gap)

    def first_line_of(self, statement: cst.CSTNode) -> Optional[int]:
        """The line a top-level statement starts on (its decorators included)."""
        module = self.analyzer.module
        if module.body and statement is module.body[0]:
            # counted from the module's header: no position pass needed
            line = 1 + len(module.header) + len(getattr(statement, "leading_lines", ()))
            text = self.lines[line - 1].strip() if line <= len(self.lines) else ""
            if text and not text.startswith("#"):
                return line
        return self.positions[statement].start.line if statement in self.positions else None


def is_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def is_pass(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(isinstance(s, cst.Pass) for s in statement.body)


def is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def render(module: cst.Module, node: cst.CSTNode, indent: str) -> str:
    """A node's code with ``indent`` as the enclosing block's indentation."""
    state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline)
    if indent:
        state.indent_tokens.append(indent)
    node._codegen(state)
    return "".join(state.tokens)


def integer(value: int) -> cst.BaseExpression:
    """An integer literal node, built directly (parse_expression costs a parse each)."""
    if value < 0:
        return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer(str(-value)))
    return cst.Integer(str(value))


def set_parameter(call: cst.Call, parameters: Sequence[str], name: str, new_value: cst.BaseExpression) -> cst.Call:
    """A copy of ``call`` that passes ``new_value`` for parameter ``name``.

    The argument already there is edited in place, positional or keyword; a missing one is
    added as a keyword, which can't collide: a positional one would have been found.
    """
    existing = find_parameter(call, parameters, name)
    if existing is not None:
        args = [arg.with_changes(value=new_value) if arg is existing else arg for arg in call.args]
        return call.with_changes(args=args)
    new_arg = cst.Arg(
        value=new_value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    args = list(call.args)
    if args:
        # The new argument ends the list as the last one did (a trailing comma stays), and
        # follows it with the separator the call already uses (one per line stays so).
        new_arg = new_arg.with_changes(comma=args[-1].comma, whitespace_after_arg=args[-1].whitespace_after_arg)
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=argument_separator(call)), whitespace_after_arg=cst.SimpleWhitespace("")
        )
    return call.with_changes(args=[*args, new_arg])


def argument_separator(call: cst.Call) -> cst.BaseParenthesizableWhitespace:
    """The whitespace after the commas between a call's arguments."""
    if len(call.args) >= 2 and isinstance(call.args[-2].comma, cst.Comma):
        return call.args[-2].comma.whitespace_after
    if isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        return call.whitespace_before_args  # the first argument on its own line
    return cst.SimpleWhitespace(" ")
