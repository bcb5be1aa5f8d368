"""The generic flow analysis: follow what each value is through a module's code.

The engine walks a libcst tree statement by statement, keeping for every name an
abstract ``Value`` (raw features, unit features, pooled unit features, a norm, ...). It
reads every domain fact from ``facts.py``; front ends call ``analyze_source``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import libcst as cst

from clip_lint import facts, shapes
from clip_lint.findings import Finding
from clip_lint.locator import children_in_source_order
from clip_lint.options import AnalysisOptions
from clip_lint.slicing import slice_source
from clip_lint.states import (
    ANY_AXIS,
    BOTTOM,
    UNKNOWN,
    Binding,
    Kind,
    Origin,
    Value,
    merge,
    merge_envs,
)

MAX_INLINE_DEPTH = 3
LOOP_PASSES = 2
DEFAULT_OPTIONS = AnalysisOptions()


@dataclass
class Pending:
    """A finding before positions are known (positions cost real time: resolved once)."""

    code: str
    node: cst.CSTNode
    subject: Value
    name: str
    op: str = ""
    detail: str = ""
    fix_plan: Optional[tuple] = None


@dataclass
class Frame:
    """The state of one running scope."""

    env: Dict[str, Value]
    returns: List[Value] = field(default_factory=list)
    inplace: Set[str] = field(default_factory=set)
    class_info: Optional["ClassInfo"] = None


@dataclass
class ClassInfo:
    methods: Dict[str, cst.FunctionDef]
    attrs: Dict[str, Value] = field(default_factory=dict)


def passes_gate(source: str, options: AnalysisOptions = DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding."""
    return any(word in source for word in facts.GATE_WORDS) or any(
        word in source for word in options.extra_encoders
    )


def analyze_source(
    source: str,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    *,
    use_gate: bool = True,
    tree: Optional[ast.Module] = None,
) -> List[Finding]:
    """Check one module's source. Never raises: failures become a CLN900 finding.

    ``tree`` is the module's ``ast``, when the caller has it (flake8 does); it lets the
    engine skip the definitions that can't matter before the libcst parse.
    """
    if use_gate and not passes_gate(source, options):
        return []
    syntax_error: Optional[SyntaxError] = None
    if tree is None:
        tree, syntax_error = _parse_ast(source)
    text = source
    if tree is not None:
        sliced = slice_source(source, tree, options.extra_encoders)
        if sliced is None:
            return []
        if sliced is not source:
            text, tree = sliced, None  # the tree no longer matches the text
    # Where ast fails, libcst may still parse it (newer syntax than this Python's).
    try:
        module = cst.parse_module(text)
    except Exception as error:  # ParserSyntaxError, RecursionError, and a few others on odd input
        return [_parse_failure(error, syntax_error)]
    try:
        return Analyzer(module, options, text, tree).run()
    except RecursionError:
        return [_cannot_analyse("the code nests too deeply to analyse")]
    except Exception as error:  # never crash the host linter
        return [_cannot_analyse(f"internal error {type(error).__name__}: {error}")]


def _parse_ast(source: str) -> Tuple[Optional[ast.Module], Optional[SyntaxError]]:
    try:
        return ast.parse(source), None
    except SyntaxError as error:
        return None, error
    except (ValueError, RecursionError, MemoryError):
        return None, None


def _parse_failure(error: Exception, syntax_error: Optional[SyntaxError]) -> Finding:
    """CLN900 for a module libcst can't parse, at the line Python's own parser names."""
    if isinstance(error, cst.ParserSyntaxError):
        reason = f"libcst cannot parse it: {error.message}"
        line, col = error.raw_line, error.raw_column
    else:
        reason = f"libcst cannot parse it: {type(error).__name__}"
        line, col = 1, 0
    if syntax_error is not None and syntax_error.lineno:
        line, col = syntax_error.lineno, max((syntax_error.offset or 1) - 1, 0)
    return _cannot_analyse(reason, line, col)


def _cannot_analyse(reason: str, line: int = 1, col: int = 0) -> Finding:
    from clip_lint.rules import format_message

    return Finding("CLN900", max(line, 1), max(col, 0), format_message("CLN900", reason=reason))


# --- small syntax helpers -----------------------------------------------------------


def dotted_name(node: cst.CSTNode) -> Optional[str]:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def literal_int(node: Optional[cst.CSTNode]) -> Optional[int]:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_int(node.expression)
        return -inner if inner is not None else None
    return None


def literal_bool(node: Optional[cst.CSTNode]) -> Optional[bool]:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


def literal_float(node: Optional[cst.CSTNode]) -> Optional[float]:
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    return None


def literal_string(node: Optional[cst.CSTNode]) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def find_arg(call: cst.Call, position: Optional[int], keywords: Sequence[str]) -> Optional[cst.Arg]:
    """The argument at a position (counting positional ones) or with one of the keywords."""
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg
    if position is not None and 0 <= position < len(positional):
        return positional[position]
    return None


def axis_of(arg: Optional[cst.Arg]) -> object:
    """The axis an argument names: an int, None (no argument), or ANY_AXIS."""
    if arg is None:
        return None
    if isinstance(arg.value, cst.Name) and arg.value.value == "None":
        return None
    value = literal_int(arg.value)
    if value is not None:
        return value
    if isinstance(arg.value, (cst.Tuple, cst.List)):
        return ANY_AXIS
    return ANY_AXIS


def last_component(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def is_none(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


# --- the analyzer -------------------------------------------------------------------


class Analyzer:
    """Runs one module. Create one per module; call ``run()`` once."""

    def __init__(
        self,
        module: cst.Module,
        options: AnalysisOptions = DEFAULT_OPTIONS,
        text: Optional[str] = None,
        tree: Optional[ast.Module] = None,
    ) -> None:
        self.module = module
        self.text = module.code if text is None else text
        self.tree = tree
        self.encoders = facts.ENCODER_METHODS | frozenset(options.extra_encoders)
        self.extra_normalizers = frozenset(options.extra_normalizers)
        self.aliases: Dict[str, str] = dict(facts.DEFAULT_ALIASES)
        self.imported: Dict[str, str] = {}
        self.functions: Dict[str, cst.FunctionDef] = {}
        self.classes: Dict[str, ClassInfo] = {}
        self.pending: Dict[Tuple[str, int], Pending] = {}
        self.deferred: Dict[int, Tuple[cst.CSTNode, Pending, str]] = {}
        self.escaped: Set[Binding] = set()  # the objects themselves: an id() can be reused once freed
        self.mute = 0
        self.call_stack: List[Tuple[cst.FunctionDef, cst.Call]] = []
        self.current_line: Optional[cst.CSTNode] = None
        self.module_frame = Frame(env={})
        # The top-level statement being run, and where each node a report may locate lives:
        # the locator then indexes only those statements.
        self.top_statement: Optional[cst.CSTNode] = None
        self.top_of_definition: Dict[int, cst.CSTNode] = {}
        self.top_of_node: Dict[int, cst.CSTNode] = {}

    # ----- driver

    def run(self) -> List[Finding]:
        self.collect_definitions(self.module.body)
        for statement in self.module.body:
            self.top_statement = statement
            self.run_statement(statement, self.module_frame)
        self.settle_deferred()
        if not self.pending:
            return []
        from clip_lint.positions import build_findings

        return build_findings(self, list(self.pending.values()))

    def collect_definitions(self, body: Sequence[cst.CSTNode]) -> None:
        for statement in body:
            if isinstance(statement, cst.FunctionDef):
                self.functions[statement.name.value] = statement
                self.top_of_definition[id(statement)] = statement
            elif isinstance(statement, cst.ClassDef):
                methods = {
                    item.name.value: item
                    for item in statement.body.body
                    if isinstance(item, cst.FunctionDef)
                }
                self.classes[statement.name.value] = ClassInfo(methods)
                for method in methods.values():
                    self.top_of_definition[id(method)] = statement

    def settle_deferred(self) -> None:
        """Sink findings inside called helpers move to the call site, unless reported there."""
        direct = {key[1] for key in self.pending}
        for call_id, (call, pending, function_name) in self.deferred.items():
            if id(pending.node) in direct:
                continue
            moved = Pending(
                pending.code,
                call,
                pending.subject,
                pending.name,
                op=f"{pending.op}' in '{function_name}()",
                fix_plan=pending.fix_plan,
            )
            self.pending.setdefault(("sink", call_id), moved)

    # ----- reporting

    def remember(self, node: Optional[cst.CSTNode]) -> None:
        """Note the top-level statement a node lives in, for the locator."""
        if node is not None and self.top_statement is not None:
            self.top_of_node.setdefault(id(node), self.top_statement)

    def report(self, pending: Pending) -> None:
        if self.mute:
            return
        self.remember(pending.node)
        if pending.fix_plan and pending.fix_plan[0] == "fix-norm":
            self.remember(pending.fix_plan[1])
        is_sink = pending.code in ("CLN001", "CLN004")
        if is_sink and self.call_stack:
            function, call = self.call_stack[0]
            self.deferred.setdefault(id(call), (call, pending, function.name.value))
            return
        key = ("sink" if is_sink else pending.code, id(pending.node))
        self.pending.setdefault(key, pending)

    def describe(self, expression: cst.CSTNode, value: Value) -> str:
        if value.binding is not None:
            return value.binding.target
        base = expression
        while True:
            if isinstance(base, cst.Attribute) and base.attr.value in facts.PASSTHROUGH_ATTRIBUTES:
                base = base.value
            elif (
                isinstance(base, cst.Call)
                and isinstance(base.func, cst.Attribute)
                and base.func.attr.value in facts.PASSTHROUGH_METHODS
            ):
                base = base.func.value
            else:
                break
        text = " ".join(self.module.code_for_node(base).split())
        return text if len(text) <= 60 else text[:57] + "..."

    # ----- statements

    def run_block(self, body: object, frame: Frame) -> None:
        if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            statements: Sequence[cst.CSTNode] = body.body
            if isinstance(body, cst.SimpleStatementSuite):
                self.current_line = None
                for small in statements:
                    self.run_small(small, frame)
                return
        else:
            statements = body  # type: ignore[assignment]
        for statement in statements:
            self.run_statement(statement, frame)

    def run_statement(self, statement: cst.CSTNode, frame: Frame) -> None:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
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
        if isinstance(small, cst.Assign):
            value = self.eval(small.value, frame)
            for target in small.targets:
                self.assign(target.target, value, frame)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.assign(small.target, self.eval(small.value, frame), frame)
        elif isinstance(small, cst.AugAssign):
            self.run_augassign(small, frame)
        elif isinstance(small, cst.Expr):
            self.eval(small.value, frame)
        elif isinstance(small, cst.Return):
            value = self.eval(small.value, frame) if small.value is not None else UNKNOWN
            self.note_escape(value)
            frame.returns.append(value)
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
            else:
                head = full.split(".")[0]
                self.bind_alias(head, head)

    def run_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        base = dotted_name(node.module)
        if base is None:
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.bind_alias(local, f"{base}.{name}")

    def bind_alias(self, local: str, full: str) -> None:
        self.aliases[local] = full
        self.imported[local] = full

    def run_If(self, node: cst.If, frame: Frame) -> None:
        self.eval(node.test, frame)
        before = dict(frame.env)
        self.run_block(node.body, frame)
        after_body = frame.env
        frame.env = before
        if node.orelse is not None:
            if isinstance(node.orelse, cst.If):
                self.run_If(node.orelse, frame)
            else:
                self.run_block(node.orelse.body, frame)
        frame.env = merge_envs(after_body, frame.env)

    def run_loop(self, frame: Frame, body: object, bind_target) -> None:
        """Run a loop body until the states settle (two passes), reporting on the last."""
        entry = dict(frame.env)
        for loop_pass in range(LOOP_PASSES):
            last = loop_pass == LOOP_PASSES - 1
            if not last:
                self.mute += 1
            try:
                bind_target()
                self.run_block(body, frame)
            finally:
                if not last:
                    self.mute -= 1
            frame.env = merge_envs(entry, frame.env)

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
            frame.env = merge_envs(entry, merged)
            self.run_block(handler.body, frame)
            merged = merge_envs(merged, frame.env)
        frame.env = merged
        if getattr(node, "finalbody", None) is not None:
            self.run_block(node.finalbody.body, frame)

    run_TryStar = run_Try

    def run_Match(self, node: cst.CSTNode, frame: Frame) -> None:
        self.eval(node.subject, frame)
        entry = dict(frame.env)
        merged: Optional[Dict[str, Value]] = None
        for case in node.cases:
            frame.env = dict(entry)
            self.run_block(case.body, frame)
            merged = frame.env if merged is None else merge_envs(merged, frame.env)
        frame.env = merge_envs(entry, merged or {})

    def run_FunctionDef(self, node: cst.FunctionDef, frame: Frame) -> None:
        if self.top_statement is not None:
            self.top_of_definition.setdefault(id(node), self.top_statement)
        if frame is not self.module_frame and frame.class_info is None:
            self.functions.setdefault(node.name.value, node)
        self.run_function(node, self.global_env(frame), class_info=frame.class_info)
        frame.env[node.name.value] = UNKNOWN

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
                final = self.run_function(method, self.global_env(frame), class_info=info)
                for key, value in final.env.items():
                    if key.startswith("self."):
                        info.attrs[key] = merge(info.attrs.get(key, BOTTOM), value)
        finally:
            self.mute -= 1
        for method in info.methods.values():
            self.run_function(method, self.global_env(frame), class_info=info)

    def global_env(self, frame: Frame) -> Dict[str, Value]:
        return dict(self.module_frame.env)

    def run_function(
        self,
        node: cst.FunctionDef,
        env: Dict[str, Value],
        class_info: Optional[ClassInfo] = None,
        bound: Optional[Dict[str, Value]] = None,
    ) -> Frame:
        frame = Frame(env=env, class_info=class_info)
        if class_info is not None:
            frame.env.update(class_info.attrs)
        for param in self.parameter_names(node):
            frame.env[param] = (bound or {}).get(param, UNKNOWN)
        saved_line = self.current_line
        self.run_block(node.body, frame)
        self.current_line = saved_line
        return frame

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

    # ----- assignment

    def assign(self, target: cst.CSTNode, value: Value, frame: Frame) -> None:
        if isinstance(target, (cst.Name, cst.Attribute)):
            key = dotted_name(target)
            if key is None:
                self.eval(target, frame)
                return
            frame.env[key] = self.bound(value, key)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if value.kind is Kind.TUPLE and len(value.parts) == len(elements):
                parts: Sequence[Value] = value.parts
            elif value.kind is Kind.CONTAINER:
                parts = [value.parts[0]] * len(elements)
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
        if value.kind in (Kind.RAW, Kind.POOLED) and isinstance(self.current_line, cst.SimpleStatementLine):
            self.remember(self.current_line)
            return value.but(binding=Binding(key, self.current_line, value.feature_axis))
        if value.is_feature:
            return value.but(binding=None)
        return value

    def assign_item(self, target: cst.Subscript, value: Value, frame: Frame) -> None:
        key = dotted_name(target.value)
        for element in target.slice:
            self.visit_children(element, frame)
        if key is None:
            return
        container = frame.env.get(key, UNKNOWN)
        if container.kind is Kind.CONTAINER:
            frame.env[key] = container.but(parts=(merge(container.parts[0], value),))

    # ----- expressions

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
            if isinstance(child, cst.BaseExpression):
                self.eval(child, frame)
            elif isinstance(child, cst.BaseSuite):
                self.run_block(child, frame)
            elif isinstance(child, (cst.BaseCompoundStatement, cst.SimpleStatementLine)):
                self.run_statement(child, frame)
            else:
                self.visit_children(child, frame)

    def eval_Name(self, node: cst.Name, frame: Frame) -> Value:
        if node.value == "None":
            return BOTTOM
        return frame.env.get(node.value, UNKNOWN)

    def eval_Attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        key = dotted_name(node)
        if key is not None and key in frame.env:
            return frame.env[key]
        base = self.eval(node.value, frame)
        attr = node.attr.value
        if attr in facts.PASSTHROUGH_ATTRIBUTES and (base.is_feature or base.kind is Kind.PARAMETER):
            return self.transposed(base, attr, None)
        if base.kind is Kind.OUTPUT and attr in facts.EMBEDDING_FIELDS:
            if base.tag == "projection":
                self.remember(node)
                return Value(Kind.RAW, rank=2, origin=Origin(attr, node))
            return Value(Kind.UNIT, rank=2)
        if base.kind is Kind.RAW and base.tag == "output-object" and attr in facts.FEATURES_OUTPUT_FIELDS:
            return base.but(tag="", rank=2)
        if attr in facts.PARAMETER_ATTRIBUTES:
            return Value(Kind.PARAMETER)
        return UNKNOWN

    def eval_Subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.eval(node.value, frame)
        for element in node.slice:
            self.visit_children(element, frame)
        if base.kind is Kind.CONTAINER:
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
        shape = self.indexed_shape((base.rank, base.feature_axis), node.slice)
        if shape is None:
            return UNKNOWN  # an integer index into the feature axis: a column, not features
        return base.but(rank=shape[0], feature_axis=shape[1])

    @staticmethod
    def indexed_shape(shape: shapes.Shape, elements: Sequence[cst.SubscriptElement]) -> Optional[shapes.Shape]:
        axis = 0
        for element in elements:
            index = element.slice
            if isinstance(index, cst.Slice):
                axis += 1
            elif is_none(index.value):
                shape = shapes.insert_axis(shape, axis)
                axis += 1
            elif literal_int(index.value) is not None:
                removed = shapes.remove_axis(shape, axis)
                if removed is None:
                    return None
                shape = removed
            else:
                return None, shape[1]  # a tensor or ellipsis index: the rank is unknown
        return shape

    def eval_NamedExpr(self, node: cst.NamedExpr, frame: Frame) -> Value:
        value = self.eval(node.value, frame)
        self.assign(node.target, value, frame)
        return value

    def eval_Tuple(self, node: cst.Tuple, frame: Frame) -> Value:
        return Value(Kind.TUPLE, parts=tuple(self.eval_element(e, frame) for e in node.elements))

    def eval_List(self, node: cst.List, frame: Frame) -> Value:
        element = BOTTOM
        for item in node.elements:
            element = merge(element, self.eval_element(item, frame))
        return Value(Kind.CONTAINER, parts=(element,))

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
            self.eval(node.value, inner)
            return UNKNOWN
        return Value(Kind.CONTAINER, parts=(self.eval(node.elt, inner),))

    eval_ListComp = eval_comprehension
    eval_GeneratorExp = eval_comprehension
    eval_SetComp = eval_comprehension
    eval_DictComp = eval_comprehension

    def eval_IfExp(self, node: cst.IfExp, frame: Frame) -> Value:
        self.eval(node.test, frame)
        return merge(self.eval(node.body, frame), self.eval(node.orelse, frame))

    def eval_Lambda(self, node: cst.Lambda, frame: Frame) -> Value:
        return UNKNOWN

    def eval_Await(self, node: cst.Await, frame: Frame) -> Value:
        return self.eval(node.expression, frame)

    def element_of(self, value: Value) -> Value:
        """What iterating over a value gives."""
        if value.kind is Kind.CONTAINER:
            return value.parts[0]
        if value.kind is Kind.TUPLE:
            element = BOTTOM
            for part in value.parts:
                element = merge(element, part)
            return element
        if value.is_feature and value.rank is not None and value.rank >= 2:
            shape = shapes.remove_axis((value.rank, value.feature_axis), 0)
            if shape is not None:
                return value.but(rank=shape[0], feature_axis=shape[1], binding=None)
        return UNKNOWN

    # ----- operators

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
            return self.multiply(left, right)
        if isinstance(operator, (cst.Add, cst.Subtract, cst.AddAssign, cst.SubtractAssign)):
            return self.add(left, right)
        if isinstance(operator, (cst.Power, cst.PowerAssign)):
            return self.power(left, literal_float(right_expr))
        return UNKNOWN

    def eval_UnaryOperation(self, node: cst.UnaryOperation, frame: Frame) -> Value:
        value = self.eval(node.expression, frame)
        if isinstance(node.operator, cst.Minus) and value.is_feature:
            return value
        return UNKNOWN

    def divide(self, left: Value, right: Value, node: cst.CSTNode, left_expr: cst.CSTNode) -> Value:
        if right.kind is Kind.NORM and right.tag == "norm":
            return self.normalize(left, right.axis, right.keepdim, node, left_expr, right.norm_call, True)
        if left.is_feature and not right.is_feature and right.kind is not Kind.NORM:
            return left
        return UNKNOWN

    @staticmethod
    def multiply(left: Value, right: Value) -> Value:
        if left.is_feature and right.is_feature:
            if left.binding is not None and left.binding is right.binding:
                return Value(Kind.NORM, tag="squares", parts=(left,), rank=left.rank)
            return Value(Kind.PRODUCT, parts=(left, right), rank=left.rank)
        if left.is_feature and right.kind is not Kind.NORM:
            return left
        if right.is_feature and left.kind is not Kind.NORM:
            return right
        if left.kind is Kind.NORM and right.kind is Kind.UNKNOWN:
            return left
        return UNKNOWN

    @staticmethod
    def add(left: Value, right: Value) -> Value:
        if left.is_feature and right.is_feature:
            kinds = {left.kind, right.kind}
            if Kind.RAW in kinds:
                return left if left.kind is Kind.RAW else right
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
            return Value(Kind.NORM, tag="squares", parts=(base,), rank=base.rank)
        if base.kind is Kind.NORM and base.tag == "sum-of-squares" and exponent == 0.5:
            return base.but(tag="norm")
        return UNKNOWN

    # ----- calls

    def eval_Call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        name = dotted_name(func)
        qualified = self.qualify(name) if name is not None else None
        if qualified is not None and self.is_known_function(qualified):
            args = self.eval_args(node, frame)
            return self.call_function(qualified, node, args, frame)
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
            receiver = self.eval(func.value, frame)
            args = self.eval_args(node, frame)
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
        assert isinstance(node.func, cst.Attribute)
        self.eval(node.func.value, frame)
        self.eval_args(node, frame)
        normalize = find_arg(node, None, (facts.NORMALIZE_KEYWORD,))
        origin = Origin(method, node)
        self.remember(node)
        if normalize is not None and literal_bool(normalize.value) is True:
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

    def norm_method(self, norm: Value, method: str, node: cst.Call) -> Value:
        if method in facts.PRODUCT_SUM_METHODS:
            return self.sum_of_squares(norm, node, find_arg(node, 0, facts.AXIS_KEYWORDS))
        if norm.tag == "sum-of-squares" and method in facts.SQRT_METHODS:
            return norm.but(tag="norm")
        if norm.tag == "sum-of-squares" and method in facts.POW_METHODS:
            exponent = find_arg(node, 0, facts.EXPONENT_KEYWORDS)
            return self.power(norm, literal_float(exponent.value) if exponent else None)
        if method in facts.NORM_PASSTHROUGH_METHODS:
            return norm
        if method in facts.NORM_KEEPDIM_METHODS or method in facts.RESHAPE_METHODS:
            return norm.but(keepdim=True)
        return UNKNOWN

    @staticmethod
    def sum_of_squares(squares: Value, node: cst.Call, axis_arg: Optional[cst.Arg]) -> Value:
        if squares.tag != "squares":
            return UNKNOWN
        keepdim = find_arg(node, None, facts.KEEPDIM_KEYWORDS)
        return squares.but(
            tag="sum-of-squares",
            axis=axis_of(axis_arg),
            keepdim=bool(keepdim and literal_bool(keepdim.value)),
            norm_call=node,
        )

    def square_root(self, value: Value) -> Value:
        if value.kind is Kind.NORM and value.tag == "sum-of-squares":
            return value.but(tag="norm")
        return UNKNOWN

    def call_unknown(self, name: Optional[str], node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> Value:
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

    def callee_text(self, node: cst.Call) -> str:
        return " ".join(self.module.code_for_node(node.func).split())

    # ----- normalization

    def make_norm(
        self, value: Value, node: cst.Call, signature: facts.NormSignature, receiver_is_input: bool
    ) -> Value:
        if not value.is_feature:
            return UNKNOWN
        axis_arg = find_arg(node, signature.axis_position - (1 if receiver_is_input else 0), signature.axis_keywords)
        keep_arg = find_arg(
            node, signature.keepdim_position - (1 if receiver_is_input else 0), (signature.keepdim_keyword,)
        )
        keepdim = bool(keep_arg is not None and literal_bool(keep_arg.value))
        if keep_arg is not None and literal_bool(keep_arg.value) is None:
            keepdim = True  # a variable: trust it
        return Value(
            Kind.NORM,
            tag="norm",
            parts=(value,),
            rank=value.rank,
            axis=axis_of(axis_arg),
            keepdim=keepdim,
            library=signature.library,
            norm_call=node,
        )

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
        if value.kind not in (Kind.RAW, Kind.POOLED, Kind.UNIT):
            return UNKNOWN
        problem = self.axis_problem(value.rank, value.feature_axis, axis)
        code = "CLN002" if problem else ""
        if not code and by_division and axis is not None and not keepdim and (value.rank or 0) >= 2:
            code = "CLN003"
        if code:
            fix = ("fix-norm", norm_call, value.feature_axis, by_division) if norm_call is not None else None
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

    def call_normalize_function(
        self, signature: facts.NormalizeSignature, node: cst.Call, value: Value, args: list
    ) -> Value:
        axis_arg = find_arg(node, signature.axis_position, (signature.axis_keyword,))
        axis = axis_of(axis_arg) if axis_arg is not None else signature.default_axis
        if axis_arg is None and value.rank is None:
            axis = value.feature_axis  # the default axis can't be judged without the rank
        value_expr = args[0][0].value if args else node
        return self.normalize(value, axis, True, node, value_expr, node, False)

    def normalize_in_place(self, expression: cst.CSTNode, value: Value, frame: Frame) -> None:
        key = dotted_name(expression)
        if key is None or value.kind not in (Kind.RAW, Kind.POOLED):
            return
        frame.env[key] = value.but(kind=Kind.UNIT)
        frame.inplace.add(key)

    # ----- pooling and joining

    def reduce(self, value: Value, axis_arg: Optional[cst.Arg], keep_arg: Optional[cst.Arg]) -> Value:
        if value.kind not in (Kind.RAW, Kind.UNIT, Kind.POOLED):
            return UNKNOWN
        axis = axis_of(axis_arg)
        if axis is None or axis is ANY_AXIS:
            return UNKNOWN
        assert isinstance(axis, int)
        shape = shapes.remove_axis((value.rank, value.feature_axis), axis)
        if shape is None:
            return UNKNOWN  # reduced over the features themselves
        if keep_arg is not None and literal_bool(keep_arg.value) is True:
            shape = (value.rank, value.feature_axis)
        kind = Kind.RAW if value.kind is Kind.RAW else Kind.POOLED
        return value.but(kind=kind, rank=shape[0], feature_axis=shape[1], binding=None)

    def combine(self, container: Value, rank_change: Optional[int], library: str, axis: int = 0) -> Value:
        if container.is_feature:
            return container.but(library=library, binding=None)  # np.array(tensor) keeps the shape
        element = self.element_of(container) if container.kind in (Kind.CONTAINER, Kind.TUPLE) else container
        if not element.is_feature:
            return UNKNOWN
        shape = (element.rank, element.feature_axis)
        if rank_change == 1:
            shape = shapes.insert_axis(shape, axis)
        elif rank_change is None and element.rank == 1:
            shape = (2, element.feature_axis)  # vstack of vectors: one per row
        return element.but(rank=shape[0], feature_axis=shape[1], library=library, binding=None)

    # ----- sinks

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
            return ("insert-after", value.binding, value.library, value.binding.feature_axis)
        origin = value.origin
        inline = origin is not None and self.contains(expression, origin.node)
        if inline and value.kind is Kind.RAW and value.library == "torch":
            return ("wrap", origin.node)  # type: ignore[union-attr]
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

    # ----- calls into the module's own functions

    def inline(
        self,
        function: cst.FunctionDef,
        node: cst.Call,
        args: List[Tuple[cst.Arg, Value]],
        frame: Frame,
        class_info: Optional[ClassInfo],
        skip_self: bool = False,
    ) -> Value:
        if len(self.call_stack) >= MAX_INLINE_DEPTH or any(f is function for f, _ in self.call_stack):
            return UNKNOWN
        names = self.parameter_names(function)
        if skip_self and names:
            names = names[1:]
        bound: Dict[str, Value] = {}
        callers: Dict[str, cst.CSTNode] = {}
        positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
        for name, (arg, value) in zip(names, positional):
            bound[name], callers[name] = value, arg.value
        for arg, value in args:
            if arg.keyword is not None:
                bound[arg.keyword.value], callers[arg.keyword.value] = value, arg.value
        env = self.global_env(frame)
        if class_info is not None:
            env.update({k: v for k, v in frame.env.items() if k.startswith("self.")})
        self.remember(node)
        self.call_stack.append((function, node))
        caller_top = self.top_statement
        self.top_statement = self.top_of_definition.get(id(function), caller_top)
        try:
            callee = self.run_function(function, env, class_info=class_info, bound=bound)
        finally:
            self.call_stack.pop()
            self.top_statement = caller_top
        for name in callee.inplace & set(callers):
            key = dotted_name(callers[name])
            if key is not None and callee.env.get(name, UNKNOWN).kind is Kind.UNIT:
                frame.env[key] = callee.env[name].but(binding=frame.env.get(key, UNKNOWN).binding)
        if class_info is not None:
            for key, value in callee.env.items():
                if key.startswith("self."):
                    frame.env[key] = value
        result = BOTTOM
        for value in callee.returns:
            result = merge(result, value)
        if result.kind is Kind.BOTTOM:
            return UNKNOWN
        return result.but(binding=None) if result.is_feature else result


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
