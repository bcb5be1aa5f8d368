"""Imports and module scopes: what a name bound by an import refers to, and each module's state.

The analysis runs in one ``ModuleScope`` at a time: the checked file's (``home``), or, while
it follows a call into another project module, that module's. ``scan_imports``, which reads
the import lines of a text without parsing it, lives with the gates in ``gate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Generic, Iterator, List, MutableMapping, Optional, Tuple, TypeVar

import libcst as cst

from clip_lint import facts
from clip_lint.engine.frames import ClassInfo, Frame
from clip_lint.prefilter.gate import scan_imports  # noqa: F401 (re-exported)
from clip_lint.engine.values import Value


@dataclass(frozen=True)
class ImportTarget:
    """What an import binds: a module (``attr`` None) or a name in a module, maybe relative."""

    module: str
    level: int = 0
    attr: Optional[str] = None


Node = TypeVar("Node")


class Definitions(MutableMapping[str, Node], Generic[Node]):
    """A module's top-level functions (or classes) by name, each made when the analysis first asks.

    Another module's definitions are parsed one at a time (``LoadedModule.definition``): a
    name that is never looked up costs nothing. A definition that fails to parse is absent.
    """

    def __init__(self, makers: Optional[Dict[str, Callable[[], Optional[Node]]]] = None) -> None:
        self._made: Dict[str, Node] = {}
        self._makers: Dict[str, Callable[[], Optional[Node]]] = dict(makers or {})

    def _make(self, name: str) -> bool:
        maker = self._makers.pop(name, None)
        if maker is None:
            return name in self._made
        made = maker()
        if made is not None:
            self._made[name] = made
        return made is not None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._make(name)

    def __getitem__(self, name: str) -> Node:
        if not self._make(name):
            raise KeyError(name)
        return self._made[name]

    def __setitem__(self, name: str, value: Node) -> None:
        self._makers.pop(name, None)
        self._made[name] = value

    def __delitem__(self, name: str) -> None:
        found = self._makers.pop(name, None) is not None
        if self._made.pop(name, None) is None and not found:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter([*self._made, *self._makers])

    def __len__(self) -> int:
        return len(self._made) + len(self._makers)

    def knows(self, name: str) -> bool:
        """Whether ``name`` is defined here, without parsing its definition."""
        return name in self._made or name in self._makers

    def made(self) -> List[Tuple[str, Node]]:
        """The definitions made so far (iterating ``items()`` would parse every one)."""
        return list(self._made.items())


class ModuleScope:
    """One module's names as the analysis sees them: imports, definitions and globals."""

    def __init__(
        self, module: cst.Module, path: Optional[str], display: str, home: bool, text: Optional[str] = None
    ) -> None:
        self.module = module
        self.text = module.code if text is None else text
        self.path = path
        self.display = display
        self.home = home
        self.aliases: Dict[str, str] = dict(facts.DEFAULT_ALIASES)
        self.imported: Dict[str, str] = {}
        self.functions: MutableMapping[str, cst.FunctionDef] = {}
        self.classes: MutableMapping[str, ClassInfo] = {}
        #: Modules that hold some of this scope's nodes besides ``module`` (per-definition parses).
        self.parts: List[cst.Module] = []
        self._part_locators: Dict[int, object] = {}
        self.module_frame = Frame(env={})
        self.imports: Dict[str, ImportTarget] = {}
        self.stars: List[ImportTarget] = []
        self.class_refs: Dict[str, "ClassRef"] = {}
        self.resolved: Dict[Tuple[ImportTarget, bool], object] = {}
        self.relevant: Optional[FrozenSet[str]] = None  # see ``Linker.relevant_names``
        #: import name -> whether it leads into the project (``Linker.deferred_call``)
        self.project_heads: Dict[str, bool] = {}
        self._locator: object = None

    def class_ref(self, name: str) -> Optional["ClassRef"]:
        info = self.classes.get(name)
        if info is None:
            return None
        ref = self.class_refs.get(name)
        if ref is None or ref.info is not info:
            ref = self.class_refs[name] = ClassRef(self, name, info)
        return ref

    def line_of(self, node: cst.CSTNode) -> str:
        """The 1-based line of a node of this module, for messages ("?" when unknown)."""
        from clip_lint.engine.locator import Locator

        if self._locator is None:
            self._locator = Locator(self.module, self.module.code)
        where = self._locator.get(node)  # type: ignore[attr-defined]
        for part in self.parts:
            if where is not None:
                break
            locator = self._part_locators.get(id(part))
            if locator is None:
                locator = self._part_locators[id(part)] = Locator(part, part.code)
            where = locator.get(node)  # type: ignore[attr-defined]
        return str(where.start.line) if where is not None else "?"

    def declared_all(self) -> Optional[Tuple[str, ...]]:
        """The names in a literal ``__all__``, or None when the module has none."""
        for statement in self.module.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(isinstance(t.target, cst.Name) and t.target.value == "__all__" for t in small.targets)
                    and isinstance(small.value, (cst.List, cst.Tuple))
                ):
                    return tuple(
                        e.value.evaluated_value
                        for e in small.value.elements
                        if isinstance(e.value, cst.SimpleString) and isinstance(e.value.evaluated_value, str)
                    )
        return None


# --- what a name refers to -------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionRef:
    scope: ModuleScope
    node: cst.FunctionDef


@dataclass(frozen=True)
class ClassRef:
    scope: ModuleScope
    name: str
    info: ClassInfo = field(compare=False)


@dataclass(frozen=True)
class ModuleRef:
    """A module bound by ``import a.b``: its dotted name, and its file when it has one."""

    dotted: str
    level: int
    importer: Optional[str]
    path: Optional[str]


@dataclass(frozen=True)
class ValueRef:
    value: Value


Reference = object  # one of FunctionRef, ClassRef, ModuleRef, ValueRef


class Instance:
    """An object of a project class: its class and its ``self.<attr>`` state, as far as known."""

    __slots__ = ("cls", "state")

    def __init__(self, cls: ClassRef, state: Dict[str, Value]) -> None:
        self.cls = cls
        self.state = state
