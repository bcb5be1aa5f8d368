"""Names that lead into other modules and classes: imports, project classes and their objects.

A mixin of ``Analyzer``. It resolves an imported name to the project module that defines
it (through re-exports and ``*`` imports), runs that module's top level once (muted) for
its globals, builds objects of the project's classes by running ``__init__``, runs their
methods (``forward`` / ``__call__`` when the object is called), and decides what a
project's own encoder method returns.
"""

from __future__ import annotations

import ast
import re
from contextlib import contextmanager
from functools import partial
from typing import Callable, Dict, FrozenSet, Iterator, List, Optional, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine.callables import BoundMethod, DefinitionValue, FunctionValue, LambdaValue, PartialValue
from clip_lint.engine.frames import ClassInfo, Frame
from clip_lint.engine.imports import (
    ClassRef,
    Definitions,
    FunctionRef,
    ImportTarget,
    Instance,
    ModuleRef,
    ModuleScope,
    Reference,
    ValueRef,
)
from clip_lint.engine.syntax import dotted_name, literal_string
from clip_lint.engine.values import UNKNOWN, Kind, Origin, Value
from clip_lint.engine.locator import children_in_source_order
from clip_lint.engine.project_view import TOP_LEVEL, ModuleView
from clip_lint.prefilter.relevance import relevant_definitions

#: A ``wanted`` for lookups that only a module global's value can answer (a name read, not called).
VALUE_ONLY = "value"

#: What an instance call runs, in order of preference.
CALL_METHODS: Tuple[str, ...] = ("__call__", "forward")


#: How many deferred values in a row ``undefer`` follows (one deferred value making another).
MAX_DEFERRED_STEPS = 3


class Deferred:
    """A value of the project's that the analysis didn't follow, because nothing handed it
    features: a call (``scorer = Scorer()``), a read of an imported global (``RANKER``), or an
    attribute of such a value (``RANKER.rank``). It is made only when a call on it may hand
    features (``scorer.rank(image_features, text_features)``)."""

    __slots__ = ("func", "node", "args", "scope", "base", "attribute")

    def __init__(
        self,
        func: Optional[cst.BaseExpression],
        node: Optional[cst.CSTNode],
        scope: Optional[ModuleScope],
        args: tuple = (),
        base: Optional["Deferred"] = None,
        attribute: str = "",
    ) -> None:
        self.func = func  # what to look up again (a call's callee, a global's name)
        self.node = node  # the call (None for a read), or the attribute's node
        self.args = args
        self.scope = scope
        self.base = base
        self.attribute = attribute

    def _identity(self) -> tuple:
        # a loop evaluates the same code again: the same call node, name or attribute is the same value
        if self.base is not None:
            return ("attribute", self.base._identity(), self.attribute)
        if self.node is None:
            return ("read", dotted_name(self.func) if self.func is not None else None, id(self.scope))
        return ("call", id(self.node), id(self.scope))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deferred) and other._identity() == self._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


class Linker:
    """Follows names across modules and into the project's classes (a mixin of ``Analyzer``)."""

    # --- scopes

    @contextmanager
    def in_scope(self, scope: ModuleScope) -> Iterator[None]:
        saved = self.scope
        self.scope = scope
        try:
            yield
        finally:
            self.scope = saved

    def make_origin(self, encoder: str, node: cst.CSTNode) -> Origin:
        return Origin(encoder, node, None if self.scope.home else self.scope)

    def consult(self, path: str, name: str) -> None:
        self.consulted.setdefault(path, set()).add(name)

    def scope_of(self, path: Optional[str]) -> Optional[ModuleScope]:
        """The scope of a project module, built once per analysis (within the modules budget)."""
        if path is None or self.project is None:
            return None
        if path == self.home.path:
            return self.home
        if path in self.scopes:
            return self.scopes[path]
        if len(self.scopes) >= self.project.budgets.modules_per_file:
            return None
        loaded = self.project.load(path)
        self.consult(path, TOP_LEVEL)
        scope = foreign_scope(loaded, self.project.display(path)) if loaded is not None else None
        self.scopes[path] = scope
        if scope is not None:
            self.run_top_level(scope)
        return scope

    def run_top_level(self, scope: ModuleScope) -> None:
        """Learn a module's definitions, imports and globals; function bodies run only when called."""
        saved_top, saved_line = self.top_statement, self.current_line
        with self.in_scope(scope):
            self.collect_definitions(scope.module.body)
            self.mute += 1
            try:
                for statement in scope.module.body:
                    if not isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and not is_main_guard(statement):
                        self.run_statement(statement, scope.module_frame)
            finally:
                self.mute -= 1
        self.top_statement, self.current_line = saved_top, saved_line

    # --- imports

    def record_import(self, local: str, target: ImportTarget) -> None:
        if target.attr == "*":
            self.scope.stars.append(target)
        else:
            self.scope.imports[local] = target

    def resolve_target(
        self, scope: ModuleScope, target: ImportTarget, depth: int = 0, wanted: bool = True
    ) -> Optional[Reference]:
        if self.project is None or scope.path is None:
            return None
        if depth == 0:
            key = (target, wanted)
            if key not in scope.resolved:
                scope.resolved[key] = self.find_target(scope, target, depth, wanted)
            return scope.resolved[key]
        return self.find_target(scope, target, depth, wanted)

    def find_target(self, scope: ModuleScope, target: ImportTarget, depth: int, wanted: bool) -> Optional[Reference]:
        path = self.project.resolve(scope.path, target.module, target.level)
        if target.attr is None:
            return ModuleRef(target.module, target.level, scope.path, path)
        if path is None:
            return None
        return self.lookup_in(path, target.attr, depth + 1, wanted)

    def lookup_in(self, path: str, name: str, depth: int = 0, wanted: bool = True) -> Optional[Reference]:
        """What ``name`` is in the module at ``path``: a definition, a global, a re-export, a submodule.

        Unless ``wanted`` (the call hands over features), a module is parsed only for a name
        whose code may reach features.
        """
        if depth > self.project.budgets.import_depth:  # type: ignore[union-attr]
            return None
        if wanted is not True and path not in self.scopes:
            self.consult(path, name)
            forwarded = self.project.reexport(path, name)
            if forwarded is not None:
                return self.lookup_in(forwarded[0], forwarded[1], depth + 1, wanted)
            if wanted == VALUE_ONLY and self.project.defines(path, name):
                return None  # a function or class read, not called: nothing to follow
            if not self.project.may_matter(path, name, self.extra_encoders) and not self.is_factory(path, name):
                return self.submodule_reference(path, name)
        scope = self.scope_of(path)
        if scope is not None:
            self.consult(path, name)
            found = self.lookup_name(scope, name, depth)
            if found is not None:
                return found
        return self.submodule_reference(path, name)

    def submodule_reference(self, path: str, name: str) -> Optional[Reference]:
        sub = self.project.submodule(path, name)  # type: ignore[union-attr]
        return ModuleRef(name, 0, None, sub) if sub is not None else None

    def lookup_name(self, scope: ModuleScope, name: str, depth: int = 0) -> Optional[Reference]:
        if name in scope.functions:
            return FunctionRef(scope, scope.functions[name])
        if name in scope.classes:
            return scope.class_ref(name)
        if name in scope.imports:
            return self.resolve_target(scope, scope.imports[name], depth)
        value = scope.module_frame.env.get(name)
        if value is not None and value.kind is not Kind.UNKNOWN:
            return ValueRef(value)
        for star in scope.stars:
            found = self.star_lookup(scope, star, name, depth)
            if found is not None:
                return found
        return None

    def star_lookup(
        self, scope: ModuleScope, star: ImportTarget, name: str, depth: int, wanted: object = False
    ) -> Optional[Reference]:
        if self.project is None or scope.path is None or depth > self.project.budgets.import_depth:
            return None
        path = self.project.resolve(scope.path, star.module, star.level)
        if path is None or not self.project.mentions_name(path, name):
            return None  # a text test first: builtins and most names never reach a parse
        unwanted = wanted is not True and path not in self.scopes
        if unwanted and not self.project.may_matter(path, name, self.extra_encoders):
            return None
        source = self.scope_of(path)
        if source is None:
            return None
        exported = source.declared_all()
        if (exported is not None and name not in exported) or (exported is None and name.startswith("_")):
            return None
        self.consult(source.path, name)  # type: ignore[arg-type]
        return self.lookup_name(source, name, depth + 1)

    def reference(self, node: cst.CSTNode, frame: Frame, wanted: bool = False) -> Optional[Reference]:
        """What a name or dotted name refers to, when it leads into a project module or class.

        ``wanted``: True when the use may hand it features, so look even where the text says
        nothing; ``VALUE_ONLY`` when only a global's value can matter.
        """
        if isinstance(node, cst.Name):
            name = node.value
            if name in frame.env:
                return None
            scope = self.scope
            if name in scope.imports:
                return self.resolve_target(scope, scope.imports[name], 0, wanted)
            if name in scope.classes:
                return scope.class_ref(name)
            if not scope.home and name in scope.functions:
                return FunctionRef(scope, scope.functions[name])
            for star in scope.stars:
                found = self.star_lookup(scope, star, name, 0, wanted)
                if found is not None:
                    return found
            return None
        if isinstance(node, cst.Attribute):
            base = self.reference(node.value, frame)
            if isinstance(base, ModuleRef):
                return self.module_attribute(base, node.attr.value, wanted)
        return None

    def module_attribute(self, module: ModuleRef, name: str, wanted: bool = False) -> Optional[Reference]:
        if module.path is not None:
            found = self.lookup_in(module.path, name, 0, wanted)
            if found is not None:
                return found
        if module.importer is None or self.project is None:
            return None
        dotted = f"{module.dotted}.{name}"
        path = self.project.resolve(module.importer, dotted, module.level)
        return ModuleRef(dotted, module.level, module.importer, path) if path is not None else None

    def deferred_call(self, node: cst.Call, args: List[Tuple[cst.Arg, Value]]) -> Value:
        """UNKNOWN for a call of an imported name that wasn't followed, remembering the call."""
        if not self.names_project_code(node.func):
            return UNKNOWN
        return Value(Kind.UNKNOWN, deferred=Deferred(node.func, node, self.scope, tuple(args)))

    def deferred_read(self, expression: cst.BaseExpression) -> Value:
        """UNKNOWN for a read of an imported global that wasn't followed (``RANKER``,
        ``ops.RANKER``), remembering what to look up."""
        if not self.names_project_code(expression):
            return UNKNOWN
        return Value(Kind.UNKNOWN, deferred=Deferred(expression, None, self.scope))

    def names_project_code(self, expression: cst.BaseExpression) -> bool:
        """Whether a (dotted) name starts with an import that may lead into the project: one
        that resolves there, or a name a ``*`` import may bind. A library's (``torch.zeros``)
        has nothing of the project's to follow later."""
        if self.project is None:
            return False
        head = expression
        while type(head) is cst.Attribute:
            head = head.value  # type: ignore[attr-defined]
        if type(head) is not cst.Name:
            return False
        target = self.scope.imports.get(head.value)  # type: ignore[attr-defined]
        if target is None:
            return bool(self.scope.stars)
        return self.leads_into_project(head.value, target)  # type: ignore[attr-defined]

    def leads_into_project(self, name: str, target: ImportTarget) -> bool:
        """Whether an import of the current module resolves to a project module, once per name."""
        known = self.scope.project_heads.get(name)
        if known is None:
            path = self.scope.path
            known = path is not None and self.project.resolve(path, target.module, target.level) is not None
            self.scope.project_heads[name] = known
        return known

    def undefer(self, value: Value, node: cst.Call, frame: Frame) -> Value:
        """What a deferred value is, once ``node``, a call on it, may hand features; else
        ``value``. What it makes may be deferred in turn (a factory returning ``Scorer()``):
        followed a few steps, never more, so two deferred calls that make each other can't
        recurse without end."""
        deferred = value.deferred
        if not isinstance(deferred, Deferred) or not self.may_hand_features(node, frame):
            return value
        for _ in range(MAX_DEFERRED_STEPS):
            made = self.make_deferred(deferred, frame)
            if made is None:
                return value
            if not isinstance(made.deferred, Deferred):
                return made
            deferred = made.deferred
        return value

    def make_deferred(self, deferred: Deferred, frame: Frame) -> Optional[Value]:
        """Follow a deferred value now. A deferred call runs in a copy of the frame: it happened
        earlier, and what its arguments were then must not overwrite what they are now."""
        if deferred.base is not None:
            base = self.make_deferred(deferred.base, frame)
            if base is None:
                return None
            return self.attribute_of(base, deferred.attribute, deferred.node)  # type: ignore[attr-defined]
        with self.in_scope(deferred.scope):  # type: ignore[arg-type]
            found = self.reference(deferred.func, Frame({}), True)  # type: ignore[arg-type]
            if found is None:
                return None
            if deferred.node is None:  # a global
                return found.value if isinstance(found, ValueRef) else None
            copy = Frame(dict(frame.env))
            return self.call_reference(found, deferred.node, list(deferred.args), copy)  # type: ignore[arg-type]

    def keep_deferred(
        self, deferred: Value, node: cst.Call, frame: Frame, call: Callable[[], Optional[Value]]
    ) -> Optional[Value]:
        """``call()`` on what a deferred value made, after which the name that held the deferred
        value holds it again: the object is built anew whenever a call on it is handed features,
        so that every path and every loop iteration sees the same value (its state after the
        call is not kept)."""
        receiver = node.func.value if isinstance(node.func, cst.Attribute) else node.func
        key = dotted_name(receiver)
        result = call()
        if key is not None and key in frame.env and frame.env[key] is not deferred:
            frame.env[key] = deferred
        return result

    def imported_value(self, name: str, frame: Frame) -> Value:
        """The value of a global that an import names (``from models import VISION``); one not
        followed is remembered (``deferred_read``)."""
        if name not in self.scope.imports and not self.scope.stars:
            return UNKNOWN
        expression = cst.Name(name)
        found = self.reference(expression, frame, VALUE_ONLY)
        if isinstance(found, ValueRef):
            return found.value
        return self.deferred_read(expression) if found is None else UNKNOWN

    def class_of_annotation(self, annotation: Optional[cst.Annotation], frame: Frame) -> Optional[ClassRef]:
        """The project class a parameter or attribute annotation names (``model: DualEncoder``)."""
        if annotation is None:
            return None
        node = annotation.annotation
        text = literal_string(node)
        if text is not None:
            try:
                node = cst.parse_expression(text)
            except Exception:  # not an expression: no class
                return None
        found = self.reference(node, Frame(env={}))
        return found if isinstance(found, ClassRef) else None

    # --- calls into the project

    def may_hand_features(self, node: cst.Call, frame: Frame) -> bool:
        """Whether a call's arguments may carry features: a name bound to them, an encoder call
        or an embedding field among them (read from the syntax, without evaluating)."""
        found = self.handing_syntax.get(id(node))
        if found is None or found[0] is not node:  # the node is kept in the entry: its id stays its own
            found = self.handing_syntax[id(node)] = (node, *self.handing_syntax_of(node))
        _, static, keys = found
        if static:
            return True
        env = frame.env
        for key in keys:
            value = env.get(key)
            if value is not None and self.carries_features(value):
                return True
        return False

    def handing_syntax_of(self, node: cst.Call) -> Tuple[bool, Tuple[str, ...]]:
        """What ``may_hand_features`` reads of a call's arguments, once per call: whether the
        syntax alone may carry features, and the names whose values may."""
        keys: List[str] = []
        stack: List[cst.CSTNode] = [arg.value for arg in node.args]
        while stack:
            expression = stack.pop()
            key = dotted_name(expression)
            if key is not None:
                keys.append(key)
                if type(expression) is cst.Name:
                    continue
            if type(expression) is cst.Attribute and expression.attr.value in facts.EMBEDDING_FIELDS:
                return True, ()
            if type(expression) is cst.Call:
                func = expression.func
                if type(func) is cst.Attribute and func.attr.value in self.encoders:
                    return True, ()
                if self.may_produce_features(func):
                    return True, ()
            stack.extend(children_in_source_order(expression))
        return False, tuple(keys)

    def may_produce_features(self, func: cst.BaseExpression) -> bool:
        """Whether a called name is one of the project's that may return features (a text test)."""
        name = dotted_name(func)
        if name is None:
            return False
        head = name.partition(".")[0]
        scope = self.scope
        if head in scope.functions:
            return head in self.relevant_names(scope)
        target = scope.imports.get(head)
        return target is not None and self.leads_to_features(scope, target)

    def call_reference(
        self, found: Reference, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame
    ) -> Optional[Value]:
        """Call a project function, build an object of a project class, or call a known object."""
        if isinstance(found, FunctionRef):
            return self.inline(found.node, node, args, frame, None, scope=found.scope)
        if isinstance(found, ClassRef):
            return self.instantiate(found, node, args, frame)
        if isinstance(found, ValueRef):
            return self.call_value(found.value, node, args, frame)
        return None

    def instantiate(self, cls: ClassRef, node: cst.Call, args: List[Tuple[cst.Arg, Value]], frame: Frame) -> Value:
        """An object of a project class, its state as ``__init__`` leaves it."""
        state: Dict[str, Value] = {}
        init = cls.info.methods.get("__init__")
        if init is not None:
            outcome = self.run_inlined(init, node, args, frame, cls.info, True, cls.scope, {})
            if outcome is not None:
                self.apply_arguments(*outcome, frame)
                state = dict(outcome[0].self_attributes)
        return Value(Kind.INSTANCE, instance=Instance(cls, state))

    def call_instance(
        self,
        receiver: Value,
        method: Optional[str],
        node: cst.Call,
        args: List[Tuple[cst.Arg, Value]],
        frame: Frame,
    ) -> Optional[Value]:
        """Run a method of a project object (``None``: the object is called), updating its state."""
        instance: Instance = receiver.instance  # type: ignore[assignment]
        methods = instance.cls.info.methods
        names = CALL_METHODS if method is None else (method,)
        function = next((methods[name] for name in names if name in methods), None)
        if function is None:
            if method in facts.MODEL_PASSTHROUGH_METHODS:
                return receiver
            held = instance.state.get(f"self.{method}") if method is not None else None
            if held is not None:  # a model or a callable kept in an attribute, called
                return self.call_value(held, node, args, frame)
            return None
        outcome = self.run_inlined(function, node, args, frame, instance.cls.info, True, instance.cls.scope,
                                   dict(instance.state))
        if outcome is None:
            return UNKNOWN
        summary, callers = outcome
        self.apply_arguments(summary, callers, frame)
        state = dict(instance.state)
        state.update(summary.self_attributes)
        key = dotted_name(node.func.value) if isinstance(node.func, cst.Attribute) else dotted_name(node.func)
        if key is not None and key in frame.env:
            frame.env[key] = receiver.but(instance=Instance(instance.cls, state))
        return summary.result

    def worth_running(
        self,
        function: cst.FunctionDef,
        args: List[Tuple[cst.Arg, Value]],
        state: Optional[Dict[str, Value]],
        scope: ModuleScope,
    ) -> bool:
        """Whether a call into another module, or an object's method, can matter: it is handed
        features (or a model, an object), or its code may reach an encoder or a CLIP model."""
        values = [value for _, value in args] + list((state or {}).values())
        if any(self.carries_features(value) for value in values):
            return True
        name = function.name.value
        if name in self.relevant_names(scope):
            return True
        return state is None and scope.path is not None and self.is_factory(scope.path, name)

    # --- factories: functions whose returns build a model or an object of the project's classes

    def is_factory(self, path: str, name: str, depth: int = 0) -> bool:
        """Whether a top-level function of another module returns a model or an object of a
        project class whose code may reach features (directly, or through a local name, a
        wrapper, a branch, or another factory). An ``ast`` test on the function, never a parse:
        calling it then runs it, and the object it returns is known to its callers."""
        key = (path, name)
        found = self.factories.get(key)
        if found is None:
            self.factories[key] = False  # a cycle of factories reads as "not one"
            found = self.factories[key] = self.find_factory(path, name, depth)
        return found

    def find_factory(self, path: str, name: str, depth: int) -> bool:
        project = self.project
        if project is None or depth > project.budgets.import_depth:
            return False
        if not project.mentions_features(path, self.extra_encoders):
            return False  # nothing the module reaches names features: no object of it can matter
        loaded = project.load(path)
        found = loaded.facts() if loaded is not None else None
        if found is None or name not in found.definitions or name in found.classes:
            return False
        self.consult(path, name)
        functions = found.definitions - found.classes
        words = self.words_of_function(loaded, name)
        # what a return could build: a model class, a class, a project import or a function here
        candidates = words & (MODEL_CLASS_NAMES | found.classes | self.project_imports(path, found) | functions)
        if "return" not in words or not candidates - {name}:
            return False
        function = function_alone(loaded, name)
        if function is None:
            return False
        returned = returned_names(function)
        if returned is None:
            return False  # a library-sized builder: running it costs more than a factory may give
        for word in returned:
            if word not in candidates or word == name:
                continue
            if word in MODEL_CLASS_NAMES:
                return True
            if word in found.classes:
                if word in project.relevant_names(path, self.extra_encoders):
                    return True
            elif word in found.from_imports:
                module, level, original = found.from_imports[word]
                target = project.resolve(path, module, level)
                if target is not None and self.builds_from(target, original, depth + 1):
                    return True
            elif word in functions and self.is_factory(path, word, depth + 1):
                return True
        return False

    def project_imports(self, path: str, found: object) -> FrozenSet[str]:
        """The names a module imports (``from m import name``) from the project's own modules."""
        names = self.project_import_names.get(path)
        if names is None:
            imports = found.from_imports  # type: ignore[attr-defined]
            names = self.project_import_names[path] = frozenset(
                local for local, (module, level, _) in imports.items()
                if self.project.resolve(path, module, level) is not None  # type: ignore[union-attr]
            )
        return names

    @staticmethod
    def words_of_function(loaded: ModuleView, name: str) -> FrozenSet[str]:
        """The words of a top-level function's text (a text test before any parse)."""
        layout = loaded.layout()
        span = layout.functions.get(name) if layout is not None else None
        if span is None:
            return frozenset()
        return frozenset(WORD.findall(layout.alone(span)))  # type: ignore[union-attr]

    def builds_from(self, path: str, name: str, depth: int) -> bool:
        """Whether an imported name is a project class whose code may reach features, or a factory."""
        project = self.project
        for _ in range(project.budgets.import_depth):  # type: ignore[union-attr]
            forwarded = project.reexport(path, name)  # type: ignore[union-attr]
            if forwarded is None:
                break
            path, name = forwarded
        loaded = project.load(path)  # type: ignore[union-attr]
        found = loaded.facts() if loaded is not None else None
        if found is None or name not in found.definitions:
            return False
        if name in found.classes:
            self.consult(path, name)
            return name in project.relevant_names(path, self.extra_encoders)  # type: ignore[union-attr]
        return self.is_factory(path, name, depth)

    def carries_features(self, value: Value, depth: int = 0) -> bool:
        """Whether a value is, holds or may produce features (an object of a relevant class)."""
        kind = value.kind
        if kind is Kind.UNKNOWN or kind is Kind.LITERAL or kind is Kind.BOTTOM:
            return False
        if value.is_feature or kind in INTERESTING_KINDS:
            return True
        if depth > 2:
            return False
        if value.kind in (Kind.CONTAINER, Kind.TUPLE):
            return any(self.carries_features(part, depth + 1) for part in value.parts)
        if value.kind is Kind.INSTANCE:
            instance: Instance = value.instance  # type: ignore[assignment]
            if instance.cls.name in self.relevant_names(instance.cls.scope):
                return True
            return any(self.carries_features(v, depth + 1) for v in instance.state.values())
        if value.kind in (Kind.ONE_OF, Kind.MAPPING):
            return any(self.carries_features(part, depth + 1) for part in value.parts)
        if value.kind is Kind.CALLABLE:
            return self.callable_may_produce(value.callee, depth)
        return False

    def callable_may_produce(self, payload: object, depth: int) -> bool:
        """Whether calling a callable value may give, or compare, features."""
        if isinstance(payload, BoundMethod):
            if payload.method in self.encoders or payload.receiver is None:
                return True
            return self.carries_features(payload.receiver, depth + 1)
        if isinstance(payload, LambdaValue):
            return True
        if isinstance(payload, FunctionValue):
            return payload.function.name.value in self.relevant_names(payload.scope)  # type: ignore[arg-type]
        if isinstance(payload, PartialValue):
            return self.carries_features(payload.inner, depth + 1) or any(
                self.carries_features(value, depth + 1) for _, value in payload.args
            )
        if isinstance(payload, ClassRef):
            return payload.name in self.relevant_names(payload.scope)
        if isinstance(payload, DefinitionValue):
            return payload.name in self.relevant_names(payload.scope)  # type: ignore[arg-type]
        return False

    def relevant_names(self, scope: ModuleScope) -> FrozenSet[str]:
        """The definitions and globals of a module whose code may reach features (a text test)."""
        if scope.relevant is None:
            if self.project is not None and scope.path is not None and not scope.home:
                scope.relevant = self.project.relevant_names(scope.path, self.extra_encoders)
            else:
                leads = {local for local, target in scope.imports.items() if self.leads_to_features(scope, target)}
                tree = self.tree if scope is self.home else None  # the ast of the checked text, if unsliced
                scope.relevant = relevant_definitions(scope.text, leads, self.extra_encoders, tree)
        return scope.relevant

    def leads_to_features(self, scope: ModuleScope, target: ImportTarget) -> bool:
        if self.project is None or scope.path is None:
            return False
        path = self.project.resolve(scope.path, target.module, target.level)
        if path is None:
            return False
        sub = self.project.submodule(path, target.attr) if target.attr else None
        return self.project.mentions_features(sub or path, self.extra_encoders)

    # --- the project's own encoder methods

    def own_encoder(
        self, receiver: Optional[Value], method: str, class_info: object
    ) -> Optional[Tuple[ClassRef, cst.FunctionDef]]:
        """The project's definition of an encoder method, when the receiver's class is known
        (``receiver`` None: ``self`` of ``class_info``)."""
        if receiver is None:
            if not isinstance(class_info, ClassInfo) or method not in class_info.methods:
                return None
            ref = next((r for r in self.class_refs_of(class_info)), None)
            return (ref, class_info.methods[method]) if ref is not None else None
        if receiver.kind is not Kind.INSTANCE:
            return None
        cls: ClassRef = receiver.instance.cls  # type: ignore[union-attr]
        function = cls.info.methods.get(method)
        return (cls, function) if function is not None else None

    def class_refs_of(self, info: object) -> Iterator[ClassRef]:
        for scope in [self.scope, self.home, *[s for s in self.scopes.values() if s is not None]]:
            known = scope.classes.made() if isinstance(scope.classes, Definitions) else scope.classes.items()
            for name, candidate in known:
                if candidate is info:
                    yield scope.class_ref(name)  # type: ignore[misc]

    def own_encoder_value(
        self,
        own: Tuple[ClassRef, cst.FunctionDef],
        receiver: Optional[Value],
        args: List[Tuple[cst.Arg, Value]],
        origin: Origin,
        method: str,
    ) -> Value:
        """What a call of the project's own encoder method gives, judged from its body with the
        call's constant arguments: unit when every path normalizes, neither (silent) when only
        some do, else raw features of the rank its body makes."""
        cls, function = own
        state = receiver.instance.state if receiver is not None else cls.info.attrs  # type: ignore[union-attr]
        probed = self.probe_encoder(cls, function, args, state)
        if probed.kind in (Kind.MAPPING, Kind.TUPLE):  # an output record, a tuple: its features come from here
            parts = tuple(part.but(origin=origin, binding=None) if part.is_feature else part for part in probed.parts)
            return probed.but(parts=parts, packed=None)
        rank = self.encoder_output_rank(cls, function)
        if probed.kind is Kind.UNIT:
            return Value(Kind.UNIT, rank=rank, origin=origin)
        if probed.kind is Kind.EITHER:
            return Value(Kind.EITHER, rank=rank, origin=origin)
        model = "output-object" if method in facts.OUTPUT_OBJECT_ENCODERS else ""
        return Value(Kind.RAW, rank=rank, origin=origin, tag=model)

    def probe_encoder(
        self, cls: ClassRef, function: cst.FunctionDef, args: List[Tuple[cst.Arg, Value]], state: Dict[str, Value]
    ) -> Value:
        """Run an encoder method's body muted, every unknown call and input taken as raw features,
        with the call's constants and objects and the object's state: what it returns."""
        probe_args = [(arg, value if value.kind in PROBE_KEPT_KINDS else PROBED_INPUT) for arg, value in args]
        key: Optional[tuple] = (
            function,
            frozenset(state.items()),
            tuple((arg.keyword.value if arg.keyword else None, arg.star, value) for arg, value in probe_args),
        )
        try:
            hash(key)
        except TypeError:  # an unhashable value: probe without memo
            key = None
        if key is not None and key in self.probes:
            return self.probes[key]
        if key is not None:
            self.probes[key] = PROBED_INPUT  # a recursive probe reads as "not unit"
        self.mute += 1
        self.probing += 1
        try:
            outcome = self.run_inlined(
                function, None, probe_args, Frame(env={}), cls.info, True, cls.scope, dict(state)
            )
        finally:
            self.mute -= 1
            self.probing -= 1
        result = outcome[0].result if outcome is not None else PROBED_INPUT
        if key is not None:
            self.probes[key] = result
        return result


#: Model classes a factory may build (``from_pretrained`` and the like): their callers know them.
MODEL_CLASS_NAMES = facts.PROJECTION_MODEL_CLASSES | facts.NORMALIZING_MODEL_CLASSES
WORD = re.compile(r"[A-Za-z_]\w*")


def function_alone(loaded: ModuleView, name: str) -> Optional[ast.FunctionDef]:
    """A top-level function's ``ast``, parsed from its own text alone."""
    layout = loaded.layout()
    span = layout.functions.get(name) if layout is not None else None
    if span is None:
        return None
    try:
        body = ast.parse(layout.alone(span)).body  # type: ignore[union-attr]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return body[0] if len(body) == 1 and isinstance(body[0], ast.FunctionDef) else None


def returned_names(function: ast.FunctionDef) -> Optional[List[str]]:
    """The names a function's returns are made of: those in its ``return`` expressions, and what
    the local names among them were assigned from (``model = Dual(w)``, ``model = torch.jit.script(model)``).
    Only statements are walked, never the expressions of the rest of the body. None for a body
    of more than ``FACTORY_STATEMENTS`` statements."""
    pending: List[ast.expr] = []
    assignments: Dict[str, List[ast.expr]] = {}
    statements: List[ast.stmt] = list(function.body)
    count = 0
    while statements:
        statement = statements.pop()
        count += 1
        if count > FACTORY_STATEMENTS:
            return None
        kind = type(statement)
        if kind is ast.Return:
            if statement.value is not None:  # type: ignore[attr-defined]
                pending.append(statement.value)  # type: ignore[attr-defined]
        elif kind is ast.Assign or kind is ast.AnnAssign:
            value = statement.value  # type: ignore[attr-defined]
            targets = statement.targets if kind is ast.Assign else [statement.target]  # type: ignore[attr-defined]
            for target in targets if value is not None else ():
                for element in ast.walk(target):
                    if type(element) is ast.Name:
                        assignments.setdefault(element.id, []).append(value)
        elif kind not in NESTED_SCOPES:
            for field in STATEMENT_FIELDS:
                statements.extend(getattr(statement, field, ()))
            for handler in getattr(statement, "handlers", ()):
                statements.extend(handler.body)
            for case in getattr(statement, "cases", ()):
                statements.extend(case.body)
    returned: List[str] = []
    seen = set()
    while pending:
        for element in ast.walk(pending.pop()):
            if type(element) is ast.Name and element.id not in seen:
                seen.add(element.id)
                returned.append(element.id)
                pending.extend(assignments.get(element.id, ()))
    return returned


#: The most statements a factory followed without features may have (a project's ``make_model``
#: has a few; a library's ``create_model`` hundreds, and its callers would run them all).
FACTORY_STATEMENTS = 60
#: The fields of a compound statement that hold statements; and those whose returns are not the function's.
STATEMENT_FIELDS = ("body", "orelse", "finalbody")
NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


#: Arguments an encoder probe keeps as the call gave them; any other is taken as raw features.
PROBE_KEPT_KINDS = frozenset({Kind.LITERAL, Kind.BOTTOM, Kind.MODEL, Kind.INSTANCE, Kind.CALLABLE, Kind.ONE_OF})
PROBED_INPUT = Value(Kind.RAW)


INTERESTING_KINDS = frozenset({Kind.MODEL, Kind.OUTPUT, Kind.NORM, Kind.PRODUCT, Kind.IP_INDEX})


def foreign_scope(loaded: ModuleView, display: str) -> Optional[ModuleScope]:
    """Another project module's scope: its top level parsed now, each definition when first looked up."""
    if not loaded.parse or loaded.text is None:
        return None  # over the size budget, or unreadable: it contributes nothing
    layout = loaded.layout()
    if layout is None:  # Python's parser fails; libcst may know newer syntax
        whole = loaded.cst
        return ModuleScope(whole, loaded.path, display, home=False, text=loaded.text) if whole is not None else None
    skeleton = loaded.skeleton()
    if skeleton is None:
        return None  # libcst can't parse its top level: it contributes nothing
    scope = ModuleScope(skeleton, loaded.path, display, home=False, text=loaded.text)

    def function(span: Tuple[int, int], method: bool = False) -> Optional[cst.FunctionDef]:
        node = loaded.method(span) if method else loaded.definition(span)
        if not isinstance(node, cst.FunctionDef):
            return None
        scope.parts.append(loaded.part(span, method))
        return node

    def cls(span: Tuple[int, int]) -> Optional[ClassInfo]:
        # Only a class's methods run when the analysis follows another module's class.
        spans = layout.methods.get(span)
        if spans is not None:
            return ClassInfo(Definitions({name: partial(function, within, True) for name, within in spans.items()}))
        node = loaded.definition(span)  # a method shares a line with the header: the class at once
        if not isinstance(node, cst.ClassDef):
            return None
        scope.parts.append(loaded.part(span, False))
        return ClassInfo({item.name.value: item for item in node.body.body if isinstance(item, cst.FunctionDef)})

    scope.functions = Definitions({name: partial(function, span) for name, span in layout.functions.items()})
    scope.classes = Definitions({name: partial(cls, span) for name, span in layout.classes.items()})
    return scope


def is_main_guard(statement: cst.CSTNode) -> bool:
    """``if __name__ == "__main__":``: a script's body, which an import does not run."""
    if not isinstance(statement, cst.If) or not isinstance(statement.test, cst.Comparison):
        return False
    left = statement.test.left
    return isinstance(left, cst.Name) and left.value == "__name__"
