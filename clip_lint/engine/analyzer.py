"""The analyzer: one object per module, composed of the stages of the analysis.

Each stage is a mixin in its own file: statements, expressions, calls, normalization,
sinks and inlining. This file holds the driver and the reporting of findings.
"""

from __future__ import annotations

import ast
import os
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine.callables import LAMBDA_NAME, Callables
from clip_lint.engine import shapes
from clip_lint.engine.calls import CallEvaluator
from clip_lint.engine.expressions import ExpressionEvaluator
from clip_lint.engine.frames import ClassInfo, Frame, Pending
from clip_lint.engine.imports import ModuleScope
from clip_lint.engine.inlining import InlineBudget, Inliner, InlineSummary
from clip_lint.engine.linking import Linker
from clip_lint.engine.normalization import Normalization
from clip_lint.engine.project_view import ProjectView
from clip_lint.engine.ranks import RANK_STEPS, RankInference
from clip_lint.engine.sinks import SinkChecker
from clip_lint.engine.statements import StatementRunner
from clip_lint.engine.syntax import literal_int
from clip_lint.engine.values import Binding, Kind, Origin, Value
from clip_lint.options import AnalysisOptions

DEFAULT_OPTIONS = AnalysisOptions()
#: Calls that a finding looks through to name the value: dtype and device moves, transposes.
NAMED_THROUGH_METHODS = facts.PASSTHROUGH_METHODS | facts.REVERSING_TRANSPOSES | facts.SWAPPING_TRANSPOSES
FOREIGN_STATEMENTS = 2_000
#: Arguments that hand a callee what makes features, not the features themselves.
HANDED_OBJECT_KINDS = frozenset({Kind.MODEL, Kind.OUTPUT, Kind.INSTANCE, Kind.CALLABLE, Kind.ONE_OF})


class Analyzer(
    StatementRunner,
    ExpressionEvaluator,
    CallEvaluator,
    Callables,
    Normalization,
    SinkChecker,
    Inliner,
    Linker,
    RankInference,
):
    """Runs one module. Create one per module; call ``run()`` once.

    With a ``project`` (a ``ProjectView``: ``clip_lint.project.modules.Project``) and the module's ``path``, calls into
    the project's other modules are followed too; ``consulted`` then names what was read.
    """

    def __init__(
        self,
        module: cst.Module,
        options: AnalysisOptions = DEFAULT_OPTIONS,
        text: Optional[str] = None,
        tree: Optional[ast.Module] = None,
        project: Optional[ProjectView] = None,
        path: Optional[str] = None,
        source: Optional[str] = None,
    ) -> None:
        self.text = module.code if text is None else text
        self.source = self.text if source is None else source  # before slicing: the names a fix must avoid
        self.tree = tree
        self.encoders = facts.ENCODER_METHODS | frozenset(options.extra_encoders)
        self.extra_normalizers = frozenset(options.extra_normalizers)
        self.line_length = options.line_length
        self.extra_encoders = tuple(options.extra_encoders)
        self.project = project
        home_path = os.path.realpath(path) if project is not None and path is not None else None
        self.home = ModuleScope(module, home_path, "", home=True, text=self.text)
        self.scope = self.home
        self.scopes: Dict[str, Optional[ModuleScope]] = {}
        self.consulted: Dict[str, Set[str]] = {}
        self.probes: Dict[object, Value] = {}  # an own encoder's body run with a call's constants: its result
        self.probing = 0
        self.output_ranks: Dict[int, Optional[int]] = {}  # an own encoder's output rank, by id() of its def
        self.class_layers: Dict[int, Dict[str, object]] = {}  # what a class's __init__ keeps, for ranks
        self.rank_steps_left = RANK_STEPS
        self.function_values: Dict[int, Value] = {}  # a function named as a value: one per def
        self.lambda_functions: Dict[int, tuple] = {}  # a lambda and the one-line def it runs as
        self.literals: Dict[str, Value] = {}  # one LITERAL value per spelling of a constant
        self.handing_syntax: Dict[int, tuple] = {}  # what may hand features in a call's arguments
        #: Statements that calls into other modules (and objects' methods) may run, of the budget.
        self.foreign_statements_left = FOREIGN_STATEMENTS
        self.pending: Dict[Tuple[str, int], Pending] = {}
        self.deferred: Dict[int, Deferred] = {}
        self.escaped: Set[Binding] = set()  # the objects themselves: an id() can be reused once freed
        self.norm_signatures: Dict[int, facts.Signature] = {}  # by id() of a norm or normalize call
        self.escape_log: List[Binding] = []  # the same, in order: a memoized call replays its part
        self.report_attempts = 0  # reports made or muted: a call that made none can be memoized
        self.inline_memo: Dict[tuple, InlineSummary] = {}
        self.mute = 0
        self.call_stack: List[Tuple[cst.FunctionDef, cst.Call]] = []
        self.current_line: Optional[cst.CSTNode] = None
        # The top-level statement being run, and where each node a report may locate lives:
        # the locator then indexes only those statements.
        self.top_statement: Optional[cst.CSTNode] = None
        self.top_of_definition: Dict[int, cst.CSTNode] = {}
        self.top_of_node: Dict[int, cst.CSTNode] = {}
        self.encoder_keys: Dict[int, Tuple[str, str]] = {}
        self.budget = InlineBudget()
        #: What the outermost call being run handed over (``Handed``), for ``handed_by_call``.
        self.handed: Optional[Handed] = None
        self.factories: Dict[Tuple[str, str], bool] = {}  # (module path, function): is it a factory
        self.project_import_names: Dict[str, FrozenSet[str]] = {}  # by module path: its project imports

    # The names of the module being run: the checked one's, or another project module's.

    @property
    def module(self) -> cst.Module:
        return self.scope.module

    @property
    def aliases(self) -> Dict[str, str]:
        return self.scope.aliases

    @property
    def imported(self) -> Dict[str, str]:
        return self.scope.imported

    @property
    def functions(self) -> Dict[str, cst.FunctionDef]:
        return self.scope.functions

    @property
    def classes(self) -> Dict[str, ClassInfo]:
        return self.scope.classes

    @property
    def module_frame(self) -> Frame:
        return self.scope.module_frame

    def run(self) -> List[Pending]:
        """Analyse the module; what it reports, before positions and fixes (``clip_lint.fix``)."""
        self.collect_definitions(self.module.body)
        self.budget.start_module()
        for statement in self.module.body:
            self.top_statement = statement
            self.budget.start_unit()
            self.run_statement(statement, self.module_frame)
        self.settle_deferred()
        return list(self.pending.values())

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
        """Sink findings inside called helpers move to the call site, unless reported there.

        One bug is reported once: calls that hand the same producer's raw features to one
        helper's comparison are one finding (at the call nearest the producer, naming the others),
        and calls that hand it different producers' features are one finding at the helper's
        comparison itself, which is where the missing normalization belongs (at the first call
        when the helper is in another module, naming it and the other calls).
        """
        direct = {key[1] for key in self.pending}
        groups: Dict[Tuple[str, int], List[Deferred]] = {}
        for entry in self.deferred.values():
            if id(entry.pending.node) in direct:
                continue
            groups.setdefault((entry.pending.code, id(entry.pending.node)), []).append(entry)
        for entries in groups.values():
            self.settle_group(entries)

    def settle_group(self, entries: List["Deferred"]) -> None:
        by_producer: Dict[int, List[Deferred]] = {}
        for entry in entries:
            origin = entry.pending.subject.origin
            by_producer.setdefault(id(origin.node) if origin is not None else id(entry.call), []).append(entry)
        nearest = [min(group, key=lambda entry: entry.depth) for group in by_producer.values()]
        first = nearest[0]
        foreign_site = first.pending.site  # set when the comparison is in another module
        if len(nearest) == 1:
            others = tuple(
                entry.call for entry in by_producer[next(iter(by_producer))]
                if entry.depth == first.depth and entry.call is not first.call
            )
            site = foreign_site if foreign_site is not None else (self.home, first.pending.node, first.helper)
            self.pending.setdefault(("sink", id(first.call)), first.at_call(site, others))
            return
        if foreign_site is not None:  # the helper's own file is not this one: the first call names it
            others = tuple(entry.call for entry in nearest[1:])
            at_first = first.pending.placed(first.call, foreign_site, calls=others, in_helper=True)
            self.pending.setdefault(("sink", id(first.call)), at_first)
            return
        pending = first.pending
        calls = tuple(entry.call for entry in nearest)
        at_helper = pending.placed(pending.node, (self.home, None, first.helper), calls=calls)
        self.pending.setdefault(("sink", id(pending.node)), at_helper)

    def remember(self, node: Optional[cst.CSTNode]) -> None:
        """Note the top-level statement a node lives in, for the locator."""
        if node is not None and self.top_statement is not None and self.scope.home:
            self.top_of_node.setdefault(id(node), self.top_statement)

    def report(self, pending: Pending) -> None:
        self.report_attempts += 1
        if self.mute:
            return
        if not self.scope.home:
            self.report_from_project(pending)
            return
        self.remember(pending.node)
        if pending.fix_plan and pending.fix_plan[0] == "fix-norm":
            self.remember(pending.fix_plan[1])
        is_sink = pending.code in ("CLN001", "CLN004")
        if is_sink and self.call_stack:
            if not self.handed_by_call(pending):
                return
            call = self.call_stack[0][1]
            helper = function_label(self.call_stack[-1][0])
            self.deferred.setdefault(id(call), Deferred(call, pending, helper, len(self.call_stack)))
            return
        key = ("sink" if is_sink else pending.code, id(pending.node))
        self.pending.setdefault(key, pending)

    def report_from_project(self, pending: Pending) -> None:
        """A finding in another module belongs to the checked module's call that led there."""
        if not self.call_stack or not self.handed_by_call(pending):
            return
        call = self.call_stack[0][1]
        helper = function_label(self.call_stack[-1][0])
        is_sink = pending.code in ("CLN001", "CLN004")
        fix_plan = pending.fix_plan if is_sink and home_edits_only(pending.fix_plan) else None
        moved = pending.placed(pending.node, (self.scope, pending.node, helper), fix_plan=fix_plan)
        self.deferred.setdefault(id(call), Deferred(call, moved, helper, len(self.call_stack)))

    def handed_by_call(self, pending: Pending) -> bool:
        """Whether a finding inside a call belongs to this module's outermost call: its features
        were made here, or handed over by that call (as features, or as the model or object that
        made them). Features made past the call from what it handed nothing are the callee's own
        finding, reported in its module (or at the call nearer to them): never up the chain."""
        handed = self.handed
        if handed is None or handed.objects:
            return True
        values = [value for _, value, _ in pending.operands] or [pending.subject]
        for value in values:
            origin = value.origin
            if origin is None or origin.scope is None or id(origin.node) in handed.origins:
                return True
        return False

    def handed_over(self, values: List[Value]) -> "Handed":
        """What a call hands over (its arguments, the state of the object it runs on, what a lambda
        closes over): the origins of the features among them, and whether a model or object."""
        handed = Handed()
        stack = [(value, 0) for value in values]
        while stack:
            value, depth = stack.pop()
            kind = value.kind
            if value.is_feature:
                if value.origin is not None:
                    handed.origins.add(id(value.origin.node))
                if value.mix is not None:
                    stack.extend((operand, depth + 1) for _, operand in value.mix.operands)
            elif kind in HANDED_OBJECT_KINDS:
                handed.objects = handed.objects or self.carries_features(value)
            if depth < 3:
                stack.extend((part, depth + 1) for part in (*value.parts, *value.items, *value.sources))
                if kind is Kind.INSTANCE:
                    state = value.instance.state  # type: ignore[union-attr]
                    stack.extend((part, depth + 1) for part in state.values())
        return handed

    def encoder_key(self, origin: Origin) -> Tuple[str, str]:
        """Which encoder made features: the model's expression and the method (or field)."""
        key = self.encoder_keys.get(id(origin.node))
        if key is None:
            node = origin.node  # model.encode_image(...) or output.image_embeds
            model = node.func if isinstance(node, cst.Call) else node
            if isinstance(model, cst.Attribute):
                model = model.value
            key = self.encoder_keys[id(origin.node)] = (self.module.code_for_node(model), origin.encoder)
        return key

    def describe(self, expression: cst.CSTNode, value: Value) -> str:
        if value.binding is not None:
            return value.binding.target
        text = " ".join(self.module.code_for_node(self.named_base(expression)).split())
        return text if len(text) <= 60 else text[:57] + "..."

    def named_feature_axis(self, expression: cst.CSTNode, value: Value) -> int:
        """The feature axis of what ``describe`` names (the value as bound, the encoder's output, the
        expression without its transposes), as a message writes it."""
        if value.binding is not None:
            return value.binding.dim
        if value.origin is not None and self.named_base(expression) is value.origin.node:
            return -1
        rank, feature_axis, _ = untransposed(expression, value.shape)
        return shapes.spelled_axis(rank, feature_axis)

    @staticmethod
    def named_base(expression: cst.CSTNode) -> cst.CSTNode:
        """An expression without the transposes and dtype/device moves around it."""
        base = expression
        while True:
            if isinstance(base, cst.Attribute) and base.attr.value in facts.PASSTHROUGH_ATTRIBUTES:
                base = base.value
            elif (
                isinstance(base, cst.Call)
                and isinstance(base.func, cst.Attribute)
                and base.func.attr.value in NAMED_THROUGH_METHODS
            ):
                base = base.func.value
            else:
                return base


class Handed:
    """What a call of the checked module hands over: the origins of the features among its
    arguments (by ``id`` of the encoder call), and whether it hands a model or object that may
    make features."""

    __slots__ = ("origins", "objects")

    def __init__(self) -> None:
        self.origins: Set[int] = set()
        self.objects = False


class Deferred:
    """A finding inside a called helper, waiting to be placed: the outermost call in the checked
    module that led there, the helper that compares, and how deep the calls went."""

    __slots__ = ("call", "pending", "helper", "depth")

    def __init__(self, call: cst.CSTNode, pending: Pending, helper: str, depth: int) -> None:
        self.call = call
        self.pending = pending
        self.helper = helper
        self.depth = depth

    def at_call(self, site: tuple, others: Tuple[cst.CSTNode, ...] = ()) -> Pending:
        """The finding at the call, naming where the comparison is (and the other calls)."""
        return self.pending.placed(self.call, site, fix_plan=self.pending.fix_plan, calls=others)


def function_label(function: cst.FunctionDef) -> str:
    """A function's name as messages write it."""
    name = function.name.value
    return "lambda" if name == LAMBDA_NAME else name


def home_edits_only(plan: Optional[tuple]) -> bool:
    """Whether a sink's fix edits only the checked module: normalizations after its own bindings.

    Bindings are made only in the checked module; a fix never edits another module.
    """
    return plan is not None and plan[0] == "all" and all(part[0] == "insert-after" for part in plan[1])


def untransposed(expression: cst.CSTNode, shape: shapes.Shape) -> shapes.Shape:
    """The shape of an expression's named base, undoing the transposes around it (each is its own
    inverse): ``img.T`` is named ``img``, whose features are where ``img``'s are."""
    layers = []
    node = expression
    while True:
        if isinstance(node, cst.Attribute) and node.attr.value in facts.PASSTHROUGH_ATTRIBUTES:
            layers.append((node.attr.value, None))
            node = node.value
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and (
            node.func.attr.value in NAMED_THROUGH_METHODS
        ):
            layers.append((node.func.attr.value, node))
            node = node.func.value
        else:
            break
    for name, call in layers:
        if name in facts.REVERSING_TRANSPOSES:
            shape = shapes.reverse_axes(shape)
        elif name in facts.LAST_TWO_TRANSPOSES:
            shape = shapes.swap_axes(shape, -1, -2)
        elif name in facts.SWAPPING_TRANSPOSES and call is not None:
            axes = [literal_int(arg.value) for arg in call.args]
            if len(axes) != 2 or None in axes:
                return shapes.unknown_rank(shape)
            shape = shapes.swap_axes(shape, axes[0], axes[1])  # type: ignore[arg-type]
    return shape
