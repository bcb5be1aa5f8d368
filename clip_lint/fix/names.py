"""The names a fix may write: what the file already binds or reads, at every scope.

A fix that calls a module (``F.normalize``, ``np.linalg.norm``) must not rebind a name the
file uses for something else (pyspark's ``functions as F``, a loop variable, a parameter).
It reuses an import that means the module everywhere, or picks a name nobody uses.
"""

from __future__ import annotations

import ast
import builtins
import keyword
from dataclasses import dataclass, field
from typing import Dict, Optional, Set, Tuple

#: How a fix refers to a module: the expression to write, and the import line to add (if any).
Reference = Tuple[str, Optional[str]]


@dataclass
class FileNames:
    """Every name a file binds, with the modules it is imported as ("" for other bindings)."""

    bindings: Dict[str, Set[str]] = field(default_factory=dict)
    top_level_imports: Set[str] = field(default_factory=set)
    read: Set[str] = field(default_factory=set)
    star_import: bool = False  # ``from m import *`` may bind any name

    @classmethod
    def of(cls, source: str) -> Optional["FileNames"]:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        names = cls()
        _Collector(names, tree).visit(tree)
        return names

    def bind(self, name: str, module: str = "") -> None:
        self.bindings.setdefault(name, set()).add(module)

    def means(self, name: str, module: str) -> bool:
        """True when every binding of ``name`` is a top-level import of ``module``."""
        return self.bindings.get(name) == {module} and name in self.top_level_imports

    def is_free(self, name: str) -> bool:
        """Nobody binds or reads ``name``: a fix may bind it at module level."""
        return not (
            self.star_import
            or name in self.bindings
            or name in self.read
            or keyword.iskeyword(name)
            or hasattr(builtins, name)
        )

    def reference(self, module: str, preferred: str) -> Optional[Reference]:
        """How a fix writes ``module``: an import that already means it, ``preferred`` if free,
        the dotted path through its package, or a numbered alias; None if no name is safe."""
        existing = sorted(name for name in self.bindings if self.means(name, module))
        if existing:
            return existing[0], None
        if self.is_free(preferred):
            return preferred, f"import {module} as {preferred}"
        package = module.split(".")[0]
        if self.means(package, package):
            return module, None
        if self.is_free(package):
            return module, f"import {module}"
        for number in range(2, 100):
            alias = f"{preferred}{number}"
            if self.is_free(alias):
                return alias, f"import {module} as {alias}"
        return None


class _Collector(ast.NodeVisitor):
    def __init__(self, names: FileNames, tree: ast.Module) -> None:
        self.names = names
        self.top_level = {id(statement) for statement in tree.body}

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                name, module = alias.asname, alias.name
            else:
                name = module = alias.name.split(".")[0]
            self.add_import(node, name, module)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.names.star_import = True
            else:
                self.add_import(node, alias.asname or alias.name, f"{base}.{alias.name}")

    def add_import(self, node: ast.stmt, name: str, module: str) -> None:
        self.names.bind(name, module)
        if id(node) in self.top_level:
            self.names.top_level_imports.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.names.read.add(node.id)
        else:
            self.names.bind(node.id)

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.names.bind(node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_arg(self, node: ast.arg) -> None:
        self.names.bind(node.arg)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.names.bind(node.name)
        self.generic_visit(node)

    def visit_Global(self, node: ast.AST) -> None:
        for name in node.names:  # type: ignore[attr-defined]
            self.names.bind(name)

    visit_Nonlocal = visit_Global

    def generic_visit(self, node: ast.AST) -> None:
        # match patterns: ``case F:``, ``case [*F]``, ``case {**F}``
        for attribute in ("name", "rest"):
            value = getattr(node, attribute, None)
            if type(node).__name__.startswith("Match") and isinstance(value, str):
                self.names.bind(value)
        super().generic_visit(node)
