"""A pre-filter on Python's ``ast``: a module where no encoder output can reach a similarity op or
a normalization has no finding, and needs no libcst parse.

It follows every value that could carry encoder output, by name and regardless of order or
scope: local and global names, attribute names, the parameters and returns of the module's own
functions. That is a superset of the flows the engine (``clip_lint/engine/``) follows, so a
module it rejects has no finding, and a module it keeps is analysed exactly as before. Its
vocabulary comes from ``clip_lint/facts.py``.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple

from clip_lint import facts
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.speedups import enabled

_DEFAULT_OPTIONS = AnalysisOptions()


def _last(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def _names_in_facts() -> FrozenSet[str]:
    """Every function, method, class and field name the tables know, by last component.

    A call to one of them may pass features on (``x.float()``, ``torch.cat``); unknown calls give
    the engine an unknown value. Taking every table keeps this a superset when a table grows.
    """
    names: Set[str] = set()
    for table, value in vars(facts).items():
        if table.startswith("_") or not table.isupper():
            continue  # not a table: the module's builtins, imports and helpers
        items: Iterable[object] = ()
        if isinstance(value, str):
            items = (value,)
        elif isinstance(value, dict):
            items = list(value) + list(value.values())
        elif isinstance(value, (frozenset, set, tuple)):
            items = value
        names.update(_last(item) for item in items if isinstance(item, str) and item.replace(".", "").isidentifier())
    return frozenset(names)


def _last_names(*tables: Iterable[str]) -> FrozenSet[str]:
    return frozenset(_last(name) for table in tables for name in table)


PASSING_CALLS = _names_in_facts()
# Where the engine reports, by last name; the operators ``@`` and ``/`` are the other places.
#: Similarity ops (CLN001/CLN004) and normalizing functions (CLN002): one input that may carry
#: features is enough.
COMPARING_CALLS = _last_names(
    facts.SIMILARITY_FUNCTIONS,
    facts.SIMILARITY_METHODS,
    facts.EINSUM_FUNCTIONS,
    facts.INDEX_SINK_METHODS,
    facts.NORMALIZE_FUNCTIONS,
)
#: A division normalizes (CLN002/CLN003) only features divided by their norm: two inputs.
DIVIDING_CALLS = _last_names(facts.DIVISION_FUNCTIONS, facts.DIVISION_METHODS, facts.INPLACE_DIVISION_METHODS)
#: A sum compares (CLN001) only an elementwise product of two feature values.
SUMMING_CALLS = _last_names(facts.PRODUCT_SUM_FUNCTIONS, facts.PRODUCT_SUM_METHODS)
#: Multiplications that make such a product from two feature values.
MULTIPLYING_CALLS = frozenset(facts.SCALING_METHODS)
#: Attributes that keep what their object carries (``x.T``, ``out.pooler_output``, ``wrapper.module``).
PASSING_ATTRIBUTES = facts.PASSTHROUGH_ATTRIBUTES | facts.FEATURES_OUTPUT_FIELDS | facts.WRAPPED_MODEL_ATTRIBUTES
#: What calling an object runs: when one of these returns features, calling any object may.
CALLED_OBJECT_METHODS = frozenset({"forward", "__call__"})
#: Operators whose result carries what an operand carries; ``@`` gives a plain score.
PASSING_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
#: Operators checked after the fixed point: ``@`` compares, ``/`` may normalize, ``*`` may make a
#: product of two feature values that a sum then compares.
CHECKED_OPERATORS = (ast.MatMult, ast.Div, ast.Mult)
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: Fields that never hold code the engine runs: contexts, operators, names as strings, annotations.
_SKIPPED_FIELDS = frozenset(
    {"ctx", "op", "ops", "type_comment", "kind", "conversion", "id", "attr", "arg", "name", "asname",
     "module", "level", "names", "annotation", "returns", "type_ignores", "is_async", "simple", "tag"}
)
_CHILD_FIELDS: Dict[type, Tuple[str, ...]] = {}
_WORD = re.compile(r"[A-Za-z_]\w*")


def _child_fields(kind: type) -> Tuple[str, ...]:
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        # Scalars (a Constant's value, a pattern's attribute names) have no fields.
        every = getattr(kind, "_fields", ())
        fields = _CHILD_FIELDS[kind] = tuple(field for field in every if field not in _SKIPPED_FIELDS)
    return fields


def may_report(
    tree: ast.Module,
    options: AnalysisOptions = _DEFAULT_OPTIONS,
    project_names: Iterable[str] = (),
    project_code: Iterable[str] = (),
    handing: Iterable[str] = (),
) -> bool:
    """False only when no value that may hold encoder output reaches a similarity op or a norm.

    ``project_names`` are functions of other modules known to return, normalize or compare
    features: each counts as a source, a pass-through and a sink.

    ``project_code`` are names bound to other project modules' code (functions, classes,
    modules) that may compare or normalize what they are given, but never hand features over.
    Everything reached from one of them (an object it builds, a method or attribute of it, a
    parameter or attribute that holds one, a function that returns one) is project code too,
    and a call into project code passes its inputs through and may report on them.

    ``handing`` are those of ``project_code`` that may hand features over (the project gate's
    answer): everything reached from one of them, the same way, may also be features.
    """
    if not enabled("prefilter"):
        return True
    try:
        flows = _Flows(tree, options, frozenset(project_names), frozenset(project_code), frozenset(handing))
        return flows.may_report()
    except Exception:  # a bug here must cost time, never a finding: let the engine decide
        return True


class _Flows:
    """The module's flows, collected in one walk, then followed to a fixed point."""

    def __init__(
        self,
        tree: ast.Module,
        options: AnalysisOptions,
        project_names: FrozenSet[str],
        project_code: FrozenSet[str] = frozenset(),
        handing: FrozenSet[str] = frozenset(),
    ) -> None:
        self.sources = facts.ENCODER_METHODS | frozenset(options.extra_encoders)
        self.project_names = project_names
        #: Names (and ".attr" for attributes) that may hold project code; grown to a fixed point.
        self.project_code: Set[str] = set(project_code) | handing  # what may hand features may compare too
        self.project_returning: Set[str] = set()  # the module's functions that may return project code
        #: The part of ``project_code`` reached from names that may hand features over, the same way.
        self.handing: Set[str] = set(handing)
        self.handing_returning: Set[str] = set()
        self.annotated: List[Tuple[str, ast.AST]] = []  # (parameter, annotation) of the module's functions
        self.normalizers = frozenset(_last(name) for name in options.extra_normalizers)
        self.passing = PASSING_CALLS | self.normalizers | project_names
        self.comparing = COMPARING_CALLS | project_names
        self.aliases: Dict[str, Set[str]] = {}
        self.assignments: List[Tuple[ast.AST, ast.AST]] = []  # (target, value)
        self.returns: List[Tuple[str, ast.AST]] = []  # (function name, value)
        self.calls: List[ast.Call] = []
        self.sinks: List[ast.AST] = []
        self.definitions: Dict[str, List[Tuple[List[str], int]]] = {}  # name -> (parameters, offset)
        self.carrying: Set[str] = set()  # names, and ".attr" for attributes
        self.returning: Set[str] = set()
        self.names_of: Dict[int, Tuple[str, ...]] = {}
        # An encoder method or embedding field read anywhere: without one, nothing carries features.
        self.source_attributes = self.sources | facts.EMBEDDING_FIELDS | project_names
        self.has_source = False
        #: Parameters of lambdas: a lambda held as a value may be called with anything.
        self.lambda_parameters: Set[str] = set()
        #: The module's classes whose objects are called (``forward`` / ``__call__``), by name.
        self.called_classes: Dict[str, Set[str]] = {}
        self._collect(tree.body)

    # --- collection ---------------------------------------------------------------------------

    def _collect(self, body: List[ast.stmt], function: Optional[str] = None) -> None:
        """One walk over ``body``; each function's body is walked on its own, to know its returns.

        What the engine never runs is skipped: decorators, defaults, annotations, class bases
        and lambda bodies.
        """
        stack: List[ast.AST] = list(body)
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is ast.Name or kind is ast.Constant:
                continue
            if kind is ast.Attribute:
                self.has_source = self.has_source or node.attr in self.source_attributes  # type: ignore[attr-defined]
                stack.append(node.value)  # type: ignore[attr-defined]
                continue
            if kind is ast.Call:
                self.calls.append(node)  # type: ignore[arg-type]
            elif kind is ast.BinOp:
                if isinstance(node.op, CHECKED_OPERATORS):  # type: ignore[attr-defined]
                    self.sinks.append(node)
            elif kind is ast.Assign:
                self.assignments.extend((target, node.value) for target in node.targets)  # type: ignore[attr-defined]
            elif kind is ast.AnnAssign or kind is ast.NamedExpr:
                if node.value is not None:  # type: ignore[attr-defined]
                    self.assignments.append((node.target, node.value))  # type: ignore[attr-defined]
            elif kind is ast.AugAssign:
                if isinstance(node.op, PASSING_OPERATORS):  # type: ignore[attr-defined]
                    self.assignments.append((node.target, node.value))  # type: ignore[attr-defined]
                if isinstance(node.op, CHECKED_OPERATORS):  # type: ignore[attr-defined]
                    self.sinks.append(node)
            elif kind is ast.For or kind is ast.AsyncFor or kind is ast.comprehension:
                self.assignments.append((node.target, node.iter))  # type: ignore[attr-defined]
            elif kind is ast.Return:
                if node.value is not None and function is not None:  # type: ignore[attr-defined]
                    self.returns.append((function, node.value))  # type: ignore[attr-defined]
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                self._define(node, in_class=False)
                self._collect(node.body, node.name)  # type: ignore[attr-defined]
                continue
            elif kind is ast.ClassDef:
                methods = {s.name for s in node.body if isinstance(s, DEFINITIONS)}  # type: ignore[attr-defined]
                if methods & CALLED_OBJECT_METHODS:
                    self.called_classes[node.name] = methods & CALLED_OBJECT_METHODS  # type: ignore[attr-defined]
                for statement in node.body:  # type: ignore[attr-defined]
                    if isinstance(statement, DEFINITIONS):
                        self._define(statement, in_class=True)
                        self._collect(statement.body, statement.name)
                    else:
                        stack.append(statement)
                continue
            elif kind is ast.Lambda:
                # The engine runs a lambda's body where it is called, with what the call gives.
                arguments = node.args  # type: ignore[attr-defined]
                every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                self.lambda_parameters.update(a.arg for a in every)
                stack.append(node.body)  # type: ignore[attr-defined]
                continue
            elif kind is ast.Import or kind is ast.ImportFrom:
                for alias in node.names:  # type: ignore[attr-defined]
                    if alias.asname is not None:
                        self.aliases.setdefault(alias.asname, set()).add(_last(alias.name))
                continue
            for field in _CHILD_FIELDS.get(kind) or _child_fields(kind):
                child = getattr(node, field)
                if type(child) is list:
                    stack.extend(child)
                elif child is not None:
                    stack.append(child)

    def _define(self, node: ast.AST, in_class: bool) -> None:
        arguments = node.args  # type: ignore[attr-defined]
        parameters = [a.arg for a in arguments.posonlyargs + arguments.args]
        if arguments.vararg is not None:
            parameters.append(arguments.vararg.arg)
        parameters.extend(a.arg for a in arguments.kwonlyargs)
        if arguments.kwarg is not None:
            parameters.append(arguments.kwarg.arg)
        if self.project_code:  # ``model: DualEncoder`` gives the parameter an object of that class
            every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            self.annotated.extend((a.arg, a.annotation) for a in every if a.annotation is not None)
        # A method is inlined at ``self.method(...)``: its first parameter is the receiver.
        offset = 1 if in_class else 0
        self.definitions.setdefault(node.name, []).append((parameters, offset))  # type: ignore[attr-defined]

    # --- the fixed point ------------------------------------------------------------------------

    def may_report(self) -> bool:
        self.names_of = {id(call): self._callee_names(call) for call in self.calls}
        if not self.has_source and not self.handing and not any(
            name in self.project_names for names in self.names_of.values() for name in names
        ):
            return False
        if self.project_code:
            self._follow_project_code()
        if self.handing:
            self._follow_project_code(self.handing, self.handing_returning)
        if self.has_source:
            self.carrying |= self.lambda_parameters
        following = [
            call
            for call in self.calls
            if any(name in self.definitions for name in self.names_of[id(call)])
            or (isinstance(call.func, ast.Attribute) and call.func.attr in facts.CONTAINER_ADD_METHODS)
        ]
        changed = True
        while changed:
            changed = False
            for target, value in self.assignments:
                if self.carries(value):
                    changed |= self._mark_target(target)
            for function, value in self.returns:
                if function not in self.returning and self.carries(value):
                    self.returning.add(function)
                    changed = True
            for call in following:
                changed |= self._follow_call(call)
        products = any(self._multiplies(node) for node in self.sinks) or any(
            self._multiplies_call(call) for call in self.calls
        )
        return any(self._reports(node) for node in self.sinks) or any(
            self._reports_call(call, products) for call in self.calls
        )

    # --- what may hold project code -------------------------------------------------------------

    def _follow_project_code(self, marks: Optional[Set[str]] = None, returning: Optional[Set[str]] = None) -> None:
        """Grow ``project_code`` (or ``marks``, with the functions in ``returning`` that return
        what they hold) to a fixed point: assignments, returns, arguments, annotations."""
        marks = self.project_code if marks is None else marks
        returning = self.project_returning if returning is None else returning
        for parameter, annotation in self.annotated:
            if any(isinstance(n, ast.Name) and n.id in marks for n in ast.walk(annotation)) or (
                isinstance(annotation, ast.Constant)
                and isinstance(annotation.value, str)
                and any(word in marks for word in _WORD.findall(annotation.value))
            ):
                marks.add(parameter)
        changed = True
        while changed:
            changed = False
            for target, value in self.assignments:
                if self._reached(value, marks, returning):
                    changed |= self._mark_target(target, marks)
            for function, value in self.returns:
                if function not in returning and self._reached(value, marks, returning):
                    returning.add(function)
                    changed = True
            for call in self.calls:
                for parameter, argument in self.bound_arguments(call):
                    if parameter not in marks and self._reached(argument, marks, returning):
                        marks.add(parameter)
                        changed = True

    def is_project_code(self, node: ast.AST) -> bool:
        """Whether an expression may be (or give) project code: a name bound to it, its attribute,
        what calling it returns, an element of a container of it."""
        return self._reached(node, self.project_code, self.project_returning)

    def _reached(self, node: ast.AST, marks: Set[str], returning: Set[str]) -> bool:
        """Whether an expression may be (or give) what the names in ``marks`` hold."""
        kind = type(node)
        if kind is ast.Name:
            return node.id in marks  # type: ignore[attr-defined]

        def reached(inner: ast.AST) -> bool:
            return self._reached(inner, marks, returning)

        if kind is ast.Attribute:
            return "." + node.attr in marks or reached(node.value)  # type: ignore[attr-defined]
        if kind is ast.Call:
            if any(name in returning for name in self.callee_names(node)):  # type: ignore[arg-type]
                return True
            return reached(node.func)  # type: ignore[attr-defined]
        if kind in (ast.Subscript, ast.Starred, ast.Await, ast.NamedExpr):
            return reached(node.value)  # type: ignore[attr-defined]
        if kind is ast.IfExp:
            return reached(node.body) or reached(node.orelse)  # type: ignore[attr-defined]
        if kind in (ast.Tuple, ast.List, ast.Set):
            return any(map(reached, node.elts))  # type: ignore[attr-defined]
        if kind is ast.Dict:
            return any(v is not None and reached(v) for v in node.values)  # type: ignore[attr-defined]
        if kind in (ast.ListComp, ast.SetComp, ast.GeneratorExp):
            return reached(node.elt)  # type: ignore[attr-defined]
        if kind is ast.DictComp:
            return reached(node.value)  # type: ignore[attr-defined]
        if kind is ast.BoolOp:
            return any(map(reached, node.values))  # type: ignore[attr-defined]
        return False

    def _calls_project_code(self, call: ast.Call) -> bool:
        return bool(self.project_code) and self.is_project_code(call.func)

    def _mark(self, key: str, marks: Optional[Set[str]] = None) -> bool:
        marks = self.carrying if marks is None else marks
        if key in marks:
            return False
        marks.add(key)
        return True

    def _mark_target(self, target: ast.AST, marks: Optional[Set[str]] = None) -> bool:
        """Mark what an assignment binds (in ``carrying`` unless ``marks`` is given)."""
        kind = type(target)
        if kind is ast.Name:
            return self._mark(target.id, marks)  # type: ignore[attr-defined]
        if kind is ast.Attribute:
            return self._mark("." + target.attr, marks)  # type: ignore[attr-defined]
        if kind is ast.Subscript or kind is ast.Starred:
            return self._mark_target(target.value, marks)  # type: ignore[attr-defined]
        if kind is ast.Tuple or kind is ast.List:
            changed = False
            for element in target.elts:  # type: ignore[attr-defined]
                changed |= self._mark_target(element, marks)
            return changed
        return False

    def _follow_call(self, call: ast.Call) -> bool:
        """Arguments into the parameters of the module's functions; list.append into the list."""
        changed = False
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in facts.CONTAINER_ADD_METHODS:
            if any(self.carries(argument) for argument in call.args):
                changed |= self._mark_target(func.value)
        for parameter, argument in self.bound_arguments(call):
            if parameter not in self.carrying and self.carries(argument):
                changed |= self._mark(parameter)
        return changed

    def bound_arguments(self, call: ast.Call) -> Iterator[Tuple[str, ast.AST]]:
        """(parameter, argument) for a call of the module's own functions, by name."""
        positional = [argument for argument in call.args if not isinstance(argument, ast.Starred)]
        for name in self.callee_names(call):
            for parameters, offset in self.definitions.get(name, ()):
                # The engine binds the positional arguments that are not starred, in order.
                yield from zip(parameters[offset:], positional)
                for keyword in call.keywords:
                    if keyword.arg in parameters:
                        yield keyword.arg, keyword.value

    def callee_names(self, call: ast.Call) -> Tuple[str, ...]:
        names = self.names_of.get(id(call))
        return self._callee_names(call) if names is None else names

    def _callee_names(self, call: ast.Call) -> Tuple[str, ...]:
        """The called name, and what an import alias of it names (``l2n`` for ``normalize``)."""
        func = call.func
        if isinstance(func, ast.Attribute):
            return (func.attr,)
        if isinstance(func, ast.Name):
            aliases = self.aliases.get(func.id)
            return (func.id, *aliases) if aliases else (func.id,)
        return ()

    # --- what an expression may carry ---------------------------------------------------------

    def carries(self, node: ast.AST) -> bool:
        kind = type(node)
        if self.handing and (kind is ast.Name or kind is ast.Attribute or kind is ast.Call):
            if self._reached(node, self.handing, self.handing_returning):
                return True  # what project code that may hand features over gives
        if kind is ast.Name:
            name = node.id  # type: ignore[attr-defined]
            # a function that returns features, kept as a value (``{"image": pictures}``), gives them when called
            return name in self.carrying or name in self.returning or self._calling_gives(name)
        if kind is ast.Attribute:
            attr = node.attr  # type: ignore[attr-defined]
            # an encoder method read as a value (``embed = model.encode_image``) gives features when
            # called, and so does a bound method of the module's own that returns them, read from
            # an object (``embed = TOWERS.images``); ``self.name`` is the object's own method or
            # property, which the analysis follows where it is called
            if attr in facts.EMBEDDING_FIELDS or attr in self.sources or "." + attr in self.carrying:
                return True
            if attr in self.returning and not _is_self(node.value):  # type: ignore[attr-defined]
                return True
            return attr in PASSING_ATTRIBUTES and self.carries(node.value)  # type: ignore[attr-defined]
        if kind is ast.Call:
            return self._call_carries(node)  # type: ignore[arg-type]
        if kind is ast.Subscript or kind is ast.Starred or kind is ast.NamedExpr or kind is ast.Await:
            return self.carries(node.value)  # type: ignore[attr-defined]
        if kind is ast.BinOp:
            return isinstance(node.op, PASSING_OPERATORS) and (  # type: ignore[attr-defined]
                self.carries(node.left) or self.carries(node.right)  # type: ignore[attr-defined]
            )
        if kind is ast.UnaryOp:
            return isinstance(node.op, ast.USub) and self.carries(node.operand)  # type: ignore[attr-defined]
        if kind is ast.IfExp:
            return self.carries(node.body) or self.carries(node.orelse)  # type: ignore[attr-defined]
        if kind is ast.Tuple or kind is ast.List or kind is ast.Set:
            return any(self.carries(element) for element in node.elts)  # type: ignore[attr-defined]
        if kind is ast.Dict:  # ``added_cond_kwargs={"image_embeds": embeds}``
            return any(self.carries(value) for value in node.values)  # type: ignore[attr-defined]
        if kind is ast.ListComp or kind is ast.SetComp or kind is ast.GeneratorExp:
            return self.carries(node.elt)  # type: ignore[attr-defined]
        if kind is ast.DictComp:
            return self.carries(node.value)  # type: ignore[attr-defined]
        if kind is ast.Lambda:
            return self.carries(node.body)  # type: ignore[attr-defined]
        return False

    def _calling_gives(self, name: str) -> bool:
        """Whether calling an object of the module's class ``name`` may give features (its forward does)."""
        called = self.called_classes.get(name)
        return bool(called and called & self.returning)

    def _call_carries(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in self.sources:
            return True
        names = self.callee_names(call)
        if any(name in self.returning or name in self.project_names for name in names):
            return True
        if not isinstance(func, ast.Attribute) and self.carries(func):
            return True  # a callable held as a value that gives features: a bound encoder, a lambda
        if isinstance(func, ast.Attribute) and "." + func.attr in self.carrying:
            return True
        if any(self.called_classes.get(name, set()) & self.returning for name in names):
            return True  # an object whose forward gives features: calling it (a name it is bound to) does too
        if not any(
            name in self.passing
            or facts.NORMALIZING_NAME_FRAGMENT in name.lower()
            or facts.OUTPUT_RECORD_NAME_FRAGMENT in name  # an output record keeps what its fields are given
            for name in names
        ):
            if not self._calls_project_code(call):
                return False
        return self._inputs_carry(call)

    def _inputs_carry(self, call: ast.Call) -> bool:
        return self._carrying_inputs(call, enough=1) >= 1

    def _carrying_inputs(self, call: ast.Call, enough: int) -> int:
        """How many of the receiver and arguments may carry features (counting up to ``enough``)."""
        func = call.func
        inputs = [func.value] if isinstance(func, ast.Attribute) else []
        inputs += call.args
        inputs += [keyword.value for keyword in call.keywords]
        count = 0
        for node in inputs:
            if self.carries(node):
                count += 1
                if count >= enough:
                    break
        return count

    # --- where findings are reported ------------------------------------------------------------

    def _operands(self, node: ast.AST) -> Tuple[ast.AST, ast.AST]:
        if isinstance(node, ast.BinOp):
            return node.left, node.right
        return node.target, node.value  # type: ignore[attr-defined]

    def _multiplies(self, node: ast.AST) -> bool:
        """A product of two values that may both be features (the engine's PRODUCT)."""
        if not isinstance(node.op, ast.Mult):  # type: ignore[attr-defined]
            return False
        left, right = self._operands(node)
        return self.carries(left) and self.carries(right)

    def _multiplies_call(self, call: ast.Call) -> bool:
        names = self.callee_names(call)
        return any(name in MULTIPLYING_CALLS for name in names) and self._carrying_inputs(call, enough=2) >= 2

    def _reports(self, node: ast.AST) -> bool:
        left, right = self._operands(node)
        operator = node.op  # type: ignore[attr-defined]
        if isinstance(operator, ast.MatMult):
            return self.carries(left) or self.carries(right)
        if isinstance(operator, ast.Div):  # features divided by a norm of features
            return self.carries(left) and self.carries(right)
        return False

    def _reports_call(self, call: ast.Call, products: bool) -> bool:
        if self.handing and self._reached(call.func, self.handing, self.handing_returning):
            # Code that may hand features over may also normalize or compare the features it makes
            # itself: the engine reports that at the call, whatever the call hands it.
            return True
        names = self.callee_names(call)
        if any(name in self.comparing for name in names) or self._calls_project_code(call):
            return self._inputs_carry(call)
        if any(name in DIVIDING_CALLS for name in names):
            return self._carrying_inputs(call, enough=2) >= 2
        if products and any(name in SUMMING_CALLS for name in names):
            return self._inputs_carry(call)
        return False


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")
