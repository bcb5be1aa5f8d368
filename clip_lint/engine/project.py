"""The project layer: find, read and summarize the modules a checked file imports.

A ``Project`` is the code under one root (the nearest ``pyproject.toml``, ``setup.cfg``,
``setup.py`` or ``.git`` above a file). It resolves imports the way Python would when the
code runs from that root, reads each module at most once per process (memoized by path,
size and mtime), and never reads code outside the root, nor any ``site-packages``.

Interface for the front ends and the cache::

    project = Project.for_path(path)                    # one per run or per process
    result = analyze_file(path, source, options, project)
    result.findings                                     # List[Finding], for the checked file only
    result.consulted                                    # {module path: summary hash}
    result.consulted_names                              # {module path: names the analysis read}
    project.summary_hash(module_path, names)            # recompute a summary hash

A summary hash is a digest of what the checked file's analysis could depend on in that
module: its imports and ``__all__``, and the top-level definitions it read (``names``;
``None`` means the whole module), as ``ast`` dumps without docstrings. Comments and
whitespace inside a line never change it; line numbers do, because messages name the
helper's line. An unparsable module hashes its raw text. A module that the analysis tried
to import but that was not in the project is not recorded.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from clip_lint import facts
from clip_lint.findings import Finding
from clip_lint.options import AnalysisOptions

#: (module, level, imported names) of one import statement.
ImportLine = Tuple[str, int, Tuple[str, ...]]

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
FOREIGN_FOLDERS = frozenset({"site-packages", "dist-packages", "__pycache__"})
SOURCE_SUFFIX = ".py"
ALL_NAMES = "*"  # a consulted-names entry: the module as a whole
TOP_LEVEL = "<top-level>"  # a consulted-names entry: every top-level statement that is not a definition


@dataclass(frozen=True)
class Budgets:
    """How far one file's analysis may reach into the project before it gives up (silently)."""

    modules_per_file: int = 24
    import_depth: int = 6


@dataclass
class FileAnalysis:
    """What ``analyze_file`` returns: the checked file's findings and what they depended on."""

    findings: List[Finding]
    consulted: Dict[str, str] = field(default_factory=dict)
    consulted_names: Dict[str, Tuple[str, ...]] = field(default_factory=dict)


class LoadedModule:
    """One project module's text, read once; its trees are parsed only when asked for."""

    def __init__(self, path: str, text: Optional[str]) -> None:
        self.path = path
        self.text = text
        self._cst: object = None
        self._ast: object = None
        self._parsed = False
        self._ast_done = False

    @property
    def cst(self):
        """The libcst module, or None when it can't be read or parsed."""
        if not self._parsed:
            self._parsed = True
            if self.text is not None:
                import libcst

                try:
                    self._cst = libcst.parse_module(self.text)
                except Exception:  # ParserSyntaxError, RecursionError: contributes nothing
                    self._cst = None
        return self._cst

    @property
    def tree(self) -> Optional[ast.Module]:
        if not self._ast_done:
            self._ast_done = True
            if self.text is not None:
                try:
                    self._ast = ast.parse(self.text)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    self._ast = None
        return self._ast  # type: ignore[return-value]


#: Per process: path -> ((size, mtime), module). flake8 runs one process per job.
_LOADED: Dict[str, Tuple[Tuple[int, int], LoadedModule]] = {}
_PROJECTS: Dict[str, "Project"] = {}


_ROOTS: Dict[str, str] = {}


def find_root(path: str) -> str:
    """The nearest folder above ``path`` with a project marker; else the top package's parent."""
    folder = os.path.dirname(os.path.abspath(path))
    root = _ROOTS.get(folder)
    if root is None:
        root = _ROOTS[folder] = _find_root(folder)
    return root


def _find_root(folder: str) -> str:
    probe = folder
    while True:
        if any(os.path.exists(os.path.join(probe, marker)) for marker in ROOT_MARKERS):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return package_parent(folder) or folder


def package_parent(folder: str) -> Optional[str]:
    """The parent of the highest folder, going up from ``folder``, that has an ``__init__.py``."""
    top = None
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        top = folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return os.path.dirname(top) if top is not None else None


class Project:
    """The modules under one root, resolved and read on demand."""

    def __init__(self, root: str, budgets: Budgets = Budgets()) -> None:
        self.root = os.path.realpath(root)
        self.budgets = budgets
        self._resolved: Dict[Tuple[Tuple[str, ...], str], Optional[str]] = {}
        self._mentions_memo: Dict[Tuple[str, Tuple[str, Tuple[str, ...]]], bool] = {}
        # Set by the cache: remember(text, compute) gives compute()'s JSON-able answer for a module text.
        self.remember: Optional[Callable[[str, Callable[[], Any]], Any]] = None

    @classmethod
    def for_path(cls, path: str) -> "Project":
        """The project a file belongs to, one object per root and process."""
        root = os.path.realpath(find_root(path))
        project = _PROJECTS.get(root)
        if project is None:
            project = _PROJECTS[root] = cls(root)
        return project

    # --- where modules live

    @functools.lru_cache(maxsize=None)  # noqa: B019 (projects live as long as the process)
    def inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            return False
        return not FOREIGN_FOLDERS.intersection(real[len(self.root):].split(os.sep))

    @functools.lru_cache(maxsize=None)  # noqa: B019 (memoized: the cache checks resolutions of every run)
    def search_roots(self, importer: str) -> Tuple[str, ...]:
        """Folders an absolute import is looked up in, in Python's order for this file."""
        folder = os.path.dirname(os.path.realpath(importer))
        roots: List[str] = []
        parent = package_parent(folder)
        if parent is None:
            roots.append(folder)  # a script: its own folder is sys.path[0]
        else:
            roots.append(parent)
        roots += [self.root, os.path.join(self.root, "src")]
        unique: List[str] = []
        for root in roots:
            if root not in unique and os.path.isdir(root) and self.inside(root):
                unique.append(root)
        return tuple(unique)

    def resolve(self, importer: str, module: str, level: int = 0) -> Optional[str]:
        """The file of ``module`` as imported from ``importer`` (``level`` leading dots)."""
        if level:
            base = os.path.dirname(os.path.realpath(importer))
            for _ in range(level - 1):
                base = os.path.dirname(base)
            roots: Tuple[str, ...] = (base,)
        else:
            roots = self.search_roots(importer)
        key = (roots, module)
        if key not in self._resolved:
            self._resolved[key] = self._find(roots, module)
        return self._resolved[key]

    def _find(self, roots: Iterable[str], module: str) -> Optional[str]:
        parts = [part for part in module.split(".") if part]
        for root in roots:
            if not self.inside(root):
                continue
            folder = os.path.join(root, *parts)
            candidates = [os.path.join(folder, "__init__.py")] if parts else []
            if parts:
                candidates.append(folder + SOURCE_SUFFIX)
            else:
                candidates = [os.path.join(root, "__init__.py")]
            for candidate in candidates:
                if os.path.isfile(candidate) and self.inside(candidate):
                    return os.path.realpath(candidate)
        return None

    def submodule(self, package: str, name: str) -> Optional[str]:
        """``package.name`` as a module file, when ``package`` is a package's ``__init__.py``."""
        if os.path.basename(package) != "__init__.py":
            return None
        return self._find((os.path.dirname(package),), name)

    def display(self, path: str) -> str:
        """A module's path as messages name it: relative to the root, with forward slashes."""
        relative = os.path.relpath(path, self.root)
        return relative.replace(os.sep, "/")

    # --- reading

    def load(self, path: str) -> Optional[LoadedModule]:
        """The module at ``path``, read once per process while its size and mtime stay the same."""
        if not self.inside(path):
            return None
        try:
            status = os.stat(path)
        except OSError:
            return None
        stamp = (status.st_size, status.st_mtime_ns)
        cached = _LOADED.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            text: Optional[str] = _decode(data)
        except OSError:
            text = None
        loaded = LoadedModule(path, text)
        _LOADED[path] = (stamp, loaded)
        return loaded

    def mentions_features(self, path: str, extra_words: Tuple[str, ...] = ()) -> bool:
        """Whether a module, or a project module it imports, names an encoder or a CLIP model.

        A text test, memoized: it decides whether a file that imports the module is worth a parse.
        """
        return self._mentions(path, ("features", extra_words), feature_words_pattern(extra_words), 0)

    def mentions_comparisons(self, path: str) -> bool:
        """Whether a module, or a project module it imports, may compare or normalize features."""
        from clip_lint.slicing import SINK_OR_NORM

        return self._mentions(path, ("comparisons", ()), SINK_OR_NORM, 0)

    def _mentions(self, path: str, key: Tuple[str, Tuple[str, ...]], pattern: "re.Pattern[str]", depth: int) -> bool:
        memo = (path, key)
        if memo in self._mentions_memo:
            return self._mentions_memo[memo]
        self._mentions_memo[memo] = False  # an import cycle reads as "no" while it is being decided
        loaded = self.load(path)
        answer = False
        if loaded is not None and loaded.text is not None:
            answer = bool(pattern.search(loaded.text))
            imports = self.top_level_imports(loaded) if not answer and depth < self.budgets.import_depth else None
            if imports is not None:
                answer = any(
                    self._mentions(target, key, pattern, depth + 1) for target in self.import_targets(path, imports)
                )
        self._mentions_memo[memo] = answer
        return answer

    def top_level_imports(self, loaded: LoadedModule) -> Optional[List[ImportLine]]:
        """``import_statements`` of a module's top level (None: it doesn't parse); the cache,
        when it is on, remembers them by the module's content, so a warm run parses nothing."""
        if loaded.text is None:
            return None
        if self.remember is not None:
            return self.remember(loaded.text, lambda: _top_level_imports(loaded))
        return _top_level_imports(loaded)

    def imported_files(self, importer: str, statements: Iterable[ast.stmt]) -> List[str]:
        """The project files named by the import statements among ``statements`` (not nested ones)."""
        return self.import_targets(importer, import_statements(statements))

    def import_targets(self, importer: str, imports: Iterable[ImportLine]) -> List[str]:
        """The project files that ``imports`` (from ``import_statements``) name."""
        files: List[str] = []
        for module, level, names in imports:
            target = self.resolve(importer, module, level)
            if target is None:
                continue
            files.append(target)
            for name in names:
                sub = self.submodule(target, name)
                if sub is not None:
                    files.append(sub)
        return files

    # --- summaries

    def summary_hash(self, path: str, names: Optional[Iterable[str]] = None) -> str:
        """A digest of what an importer's analysis can depend on in ``path`` (see the module doc)."""
        loaded = self.load(path)
        if loaded is None or loaded.text is None:
            return "missing"
        tree = loaded.tree
        if tree is None or loaded.cst is None:
            return "unparsable:" + hashlib.sha256(loaded.text.encode("utf-8", "replace")).hexdigest()
        wanted = None if names is None or ALL_NAMES in names else frozenset(names)
        digest = hashlib.sha256()
        for statement in tree.body:
            if _summarized(statement, wanted):
                digest.update(ast.dump(_without_docstrings(statement), include_attributes=True).encode())
        return digest.hexdigest()


def _decode(data: bytes) -> Optional[str]:
    from clip_lint.documents import decode

    text, _, problem, _ = decode(data)
    return None if problem is not None else text


def _top_level_imports(loaded: LoadedModule) -> Optional[List[ImportLine]]:
    return None if loaded.tree is None else import_statements(loaded.tree.body)


def import_statements(statements: Iterable[ast.stmt]) -> List[ImportLine]:
    """(module, level, imported names) for the imports among top-level statements and their blocks."""
    found: List[Tuple[str, int, Tuple[str, ...]]] = []
    for statement in statements:
        if isinstance(statement, ast.Import):
            found.extend((alias.name, 0, ()) for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            names = tuple(alias.name for alias in statement.names if alias.name != "*")
            found.append((statement.module or "", statement.level or 0, names))
        elif isinstance(statement, (ast.If, ast.Try)):
            blocks = [statement.body, statement.orelse] + [h.body for h in getattr(statement, "handlers", [])]
            for block in blocks:
                found.extend(import_statements(block))
    return found


_PATTERNS: Dict[Tuple[str, ...], "re.Pattern[str]"] = {}


def feature_words_pattern(extra_words: Tuple[str, ...] = ()) -> "re.Pattern[str]":
    """Words that make a module a possible source of features: encoders, fields, model classes."""
    pattern = _PATTERNS.get(extra_words)
    if pattern is None:
        words = set(facts.GATE_WORDS) | facts.PROJECTION_MODEL_CLASSES | facts.NORMALIZING_MODEL_CLASSES
        words |= set(extra_words)
        pattern = _PATTERNS[extra_words] = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words))) + r")\b")
    return pattern


def _summarized(statement: ast.stmt, wanted: Optional[FrozenSet[str]]) -> bool:
    if wanted is None or isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return statement.name in wanted
    if TOP_LEVEL in wanted:
        return True
    targets = {statement.name} if hasattr(statement, "name") else _bound_names(statement)
    return bool(targets & (wanted | {"__all__"}))


def _bound_names(statement: ast.stmt) -> FrozenSet[str]:
    names = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return frozenset(names)


def _without_docstrings(statement: ast.stmt) -> ast.stmt:
    """The statement with every docstring dropped (a copy: trees are shared per process)."""
    import copy

    statement = copy.deepcopy(statement)
    for node in ast.walk(statement):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return statement


def analyze_file(
    path: str,
    source: str,
    options: AnalysisOptions,
    project: Optional[Project] = None,
    tree: Optional[ast.Module] = None,
) -> FileAnalysis:
    """Check one file of a project: its findings, and the modules (with summary hashes) consulted."""
    from clip_lint.engine.entry import analyze_with_project

    project = project or Project.for_path(path)
    tree = tree if isinstance(tree, ast.Module) else None
    findings, consulted = analyze_with_project(source, options, path, project, tree)
    names = {module: tuple(sorted(read)) for module, read in consulted.items()}
    hashes = {module: project.summary_hash(module, read) for module, read in names.items()}
    return FileAnalysis(findings, hashes, names)
