"""The project layer: find and read the modules a checked file imports, and what they define.

A ``Project`` is the code under one root (the nearest ``pyproject.toml``, ``setup.cfg``,
``setup.py`` or ``.git`` above a file). It resolves imports the way Python would when the
code runs from that root, and never reads code outside the root, nor any ``site-packages``.
Every file it reads and every existence probe it makes goes through its ``SourceReader``
(``clip_lint.project.reading``): each file is read once per run, and what a computation read
is recorded, for the cache. Its memoized answers (``clip_lint.project.queries``) carry the
record of what they read, so that reusing one records it too.

Interface for the front ends and the cache::

    project = Project.for_path(path)                    # one per root and process (a run)
    with project.reader.recording() as reads:           # what the analysis reads, recorded
        result = analyze_file(path, source, options, project)  # clip_lint.project.checking
    result.findings                                     # List[Finding], for the checked file only
    result.consulted_names                              # {module path: names the analysis read}
    reads.to_json()                                     # {"files": {path: digest}, "probes": [...]}

A long-lived process starts a new run with ``new_run()`` (or a fresh ``Project``): files are
read again then. A language server starts one per check with ``new_run(overlay=open_buffers)``
(``SourceReader``'s overlay: its open buffers are read in place of the disk, and never cached).
A module that the analysis tried to import but that was not in the project contributes nothing
(the probes that found it missing are recorded all the same).
"""

from __future__ import annotations

import ast
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from clip_lint.findings import Finding
from clip_lint.prefilter.relevance import WORD, bound_names, feature_words_pattern, relevant_definitions
from clip_lint.project.queries import Queries
from clip_lint.project.reading import UNREADABLE, SourceReader

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
FOREIGN_FOLDERS = frozenset({"site-packages", "dist-packages", "__pycache__"})
SOURCE_SUFFIX = ".py"


@dataclass(frozen=True)
class Budgets:
    """How far one file's analysis may reach into the project before it gives up (silently)."""

    modules_per_file: int = 12
    import_depth: int = 6
    module_bytes: int = 100_000  # a bigger module is not parsed: what it defines stays unknown


@dataclass
class FileAnalysis:
    """What ``analyze_file`` returns: the checked file's findings, the names it read in each
    other module, and whether a wall-clock safety net cut the analysis short (``degraded``:
    reported, and never cached)."""

    findings: List[Finding]
    consulted_names: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    degraded: bool = False


class LoadedModule:
    """One project module's text, read once; its trees are parsed only when asked for."""

    def __init__(self, path: str, text: Optional[str], parse: bool = True) -> None:
        self.path = path
        self.text = text
        self.parse = parse  # False for a module over the size budget: it contributes nothing
        self._cst: object = None
        self._ast: object = None
        self._parsed = False
        self._ast_done = False
        self._layout: Optional["Layout"] = None
        self._skeleton: object = None
        self._definitions: Dict[object, object] = {}  # span, or ("method", span) -> (node, module)
        self.imports: Optional[list] = None  # ``gate.scan_imports`` of the text
        self._facts: object = None
        self._matches: Dict[object, bool] = {}

    @property
    def cst(self):
        """The whole libcst module, or None when it can't be read or parsed.

        The analysis reads another module through ``skeleton`` and ``definition`` instead;
        this is for a module whose ``ast`` fails (newer syntax than this Python's).
        """
        if not self._parsed:
            self._parsed = True
            if self.text is not None and self.parse:
                self._cst = _parse_cst(self.text)
        return self._cst

    # --- per-definition parses: a module is read only as far as an analysis follows it

    def layout(self) -> Optional["Layout"]:
        """Where the top-level ``def`` and ``class`` statements are, from the ``ast``; once."""
        if self._layout is None and self.parse and self.tree is not None:
            self._layout = Layout.of(self.text, self.tree)  # type: ignore[arg-type]
        return self._layout

    def skeleton(self):
        """The libcst module without its top-level definitions (their lines left blank), or None.

        Its imports, globals and other top-level statements are the module's own, at their
        own lines; each definition is parsed alone, when an analysis first looks it up.
        """
        layout = self.layout()
        if layout is None:
            return None
        if self._skeleton is None:
            self._skeleton = _parse_cst(layout.skeleton) or False
        return self._skeleton or None

    def definition(self, span: Tuple[int, int]):
        """The libcst node of the top-level definition on lines ``span``, parsed once; None if it fails."""
        return self._alone(span, method=False)

    def method(self, span: Tuple[int, int]):
        """The libcst node of the method on lines ``span``, parsed alone, once; None if it fails."""
        return self._alone(span, method=True)

    def part(self, span: Tuple[int, int], method: bool):
        """The libcst module that ``definition`` or ``method`` parsed ``span`` in (for positions)."""
        found = self._definitions.get(("method", span) if method else span)
        return found[1] if found is not None else None  # type: ignore[index]

    def _alone(self, span: Tuple[int, int], method: bool):
        key = ("method", span) if method else span
        if key not in self._definitions:
            layout = self.layout()
            text = None if layout is None else layout.method_alone(span) if method else layout.alone(span)
            module = _parse_cst(text) if text is not None else None
            found = None
            if module is not None and len(module.body) == 1:
                # a method is parsed inside a stand-in class: its only statement
                body = module.body[0].body.body if method else module.body  # type: ignore[attr-defined]
                if len(body) == 1:
                    found = (body[0], module)
            self._definitions[key] = found
        found = self._definitions[key]
        return found[0] if found is not None else None  # type: ignore[index]

    def import_lines(self) -> list:
        """``gate.scan_imports`` of the text, once (the shared cache holds only a few hundred)."""
        if self.imports is None:
            from clip_lint.prefilter.gate import scan_imports

            self.imports = scan_imports.__wrapped__(self.text) if self.text is not None else []  # type: ignore
        return self.imports

    def matches(self, key: object, pattern: "re.Pattern[str]") -> bool:
        """Whether the text has a match of ``pattern`` (remembered under ``key``)."""
        found = self._matches.get(key)
        if found is None:
            found = self._matches[key] = self.text is not None and pattern.search(self.text) is not None
        return found

    @property
    def tree(self) -> Optional[ast.Module]:
        """The module's ``ast``, or None when Python can't parse it.

        Only the trees of the last ``KEPT_TREES`` modules used stay in memory (a big project's
        trees would take hundreds of MB); what was learnt from a tree is kept apart from it.
        """
        if not self._ast_done:
            self._ast_done = True
            if self.text is not None:
                try:
                    self._ast = ast.parse(self.text)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    self._ast = None
        if self._ast is not None:
            _keep_tree(self)
        return self._ast  # type: ignore[return-value]

    def facts(self) -> Optional[TreeFacts]:
        """``TreeFacts`` of the module, or None when Python can't parse it; once."""
        if self._facts is None:
            tree = self.tree
            self._facts = TreeFacts(tree) if tree is not None else False
        return self._facts or None

    def set_tree(self, tree: ast.Module) -> None:
        """Take a tree of exactly this text that the caller already has (flake8's)."""
        if not self._ast_done:
            self._ast, self._ast_done = tree, True
            _keep_tree(self)

    def drop_tree(self) -> None:
        if self._ast is not None:
            self._ast, self._ast_done = None, False


class TreeFacts:
    """What the project layer asks of a module's ``ast`` again and again, read from it once."""

    def __init__(self, tree: ast.Module) -> None:
        self.definitions = frozenset(
            s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        )
        self.classes = frozenset(s.name for s in tree.body if isinstance(s, ast.ClassDef))
        names = set()
        for statement in tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(statement.name)
            else:
                names |= bound_names(statement)
        self.top_level_names = frozenset(names)
        imported = set()
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                imported |= {alias.asname or alias.name.split(".")[0] for alias in statement.names}
        self.imported = frozenset(imported)
        #: local name -> (module, level, name there), from the first top-level ``from`` import binding it
        self.from_imports: Dict[str, Tuple[str, int, str]] = {}
        for statement in _imports_in(tree.body):
            if isinstance(statement, ast.ImportFrom):
                for alias in statement.names:
                    self.from_imports.setdefault(
                        alias.asname or alias.name, (statement.module or "", statement.level or 0, alias.name)
                    )


#: How many modules' ``ast`` trees a process keeps; the others are parsed again if asked for.
KEPT_TREES = 16
_TREES: "OrderedDict[int, LoadedModule]" = OrderedDict()


def _keep_tree(loaded: LoadedModule) -> None:
    key = id(loaded)
    if key in _TREES:
        _TREES.move_to_end(key)
        return
    _TREES[key] = loaded
    while len(_TREES) > KEPT_TREES:
        _, oldest = _TREES.popitem(last=False)
        oldest.drop_tree()


def _parse_cst(text: str):
    import libcst

    from clip_lint.sources.parse_guard import nesting_problem

    if nesting_problem(text) is not None:
        return None  # libcst would overflow the C stack on it
    try:
        return libcst.parse_module(text)
    except Exception:  # ParserSyntaxError, RecursionError: contributes nothing
        return None


DEFINITION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Layout:
    """A module's top-level definitions by line span, and the text of the rest.

    A definition's span runs from the line after the previous top-level statement (its
    decorators and the comments above it) to its last line. Spans index ``lines`` from 1.
    """

    def __init__(
        self,
        lines: List[str],
        spans: List[Tuple[int, int]],
        functions: Dict[str, Tuple[int, int]],
        classes: Dict[str, Tuple[int, int]],
        methods: Dict[Tuple[int, int], Optional[Dict[str, Tuple[int, int]]]],
    ) -> None:
        self.lines = lines
        self.functions = functions  # name -> span; a later definition of a name wins, as when it runs
        self.classes = classes
        #: class span -> its methods' spans (None: a method shares a line with the class header)
        self.methods = methods
        blank = set()
        for start, end in spans:  # every definition, also one that a later one of its name hides
            blank.update(range(start, end + 1))
        self.skeleton = "".join("\n" if number in blank else line for number, line in enumerate(lines, 1))

    @classmethod
    def of(cls, text: str, tree: ast.Module) -> "Layout":
        from clip_lint.sources.textedits import split_lines_keepends

        functions: Dict[str, Tuple[int, int]] = {}
        classes: Dict[str, Tuple[int, int]] = {}
        methods: Dict[Tuple[int, int], Optional[Dict[str, Tuple[int, int]]]] = {}
        spans: List[Tuple[int, int]] = []
        previous_end = 0
        for statement in tree.body:
            end = statement.end_lineno or statement.lineno
            if isinstance(statement, DEFINITION_NODES):
                span = (previous_end + 1, end)
                if isinstance(statement, ast.ClassDef):
                    classes[statement.name] = span
                    methods[span] = _method_spans(statement)
                else:
                    functions[statement.name] = span
                spans.append(span)
            previous_end = end
        return cls(split_lines_keepends(text), spans, functions, classes, methods)

    def alone(self, span: Tuple[int, int]) -> str:
        """The text of one definition, at its own lines (the lines above it left blank)."""
        start, end = span
        return "\n" * (start - 1) + "".join(self.lines[start - 1: end])

    def method_alone(self, span: Tuple[int, int]) -> str:
        """The text of one method, at its own lines, in a stand-in class on the line above it."""
        start, end = span
        return "\n" * (start - 2) + "class _:\n" + "".join(self.lines[start - 1: end])


def _method_spans(node: ast.ClassDef) -> Optional[Dict[str, Tuple[int, int]]]:
    """The line spans of a class's methods (a later one of a name wins), or None when they can't
    be cut out alone: the header, or another statement, shares a line with one."""
    header_end = max([node.lineno] + [part.end_lineno or part.lineno for part in [*node.bases, *node.keywords]])
    spans: Dict[str, Tuple[int, int]] = {}
    previous_end = header_end
    for item in node.body:
        first = min([item.lineno] + [decorator.lineno for decorator in getattr(item, "decorator_list", [])])
        if first <= previous_end:
            return None
        end = item.end_lineno or item.lineno
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[item.name] = (previous_end + 1, end)
        previous_end = end
    return spans


#: Per process: path -> (digest of the bytes, module). A module's parses are shared by every run
#: and project that reads the same bytes; flake8 runs one process per job.
_LOADED: Dict[str, Tuple[str, LoadedModule]] = {}
_PROJECTS: Dict[str, "Project"] = {}


_ROOTS: Dict[Tuple[str, str], str] = {}


def find_root(path: str) -> str:
    """The nearest folder above ``path`` with a project marker. Without one, the working
    directory when the file lies under it (``python -m`` puts it first on ``sys.path``), or
    the parent of the file's top package, whichever is higher; else the file's own folder."""
    folder = os.path.dirname(os.path.abspath(path))
    key = (folder, os.getcwd())
    root = _ROOTS.get(key)
    if root is None:
        root = _ROOTS[key] = _find_root(folder, key[1])
    return root


def _find_root(folder: str, cwd: str) -> str:
    probe = folder
    while True:
        if any(os.path.exists(os.path.join(probe, marker)) for marker in ROOT_MARKERS):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    candidates = [package_parent(folder) or folder]
    if _is_within(folder, cwd):
        candidates.append(cwd)
    return min(candidates, key=len)  # both hold the file: the shorter path holds the other


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def package_parent(folder: str, is_file: Callable[[str], bool] = os.path.isfile) -> Optional[str]:
    """The parent of the highest folder, going up from ``folder``, that has an ``__init__.py``."""
    top = None
    while is_file(os.path.join(folder, "__init__.py")):
        top = folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return os.path.dirname(top) if top is not None else None


#: The texts every project of this run reads in place of the disk (``new_run``'s overlay).
_RUN_OVERLAY: Dict[str, str] = {}


def new_run(overlay: Optional[Mapping[str, str]] = None) -> None:
    """Forget this process's projects and roots: the next run reads every file and probe again.

    For a process that runs more than once (a test, a language server); a command line run is
    one process, one run. ``overlay`` ({path: text}) is read by the new run's projects in place
    of those files (a language server's open buffers): see ``SourceReader``; nothing read from
    it is cached.
    """
    _PROJECTS.clear()
    _ROOTS.clear()
    _RUN_OVERLAY.clear()
    _RUN_OVERLAY.update(overlay or {})


class Project:
    """The modules under one root, resolved and read on demand, through one recording reader.

    ``reader``: where texts come from (default: the disk; see ``SourceReader``'s overlay).
    """

    def __init__(self, root: str, budgets: Budgets = Budgets(), reader: Optional[SourceReader] = None) -> None:
        self.root = os.path.realpath(root)
        self.budgets = budgets
        self.reader = reader or SourceReader()
        self.queries = Queries(self.reader)
        #: namespace package (its first folder) -> every folder of it, as ``resolve`` found them
        self.namespaces: Dict[str, Tuple[str, ...]] = {}

    @classmethod
    def for_path(cls, path: str) -> "Project":
        """The project a file belongs to, one object per root and run (reading the run's overlay)."""
        root = os.path.realpath(find_root(path))
        project = _PROJECTS.get(root)
        if project is None:
            project = _PROJECTS[root] = cls(root, reader=SourceReader(overlay=_RUN_OVERLAY))
        return project

    def _ask(self, key: tuple, compute: Callable[[], object], bottom: object = None):
        return self.queries.ask(key, compute, bottom)

    # --- where modules live

    def inside(self, path: str) -> bool:
        """Whether a path is the project's own code: under the root, not in any site-packages."""
        real = self.reader.real_path(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            return False
        return not FOREIGN_FOLDERS.intersection(real.split(os.sep))

    def search_roots(self, importer: str) -> Tuple[str, ...]:
        """Folders an absolute import is looked up in, in Python's order for this file."""
        folder = os.path.dirname(importer)
        return self._ask(("roots", folder), lambda: self._search_roots(self.reader.real_path(folder)))

    def _search_roots(self, folder: str) -> Tuple[str, ...]:
        roots: List[str] = []
        parent = package_parent(folder, self.reader.is_file)
        if parent is None:
            roots.append(folder)  # a script: its own folder is sys.path[0]
        else:
            roots.append(parent)
        roots += [self.root, os.path.join(self.root, "src")]
        unique: List[str] = []
        for root in roots:
            if root not in unique and self.reader.is_dir(root) and self.inside(root):
                unique.append(root)
        return tuple(unique)

    def resolve(self, importer: str, module: str, level: int = 0) -> Optional[str]:
        """The file of ``module`` as imported from ``importer`` (``level`` leading dots)."""
        if level:
            base = self.reader.real_path(os.path.dirname(importer))
            for _ in range(level - 1):
                base = os.path.dirname(base)
            roots: Tuple[str, ...] = (base,)
        else:
            roots = self.search_roots(importer)
        return self._ask(("find", roots, module), lambda: self._find(roots, module))

    def _find(self, roots: Iterable[str], module: str) -> Optional[str]:
        """Where Python finds ``module`` on ``roots``, one dotted part at a time: at each part the
        first folder with ``part/__init__.py`` or ``part.py`` wins; else the ``part/`` folders
        found along the way make a namespace package (PEP 420), searched in that order for the
        next part. A namespace package itself is given as its first folder."""
        parts = [part for part in module.split(".") if part]
        entries = [root for root in roots if self.inside(root)]
        if not parts:  # ``from . import x``: the package the importer is in
            return self._package_in(entries)
        found: Optional[str] = None
        for number, part in enumerate(parts):
            found, portions = self._find_part(entries, part)
            if found is None and not portions:
                return None
            if number == len(parts) - 1:
                break
            if found is None:
                entries = portions
            elif os.path.basename(found) == "__init__.py":
                entries = [os.path.dirname(found)]
            else:
                return None  # a plain module has no submodules
        if found is None:
            return self._namespace(portions)
        return self.reader.real_path(found)

    def _find_part(self, entries: Iterable[str], part: str) -> Tuple[Optional[str], List[str]]:
        """The package or module ``part`` in the first of ``entries`` that has one, and the
        namespace portions (folders without ``__init__.py``) met before it."""
        portions: List[str] = []
        for entry in entries:
            folder = os.path.join(entry, part)
            for candidate in (os.path.join(folder, "__init__.py"), folder + SOURCE_SUFFIX):
                if self.reader.is_file(candidate) and self.inside(candidate):
                    return candidate, portions
            if self.reader.is_dir(folder) and self.inside(folder):
                portions.append(folder)
        return None, portions

    def _package_in(self, entries: List[str]) -> Optional[str]:
        """The package a folder is: its ``__init__.py``, or the folder itself as a namespace package."""
        for entry in entries[:1]:
            init = os.path.join(entry, "__init__.py")
            if self.reader.is_file(init) and self.inside(init):
                return self.reader.real_path(init)
            if self.reader.is_dir(entry):
                return self._namespace([entry])
        return None

    def _namespace(self, portions: List[str]) -> str:
        """A namespace package, named by its first folder; ``submodule`` searches all of them."""
        real = [self.reader.real_path(portion) for portion in portions]
        self.namespaces.setdefault(real[0], tuple(real))
        return real[0]

    def submodule(self, package: str, name: str) -> Optional[str]:
        """``package.name`` as a module file, when ``package`` is a package: an ``__init__.py``,
        or a namespace package's folder."""
        if os.path.basename(package) == "__init__.py":
            roots: Tuple[str, ...] = (os.path.dirname(package),)
        elif package in self.namespaces:
            roots = self.namespaces[package]
        else:
            return None
        # what ``resolve`` memoizes, looked up the same way
        return self._ask(("find", roots, name), lambda: self._find(roots, name))

    def display(self, path: str) -> str:
        """A module's path as messages name it: relative to the root, with forward slashes."""
        relative = os.path.relpath(path, self.root)
        return relative.replace(os.sep, "/")

    # --- reading

    def load(self, path: str) -> Optional[LoadedModule]:
        """The module at ``path`` as this run reads it (once), or None when it is not the project's
        or not a readable regular file."""
        if not self.inside(path):
            return None
        snapshot = self.reader.snapshot(path)
        if snapshot.digest == UNREADABLE:
            return None
        known = _LOADED.get(path)
        if known is not None and known[0] == snapshot.digest:
            return known[1]
        loaded = LoadedModule(path, snapshot.text, parse=snapshot.size <= self.budgets.module_bytes)
        _LOADED[path] = (snapshot.digest, loaded)
        return loaded

    def tree_of(self, path: str, source: str, tree: Optional[ast.Module] = None) -> Optional[ast.Module]:
        """The ``ast`` of the module at ``path``, parsed once per process, when ``source`` is its text.

        A ``tree`` the caller already has (flake8's) becomes the memo's, when none is there yet.
        The read is not recorded: the tree is of ``source`` either way.
        """
        with self.reader.unrecorded():
            loaded = self.load(path)
        if loaded is None or loaded.text != source:
            return tree
        if tree is not None:
            loaded.set_tree(tree)
        return loaded.tree

    def mentions_features(self, path: str, extra_words: Tuple[str, ...] = ()) -> bool:
        """Whether a module, or a project module it imports, names an encoder or a CLIP model.

        A text test: it decides whether a file that imports the module is worth a parse.
        """
        return self._mentions(path, ("features", extra_words), feature_words_pattern(extra_words))

    def mentions_comparisons(self, path: str) -> bool:
        """Whether a module, or a project module it imports, may compare or normalize features."""
        from clip_lint.prefilter.slicing import SINK_OR_NORM

        return self._mentions(path, ("comparisons", ()), SINK_OR_NORM)

    def _mentions(self, path: str, key: Tuple[str, Tuple[str, ...]], pattern: "re.Pattern[str]") -> bool:
        return bool(self._ask(("mentions", path, key), lambda: self._reaches_mention(path, key, pattern), False))

    def _reaches_mention(self, path: str, key: object, pattern: "re.Pattern[str]") -> bool:
        """Whether a module within ``import_depth`` imports of ``path`` (``path`` itself included)
        has a match of ``pattern``: a breadth-first walk, so import cycles and the order in which
        modules are asked about never change the answer."""
        frontier, seen = [path], {path}
        for depth in range(self.budgets.import_depth + 1):
            following: List[str] = []
            for module in frontier:
                loaded = self.load(module)
                if loaded is None or loaded.text is None:
                    continue
                if loaded.matches(key, pattern):
                    return True
                if depth < self.budgets.import_depth:
                    for target in self.imported_files(module):
                        if target not in seen:
                            seen.add(target)
                            following.append(target)
            frontier = following
        return False

    def imported_files(self, importer: str) -> Tuple[str, ...]:
        """The project files that the imports of the module at ``importer`` name (and the
        submodules a ``from`` import names), once per run."""
        return self._ask(("imports", importer), lambda: self._imported_files(importer), ())

    def _imported_files(self, importer: str) -> Tuple[str, ...]:
        loaded = self.load(importer)
        if loaded is None or loaded.text is None:
            return ()
        files: List[str] = []
        for module, level, names in loaded.import_lines():
            target = self.resolve(importer, module, level)
            if target is None:
                continue
            files.append(target)
            for name, _ in names:
                sub = self.submodule(target, name) if name else None
                if sub is not None:
                    files.append(sub)
        return tuple(files)

    def relevant_names(self, path: str, extra_words: Tuple[str, ...] = ()) -> FrozenSet[str]:
        """The definitions and globals of a module whose code may reach features, once per run.

        A name imported from another project module counts when it is relevant there (and
        not a class: building an object hands over no features by itself). Inside an import
        cycle the answer is the least one that agrees with every module of the cycle.
        """
        return self._ask(("relevant", path, extra_words), lambda: self._relevant_names(path, extra_words), frozenset())

    def _relevant_names(self, path: str, extra_words: Tuple[str, ...]) -> FrozenSet[str]:
        loaded = self.load(path)
        if loaded is None or loaded.text is None:
            return frozenset()
        if not self._may_be_relevant(path, loaded, extra_words):
            return frozenset()  # no word that could start it: no parse
        tree = loaded.tree
        if tree is None:
            return frozenset()
        leads = set()
        for statement in tree.body:
            if not isinstance(statement, ast.ImportFrom):
                continue
            target = self.resolve(path, statement.module or "", statement.level or 0)
            if target is None:
                continue
            for alias in statement.names:
                sub = self.submodule(target, alias.name)
                if sub is not None:
                    relevant = self.mentions_features(sub, extra_words)
                else:
                    relevant = self.mentions_features(target, extra_words) and (
                        alias.name in self.relevant_functions(target, extra_words)
                    )
                if relevant:
                    leads.add(alias.asname or alias.name)
        return relevant_definitions(loaded.text, leads, extra_words, tree)

    def _may_be_relevant(self, path: str, loaded: LoadedModule, extra_words: Tuple[str, ...]) -> bool:
        """Whether any definition of a module can be relevant: its text names an encoder, a CLIP
        model, or something it imports from a project module that does (a text test, no parse)."""
        if loaded.matches(("features", extra_words), feature_words_pattern(extra_words)):
            return True
        uses: Optional[Dict[str, int]] = None
        for module, level, imported in loaded.import_lines():
            target = self.resolve(path, module, level)
            if target is None:
                continue
            for name, local in imported:
                sub = self.submodule(target, name) if name else None
                if not self.mentions_features(sub or target, extra_words):
                    continue
                if local == "*":
                    return True
                if uses is None:
                    uses = {}
                    for word in WORD.findall(loaded.text):  # type: ignore[arg-type]
                        uses[word] = uses.get(word, 0) + 1
                if uses.get(local, 0) > 1:  # used beyond its own import line
                    return True
        return False

    def relevant_functions(self, path: str, extra_words: Tuple[str, ...] = ()) -> FrozenSet[str]:
        relevant = self.relevant_names(path, extra_words)
        loaded = self.load(path)
        found = loaded.facts() if relevant and loaded is not None else None
        return relevant - found.classes if found is not None else frozenset()

    def mentions_name(self, path: str, name: str) -> bool:
        loaded = self.load(path)
        if loaded is None or loaded.text is None:
            return False
        return re.search(rf"\b{re.escape(name)}\b", loaded.text) is not None

    def reexport(self, path: str, name: str) -> Optional[Tuple[str, str]]:
        """(module file, name there) when the module at ``path`` only imports ``name``."""
        loaded = self.load(path)
        if loaded is None or loaded.text is None or not re.search(rf"\b{re.escape(name)}\b", loaded.text):
            return None  # the text test first: most modules are never parsed
        found = loaded.facts()
        imported = found.from_imports.get(name) if found is not None else None
        if imported is None:
            return None
        module, level, original = imported
        target = self.resolve(path, module, level)
        return (target, original) if target is not None else None

    def imported_name_hands(self, path: str, name: str, extra_words: Tuple[str, ...] = ()) -> bool:
        """For ``from <path> import name``: whether it may hand features over (its code, or an
        object it builds, may reach an encoder or a CLIP model).

        Text tests on the module, then on the name's own definition (following re-exports).
        """
        key = ("hands", path, name, extra_words)
        return bool(self._ask(key, lambda: self._name_hands(path, name, extra_words, 0), False))

    def _name_hands(self, path: str, name: str, extra_words: Tuple[str, ...], depth: int) -> bool:
        """``imported_name_hands`` for one module of a re-export chain.

        Re-exports are read from the import lines' text, without a parse. Where a module both
        imports and may define the name (an import inside a function, say), both count.
        """
        sub = self.submodule(path, name)
        if sub is not None:
            return self.mentions_features(sub, extra_words)
        loaded = self.load(path)
        if loaded is None or loaded.text is None or name not in loaded.text:
            return False
        forwarded = self.text_reexport(path, loaded, name) if depth < self.budgets.import_depth else None
        if forwarded is not None:
            target, original = forwarded
            if original:
                hands = self._name_hands(target, original, extra_words, depth + 1)
            else:  # ``import a.b as name``: a module
                hands = self.mentions_features(target, extra_words)
            if hands or not _may_define(loaded.text, name):
                return hands
        return self.mentions_features(path, extra_words) and name in self.relevant_names(path, extra_words)

    def text_reexport(self, path: str, loaded: LoadedModule, name: str) -> Optional[Tuple[str, str]]:
        """(module file, name there; "" for a module) when an import line of the module binds ``name``."""
        for module, level, imported in loaded.import_lines():
            for original, local in imported:
                if local == name:
                    target = self.resolve(path, module, level)
                    return (target, original) if target is not None else None
        return None

    def defines(self, path: str, name: str) -> bool:
        """Whether a module defines ``name`` with ``def`` or ``class`` at its top level."""
        loaded = self.load(path)
        found = loaded.facts() if loaded is not None else None
        return found is not None and name in found.definitions

    def may_matter(self, path: str, name: str, extra_words: Tuple[str, ...] = ()) -> bool:
        """Whether a name of a module may reach features; re-exports and ``*`` imports may."""
        if not self.mentions_features(path, extra_words):
            return False  # a text test: nothing in the module or what it imports names features
        loaded = self.load(path)
        found = loaded.facts() if loaded is not None else None
        if found is None:
            return False
        if name in self.relevant_names(path, extra_words):
            return True
        return name not in found.top_level_names or name in found.imported


def _may_define(text: str, name: str) -> bool:
    """Whether a line of the module may define ``name`` (``def``, ``class``, ``=``), at any
    indentation: a fallback definition under ``try``/``if`` counts (so may a method)."""
    escaped = re.escape(name)
    pattern = (
        rf"^[ \t]*(?:(?:async[ \t]+)?def|class)[ \t]+{escaped}\b"
        rf"|^[ \t]*{escaped}\b[^\n=]*="
        rf"|^[ \t]*[\w, \t()\[\]]*\b{escaped}\b[\w, \t()\[\]]*="
    )
    return re.search(pattern, text, re.MULTILINE) is not None


def _imports_in(statements: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """The import statements at the top level, also inside ``if`` / ``try`` blocks there."""
    for statement in statements:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            yield statement
        elif isinstance(statement, (ast.If, ast.Try)):
            blocks = [statement.body, statement.orelse] + [h.body for h in getattr(statement, "handlers", [])]
            for block in blocks:
                yield from _imports_in(block)
