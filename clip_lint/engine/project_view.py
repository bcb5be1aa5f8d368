"""What the analysis asks of the project layer, and the names it records of what it read.

The engine follows imports into the project's other modules through a ``ProjectView``. The
project layer (``clip_lint.project.modules.Project``) implements it; the engine never imports
that layer, so the analysis of one module can be read, and tested, on its own.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Mapping, Optional, Protocol, Tuple

#: A consulted-names entry: the module as a whole.
ALL_NAMES = "*"
#: A consulted-names entry: every top-level statement that is not a definition.
TOP_LEVEL = "<top-level>"

Span = Tuple[int, int]


class ModuleLayout(Protocol):
    """Where a module's top-level definitions are, by line span (from its ``ast``)."""

    functions: Mapping[str, Span]
    classes: Mapping[str, Span]
    methods: Mapping[Span, Dict[str, Span]]

    def alone(self, span: Span) -> str: ...  # one definition's text, at its own lines


class ModuleView(Protocol):
    """One project module as read: its text, and its libcst trees parsed on demand."""

    path: str
    text: Optional[str]
    parse: bool

    @property
    def cst(self) -> Any: ...

    def facts(self) -> Any: ...  # what its ``ast`` says: definitions, classes, ``from`` imports

    def layout(self) -> Optional[ModuleLayout]: ...

    def skeleton(self) -> Any: ...

    def definition(self, span: Span) -> Any: ...

    def method(self, span: Span) -> Any: ...

    def part(self, span: Span, method: bool) -> Any: ...


class Budgets(Protocol):
    modules_per_file: int
    import_depth: int


class ProjectView(Protocol):
    """The project's modules, as the analysis of one file follows its imports into them."""

    budgets: Budgets

    def resolve(self, importer: str, module: str, level: int = 0) -> Optional[str]: ...

    def submodule(self, package: str, name: str) -> Optional[str]: ...

    def display(self, path: str) -> str: ...

    def load(self, path: str) -> Optional[ModuleView]: ...

    def reexport(self, path: str, name: str) -> Optional[Tuple[str, str]]: ...

    def defines(self, path: str, name: str) -> bool: ...

    def may_matter(self, path: str, name: str, extra_words: Tuple[str, ...] = ()) -> bool: ...

    def mentions_name(self, path: str, name: str) -> bool: ...

    def mentions_features(self, path: str, extra_words: Tuple[str, ...] = ()) -> bool: ...

    def relevant_names(self, path: str, extra_words: Tuple[str, ...] = ()) -> FrozenSet[str]: ...
