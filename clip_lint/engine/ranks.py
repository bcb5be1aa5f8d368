"""The rank of what a project's own encoder method returns, read from its body.

Vendored CLIP forks often return every token (``[B, 1 + N, D]``) instead of one vector per
input, and normalizing those over ``dim=1`` normalizes over the tokens. This mixin of
``Analyzer`` follows the number of axes through the encoder's body and the project modules it
calls: ``reshape`` / ``view`` / ``permute`` with literal arity, ``flatten(start)``, indexing,
``cat`` / ``stack``, ``@ proj``, broadcasting, and layers that keep, add to, or tuple the rank
of their input (``clip_lint/facts.py``). A rank it can't follow is None: unknown, and silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine.frames import Frame
from clip_lint.engine.locator import children_in_source_order
from clip_lint.engine.syntax import constant_of, dotted_name, is_none, literal_int, last_component, NOT_A_CONSTANT

#: How many expressions one module's rank questions may evaluate in all; past it, ranks are unknown.
RANK_STEPS = 40_000
#: How deep layers inside layers are followed.
MAX_DEPTH = 8


@dataclass(frozen=True)
class Layer:
    """A submodule, as far as ranks go: ``keep``, ``add`` (one axis more), ``tuple`` (a tuple whose
    first item keeps the rank), ``sequence`` (``parts`` in order), ``list`` (a ModuleList of
    ``parts``, run in a loop), ``class`` (a project module, ``cls``), ``one-of`` (``parts``)."""

    kind: str
    parts: Tuple["Layer", ...] = ()
    cls: object = None


KEEP = Layer("keep")
#: An abstract value here: an int (a tensor's rank), None (unknown), a Layer, or a tuple of them.
RankValue = object


class RankInference:
    """Infers an encoder method's output rank (a mixin of ``Analyzer``)."""

    def encoder_output_rank(self, cls: object, function: cst.FunctionDef) -> Optional[int]:
        """The rank an own encoder method returns, or None when its body doesn't show it."""
        key = id(function)
        if key not in self.output_ranks:
            self.output_ranks[key] = None
            run = RankRun(self, cls)
            found = run.call_function(function, [None] * len(positional_names(function, True)), 0)
            self.output_ranks[key] = found if isinstance(found, int) else None
        return self.output_ranks[key]


class RankRun:
    """One question about ranks: a body, the layers its class holds, and a shared step budget."""

    def __init__(self, analyzer: RankInference, cls: object) -> None:
        self.analyzer = analyzer
        self.cls = cls
        self.memo: Dict[tuple, RankValue] = {}

    # --- functions and classes

    def call_function(self, function: cst.FunctionDef, args: Sequence[RankValue], depth: int,
                      cls: object = None) -> RankValue:
        cls = cls if cls is not None else self.cls
        key = (id(function), id(cls), tuple(args))
        if key in self.memo:
            return self.memo[key]
        if depth > MAX_DEPTH or not self.spend():
            return None
        self.memo[key] = None  # a recursive call reads as unknown
        env: Dict[str, RankValue] = dict(zip(positional_names(function, True), args))
        returns: List[RankValue] = []
        with self.analyzer.in_scope(getattr(cls, "scope", self.analyzer.scope)):
            self.run_block(function.body.body, env, returns, depth, cls)
        result = agree(returns) if returns else None
        self.memo[key] = result
        return result

    def class_layers(self, cls: object) -> Dict[str, RankValue]:
        """What ``__init__`` keeps in each ``self.<attr>``: a layer, or a tensor's rank."""
        cache = self.analyzer.class_layers
        key = id(cls)
        if key not in cache:
            cache[key] = {}
            init = self.method_of(cls, "__init__")
            if init is not None:
                with self.analyzer.in_scope(cls.scope):  # type: ignore[attr-defined]
                    found: Dict[str, List[RankValue]] = {}
                    for target, value in self_assignments(init.body):
                        if not is_none(value):
                            found.setdefault(target, []).append(self.describe(value, 0))
                    cache[key] = {name: agree(values) for name, values in found.items()}
        return cache[key]

    def method_of(self, cls: object, name: str, depth: int = 0) -> Optional[cst.FunctionDef]:
        """A class's method, or one it inherits from a base class of the same module."""
        if cls is None or depth > MAX_DEPTH:
            return None
        found = cls.info.methods.get(name)  # type: ignore[attr-defined]
        if found is not None:
            return found
        scope = cls.scope  # type: ignore[attr-defined]
        definition = next((s for s in scope.module.body if isinstance(s, cst.ClassDef) and s.name.value == cls.name),
                          None)  # type: ignore[attr-defined]
        for base in definition.bases if definition is not None else ():
            base_name = dotted_name(base.value)
            base_ref = scope.class_ref(base_name) if base_name is not None and base_name in scope.classes else None
            inherited = self.method_of(base_ref, name, depth + 1)
            if inherited is not None:
                return inherited
        return None

    def describe(self, expression: cst.BaseExpression, depth: int) -> RankValue:
        """What an expression in ``__init__`` builds: a layer, a tensor of known rank, or None."""
        if not self.spend():
            return None
        if isinstance(expression, cst.Call):
            name = dotted_name(expression.func)
            if name is None:
                return None
            qualified = self.analyzer.qualify(name)
            short = last_component(qualified)
            if short in facts.RANKS.keeping_modules:
                return KEEP
            if short in facts.RANKS.adding_modules:
                return Layer("add")
            if short in facts.RANKS.tuple_keeping_modules:
                return Layer("tuple")
            if short in facts.RANKS.sequential_modules or short in facts.RANKS.module_lists:
                parts = self.layer_arguments(expression.args, depth)
                if parts is None:
                    return None
                return Layer("sequence" if short in facts.RANKS.sequential_modules else "list", tuple(parts))
            if qualified in facts.PARAMETER_CONSTRUCTORS and expression.args:
                return self.parameter_rank(expression.args[0].value)
            # a project class, maybe: resolved only if the encoder's body runs it (it may be imported)
            return Layer("call", cls=(self.analyzer.scope, expression.func))
        return None

    def parameter_rank(self, value: cst.BaseExpression) -> RankValue:
        """The rank of a weight made in ``__init__``: ``nn.Parameter(scale * torch.randn(w, d))``.
        A factor beside the new tensor is a scale (a product of two tensors is no weight's start)."""
        while isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide)):
            value = value.right if isinstance(value.right, cst.Call) else value.left
        if isinstance(value, cst.Call):
            name = dotted_name(value.func)
            if name is not None and self.analyzer.qualify(name) in facts.RANKS.tensor_factories:
                return function_rank(self.analyzer.qualify(name), None, value.args, [])
        return None

    def resolve(self, layer: Layer) -> Optional[Layer]:
        """The project class a layer built in ``__init__`` is an object of, if it is one."""
        scope, func = layer.cls  # type: ignore[misc]
        with self.analyzer.in_scope(scope):
            found = self.analyzer.reference(func, Frame(env={}))
        return Layer("class", cls=found) if found.__class__.__name__ == "ClassRef" else None

    def layer_arguments(self, args: Sequence[cst.Arg], depth: int) -> Optional[List[Layer]]:
        """The layers given to ``nn.Sequential`` / ``nn.ModuleList``: one by one, a starred list
        comprehension of one, or an ``OrderedDict`` of named ones."""
        layers: List[Layer] = []
        for arg in args:
            value = arg.value
            if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
                value = value.elt
            elif isinstance(value, (cst.List, cst.Tuple)) and arg.star:
                items = [element.value for element in value.elements]
                found = [self.describe(item, depth + 1) for item in items]
                if not all(isinstance(layer, Layer) for layer in found):
                    return None
                layers.extend(found)  # type: ignore[arg-type]
                continue
            elif isinstance(value, cst.Call) and last_component(dotted_name(value.func) or "") == "OrderedDict":
                pairs = value.args[0].value if value.args else None
                if not isinstance(pairs, (cst.List, cst.Tuple)):
                    return None
                for element in pairs.elements:
                    pair = element.value
                    if not isinstance(pair, cst.Tuple) or len(pair.elements) != 2:
                        return None
                    layer = self.describe(pair.elements[1].value, depth + 1)
                    if not isinstance(layer, Layer):
                        return None
                    layers.append(layer)
                continue
            layer = self.describe(value, depth + 1)
            if not isinstance(layer, Layer):
                return None
            layers.append(layer)
        return layers

    def apply(self, layer: Layer, rank: RankValue, depth: int) -> RankValue:
        """What a layer gives for an input of this rank."""
        if not isinstance(rank, int) and layer.kind not in ("class", "sequence", "one-of", "call"):
            return None
        if layer.kind == "keep":
            return rank
        if layer.kind == "add":
            return rank + 1  # type: ignore[operator]
        if layer.kind == "tuple":
            return (rank, None)
        if layer.kind == "sequence":
            for part in layer.parts:
                rank = self.apply(part, rank, depth + 1)
            return rank
        if layer.kind == "one-of":
            return agree([self.apply(part, rank, depth + 1) for part in layer.parts])
        if layer.kind == "call":
            resolved = self.resolve(layer)
            return self.apply(resolved, rank, depth + 1) if resolved is not None else None
        if layer.kind == "class":
            forward = self.method_of(layer.cls, "forward") or self.method_of(layer.cls, "__call__")
            if forward is None:
                return None
            arity = len(positional_names(forward, True))
            return self.call_function(forward, [rank] + [None] * (arity - 1), depth + 1, layer.cls)
        return None

    # --- statements

    def run_block(self, body: Sequence[cst.CSTNode], env: Dict[str, RankValue], returns: List[RankValue],
                  depth: int, cls: object) -> bool:
        """Run statements; False once the path has returned."""
        for statement in body:
            if not self.spend():
                returns.append(None)
                return False
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.Return):
                        returns.append(self.rank(small.value, env, depth, cls) if small.value is not None else None)
                        return False
                    if isinstance(small, cst.Raise):
                        return False
                    self.run_small(small, env, depth, cls)
            elif isinstance(statement, cst.If):
                if not self.run_if(statement, env, returns, depth, cls):
                    return False
            elif isinstance(statement, cst.For):
                self.run_for(statement, env, returns, depth, cls)
            elif isinstance(statement, (cst.With,)):
                if not self.run_block(statement.body.body, env, returns, depth, cls):
                    return False
            else:
                forget_assigned(statement, env)
        return True

    def run_small(self, small: cst.CSTNode, env: Dict[str, RankValue], depth: int, cls: object) -> None:
        if isinstance(small, cst.Assign):
            value = self.rank(small.value, env, depth, cls)
            for target in small.targets:
                bind(target.target, value, env)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            bind(small.target, self.rank(small.value, env, depth, cls), env)
        elif isinstance(small, cst.AugAssign):
            key = dotted_name(small.target)
            if key is not None:
                env[key] = broadcast(env.get(key), self.rank(small.value, env, depth, cls))
        else:
            forget_assigned(small, env)

    def run_if(self, node: cst.If, env: Dict[str, RankValue], returns: List[RankValue], depth: int,
               cls: object) -> bool:
        body_env = dict(env)
        body_goes_on = self.run_block(node.body.body, body_env, returns, depth, cls)
        else_env = dict(env)
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            else_goes_on = self.run_if(orelse, else_env, returns, depth, cls)
        elif orelse is not None:
            else_goes_on = self.run_block(orelse.body.body, else_env, returns, depth, cls)
        else:
            else_goes_on = True
        if not body_goes_on and not else_goes_on:
            return False
        if not body_goes_on:
            env.clear()
            env.update(else_env)
        elif not else_goes_on:
            env.clear()
            env.update(body_env)
        else:
            merged = {name: agree([body_env.get(name), else_env.get(name)]) for name in set(body_env) | set(else_env)}
            env.clear()
            env.update(merged)
        return True

    def run_for(self, node: cst.For, env: Dict[str, RankValue], returns: List[RankValue], depth: int,
                cls: object) -> None:
        iterated = self.rank(node.iter, env, depth, cls)
        element: RankValue = None
        if isinstance(iterated, Layer) and iterated.kind == "list":
            element = agree(list(iterated.parts)) if iterated.parts else None
        before = dict(env)
        bind(node.target, element, env)
        self.run_block(node.body.body, env, returns, depth, cls)
        for name in set(env) | set(before):  # a loop that runs again must find what it left
            if name != dotted_name(node.target):
                env[name] = agree([before.get(name), env.get(name)]) if name in before else None

    # --- expressions

    def rank(self, node: Optional[cst.BaseExpression], env: Dict[str, RankValue], depth: int,
             cls: object = None) -> RankValue:
        if node is None or not self.spend():
            return None
        cls = cls if cls is not None else self.cls
        if isinstance(node, cst.Name):
            return env.get(node.value)
        if isinstance(node, cst.Attribute):
            return self.attribute_rank(node, env, depth, cls)
        if isinstance(node, cst.Subscript):
            return self.subscript_rank(node, env, depth, cls)
        if isinstance(node, cst.Call):
            return self.call_rank(node, env, depth, cls)
        if isinstance(node, cst.BinaryOperation):
            left, right = self.rank(node.left, env, depth, cls), self.rank(node.right, env, depth, cls)
            if isinstance(node.operator, cst.MatrixMultiply):
                return matmul_rank(left, right)
            if isinstance(node.operator, cst.Power):
                return left
            return broadcast(left, right, node.left, node.right)
        if isinstance(node, cst.UnaryOperation):
            return self.rank(node.expression, env, depth, cls)
        if isinstance(node, cst.Tuple):
            return tuple(self.rank(element.value, env, depth, cls) for element in node.elements)
        if isinstance(node, cst.List):
            return tuple(self.rank(element.value, env, depth, cls) for element in node.elements)
        if isinstance(node, cst.IfExp):
            return agree([self.rank(node.body, env, depth, cls), self.rank(node.orelse, env, depth, cls)])
        if constant_of(node) is not NOT_A_CONSTANT:
            return 0
        return None

    def attribute_rank(self, node: cst.Attribute, env: Dict[str, RankValue], depth: int, cls: object) -> RankValue:
        key = dotted_name(node)
        if key is not None and key in env:
            return env[key]
        if isinstance(node.value, cst.Name) and node.value.value == "self":
            return self.class_layers(cls).get(node.attr.value)
        base = self.rank(node.value, env, depth, cls)
        if node.attr.value in facts.REVERSING_TRANSPOSES | facts.LAST_TWO_TRANSPOSES and isinstance(base, int):
            return base
        return None

    def subscript_rank(self, node: cst.Subscript, env: Dict[str, RankValue], depth: int, cls: object) -> RankValue:
        base = self.rank(node.value, env, depth, cls)
        if isinstance(base, tuple):
            index = literal_int(node.slice[0].slice.value) if isinstance(node.slice[0].slice, cst.Index) else None
            return base[index] if index is not None and -len(base) <= index < len(base) else None
        if not isinstance(base, int):
            return None
        rank = base
        for element in node.slice:
            index = element.slice
            if isinstance(index, cst.Slice):
                continue
            if is_none(index.value):
                rank += 1
            elif isinstance(index.value, cst.Ellipsis):
                continue
            elif literal_int(index.value) is not None:
                rank -= 1
            else:
                return None  # a tensor index: the rank depends on the index's shape
        return rank if rank >= 0 else None

    def call_rank(self, node: cst.Call, env: Dict[str, RankValue], depth: int, cls: object) -> RankValue:
        func = node.func
        name = dotted_name(func)
        if name is not None and name.partition(".")[0] in self.analyzer.aliases and name.partition(".")[0] not in env:
            qualified = self.analyzer.qualify(name)  # a library function: ``torch.cat``, ``F.gelu``
            first = self.first_argument(node, env, depth, cls)
            return function_rank(qualified, first, node.args, self.argument_ranks(node, env, depth, cls))
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver_node = func.value
            is_self = isinstance(receiver_node, cst.Name) and receiver_node.value == "self"
            if is_self:
                return self.self_call_rank(method, node, env, depth, cls)
            if method in self.analyzer.encoders and dotted_name(receiver_node) is not None:
                return 2  # a library encoder: [B, D]
            receiver = self.rank(receiver_node, env, depth, cls)
            if isinstance(receiver, Layer):
                return self.apply(receiver, self.first_argument(node, env, depth, cls), depth)
            return method_rank(method, receiver, node.args)
        name = dotted_name(func)
        if name is None:
            return None
        if isinstance(func, cst.Name) and func.value in env:
            layer = env[func.value]
            if isinstance(layer, Layer):
                return self.apply(layer, self.first_argument(node, env, depth, cls), depth)
            return None
        qualified = self.analyzer.qualify(name)
        first = self.first_argument(node, env, depth, cls)
        return function_rank(qualified, first, node.args, self.argument_ranks(node, env, depth, cls))

    def self_call_rank(self, method: str, node: cst.Call, env: Dict[str, RankValue], depth: int,
                       cls: object) -> RankValue:
        layer = self.class_layers(cls).get(method)
        if isinstance(layer, Layer):
            return self.apply(layer, self.first_argument(node, env, depth, cls), depth)
        function = self.method_of(cls, method)
        if function is None:
            return None
        arity = len(positional_names(function, True))
        args = [self.rank(arg.value, env, depth, cls) for arg in node.args if arg.keyword is None and not arg.star]
        args = (args + [None] * arity)[:arity]
        return self.call_function(function, args, depth + 1, cls)

    def first_argument(self, node: cst.Call, env: Dict[str, RankValue], depth: int, cls: object) -> RankValue:
        positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
        return self.rank(positional[0].value, env, depth, cls) if positional else None

    def argument_ranks(self, node: cst.Call, env: Dict[str, RankValue], depth: int, cls: object) -> List[RankValue]:
        return [self.rank(arg.value, env, depth, cls) for arg in node.args if arg.keyword is None and not arg.star]

    def spend(self) -> bool:
        self.analyzer.rank_steps_left -= 1
        return self.analyzer.rank_steps_left > 0


# --- the rank arithmetic


def agree(values: Sequence[RankValue]) -> RankValue:
    """One value when every path gives it, else unknown; different layers are one of them."""
    first = values[0] if values else None
    if all(value == first for value in values):
        return first
    if all(isinstance(value, Layer) for value in values):
        return Layer("one-of", tuple(dict.fromkeys(values)))  # type: ignore[arg-type]
    return None


def broadcast(left: RankValue, right: RankValue, left_node: object = None, right_node: object = None) -> RankValue:
    """The rank of an elementwise result: the larger one; a constant takes the other's."""
    if isinstance(left, int) and isinstance(right, int):
        return max(left, right)
    return None


def matmul_rank(left: RankValue, right: RankValue) -> RankValue:
    if not isinstance(left, int) or not isinstance(right, int) or left == 0 or right == 0:
        return None
    if left == 1 and right == 1:
        return 0
    if left == 1:
        return right - 1
    if right == 1:
        return left - 1
    return max(left, right)


def literal_arity(args: Sequence[cst.Arg]) -> Optional[int]:
    """How many sizes a call gives: one per argument, or the length of one tuple or list."""
    if any(arg.star for arg in args):
        return None
    positional = [arg.value for arg in args if arg.keyword is None]
    if len(positional) == 1 and isinstance(positional[0], (cst.Tuple, cst.List)):
        elements = positional[0].elements
        return None if any(isinstance(e, cst.StarredElement) for e in elements) else len(elements)
    if len(positional) == 1 and literal_int(positional[0]) is None and not isinstance(positional[0], cst.Attribute):
        return None  # one size held in a variable may be a whole shape
    return len(positional) if positional else None


def method_rank(method: str, receiver: RankValue, args: Sequence[cst.Arg]) -> RankValue:
    """What a tensor method returns, by rank."""
    if method in facts.PASSTHROUGH_METHODS or method in facts.RANKS.keeping_methods:
        return literal_arity(args) if method == "permute" else receiver
    if method in facts.SWAPPING_TRANSPOSES or method in facts.REVERSING_TRANSPOSES or method == "norm":
        return receiver
    if method in facts.RANKS.sized_methods:
        return literal_arity(args)
    if method == "flatten":
        return flattened(receiver, args)
    if method == "unsqueeze":
        return receiver + 1 if isinstance(receiver, int) else None
    if method in facts.REDUCTION_METHODS:
        keep = any(arg.keyword is not None and arg.keyword.value in facts.KEEPDIM_KEYWORDS
                   and constant_of(arg.value) is True for arg in args)
        has_axis = any(arg.keyword is None or arg.keyword.value in facts.AXIS_KEYWORDS for arg in args)
        if not isinstance(receiver, int) or not has_axis:
            return None
        return receiver if keep else receiver - 1
    return None


def flattened(receiver: RankValue, args: Sequence[cst.Arg]) -> RankValue:
    """``x.flatten(start_dim=0, end_dim=-1)``: the axes from start to end become one."""
    positional = [arg.value for arg in args if arg.keyword is None]
    keywords = {arg.keyword.value: arg.value for arg in args if arg.keyword is not None}
    start_node = keywords.get("start_dim", positional[0] if positional else None)
    end_node = keywords.get("end_dim", positional[1] if len(positional) > 1 else None)
    start = literal_int(start_node) if start_node is not None else 0
    end = literal_int(end_node) if end_node is not None else -1
    if start is None or end is None:
        return None
    if end == -1 and start >= 0:
        return start + 1  # whatever the rank, every axis from ``start`` on becomes one
    if not isinstance(receiver, int) or receiver == 0:
        return None
    return receiver - (end % receiver - start % receiver)


def function_rank(qualified: str, first: RankValue, args: Sequence[cst.Arg], ranks: List[RankValue]) -> RankValue:
    """What a library function returns, by rank."""
    if qualified in facts.COMBINER_FUNCTIONS:
        # every tensor joined has the same rank, so one known element tells it
        elements = [element for element in first if element is not None] if isinstance(first, tuple) else []
        element = agree(elements) if elements else None
        if not isinstance(element, int):
            return None
        added = facts.COMBINER_FUNCTIONS[qualified]
        return element + (added if added is not None else 0)
    if qualified in facts.RANKS.keeping_functions or qualified in facts.MODEL_WRAPPER_FUNCTIONS:
        return first if isinstance(first, int) else None
    if qualified in facts.RANKS.tensor_factories:
        return literal_arity([arg for arg in args if arg.keyword is None][:None if qualified != "torch.full" else 1])
    if qualified in facts.RANK_CHANGE_FUNCTIONS:
        change = facts.RANK_CHANGE_FUNCTIONS[qualified]
        if change == "insert" and isinstance(first, int):
            return first + 1
        if qualified.endswith("reshape"):
            return literal_arity(args[1:])
        if qualified.endswith("flatten"):
            return flattened(first, args[1:])
        return None
    if qualified in facts.SIMILARITY_FUNCTIONS and len(ranks) >= 2 and qualified.endswith("matmul"):
        return matmul_rank(ranks[0], ranks[1])
    return None


# --- small readers


def positional_names(function: cst.FunctionDef, skip_self: bool) -> List[str]:
    params = function.params
    names = [param.name.value for param in [*params.posonly_params, *params.params]]
    return names[1:] if skip_self and names and names[0] in ("self", "cls") else names


def bind(target: cst.CSTNode, value: RankValue, env: Dict[str, RankValue]) -> None:
    if isinstance(target, (cst.Name, cst.Attribute)):
        key = dotted_name(target)
        if key is not None:
            env[key] = value
    elif isinstance(target, (cst.Tuple, cst.List)):
        parts = value if isinstance(value, tuple) and len(value) == len(target.elements) else None
        for index, element in enumerate(target.elements):
            bind(element.value, parts[index] if parts is not None else None, env)


def forget_assigned(node: cst.CSTNode, env: Dict[str, RankValue]) -> None:
    """Names a statement we don't follow may assign become unknown."""
    stack: List[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.WithItem,
                                cst.NamedExpr)):
            target = getattr(current, "target", None) or getattr(current, "asname", None)
            if isinstance(target, cst.AsName):
                target = target.name
            if target is not None:
                bind(target, None, env)
        stack.extend(children_in_source_order(current))


def self_assignments(body: cst.BaseSuite) -> List[Tuple[str, cst.BaseExpression]]:
    """``self.<attr> = value`` anywhere in a method's body, in order."""
    found: List[Tuple[str, cst.BaseExpression]] = []
    stack: List[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Assign):
            for target in node.targets:
                name = dotted_name(target.target)
                if name is not None and name.startswith("self.") and name.count(".") == 1:
                    found.append((name[len("self."):], node.value))
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            name = dotted_name(node.target)
            if name is not None and name.startswith("self.") and name.count(".") == 1:
                found.append((name[len("self."):], node.value))
        if not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) or node is body:
            stack.extend(reversed(children_in_source_order(node)))
    return found
