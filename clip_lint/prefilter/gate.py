"""The gate: text tests that run before any parse, and need neither libcst nor the engine.

A file that never names an encoder or an embedding field has no finding (``passes_gate``),
unless it imports, from the project, code that may hand it features, and either compares or
normalizes them itself or imports project code that may compare or normalize what it is given
(``needs_analysis``, ``project_gate``): the project's summaries of the imported names decide,
not the module's own words. A run (or a warm cache) that stops here never imports libcst, so
nothing here may. ``CLIP_LINT_SPEEDUPS_OFF=gate`` lets every file through.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Callable, Dict, List, Optional, Protocol, Tuple

from clip_lint import facts
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.ast_filter import hands_to_project_code
from clip_lint.prefilter.slicing import SINK_OR_NORM_WORDS
from clip_lint.prefilter.speedups import enabled

__all__ = [
    "DEFAULT_OPTIONS", "ImportGraph", "calls_comparing", "compares", "compares_things", "comparing_imports",
    "encoding_imports", "may_compare", "may_need_project", "needs_analysis", "passes_gate", "passes_parsed_gate",
    "project_code_names", "project_gate", "project_imports", "scan_imports",
]

DEFAULT_OPTIONS = AnalysisOptions()


class ImportGraph(Protocol):
    """What the gate asks of the project layer (``clip_lint.project.modules.Project``)."""

    def resolve(self, importer: str, module: str, level: int = 0) -> Optional[str]: ...

    def mentions_features(self, path: str, extra_words: Tuple[str, ...] = ()) -> bool: ...

    def mentions_comparisons(self, path: str) -> bool: ...

    def imported_name_hands(self, path: str, name: str, extra_words: Tuple[str, ...] = ()) -> bool: ...

    def imported_name_compares(self, path: str, name: str) -> bool: ...

    def compares_itself(self, path: str) -> bool: ...

    def imported_name_encodes(self, path: str, name: str, extra_words: Tuple[str, ...] = ()) -> bool: ...

    def mentions_encoders(self, path: str, extra_words: Tuple[str, ...] = ()) -> bool: ...


def passes_gate(source: str, options: AnalysisOptions = DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding.

    With the gate switched off (``CLIP_LINT_SPEEDUPS_OFF=gate``) every text passes."""
    return (
        any(word in source for word in facts.GATE_WORDS)
        or any(word in source for word in options.extra_encoders)
        or not enabled("gate")
    )


#: Calls that compare or normalize (``compares``, exact on the ``ast``): every similarity op,
#: inner-product index method, product sum and norm of the facts tables, by last name. In the
#: text, a module that never names an encoder is parsed only with one of these, or an ``@`` that
#: may be an operator (``may_compare``), and an import that leads to features.
COMPARING_CALLS = frozenset(SINK_OR_NORM_WORDS)
#: Of those, the names the text test takes anywhere (names this rare may be a callable held as a
#: value); the others, common words, only as a word before ``(``.
_ANYWHERE = COMPARING_CALLS & frozenset(
    {"matmul", "einsum", "tensordot", "normalize", "normalize_L2", "vector_norm", "vdot",
     "add_with_ids", "range_search"}
)
# Literal candidates first (one cheap scan; the longest name first), then the rest at each one.
_CANDIDATE = re.compile("|".join(sorted(COMPARING_CALLS, key=lambda name: (-len(name), name))))
_CALL_AFTER = re.compile(r"(?:[\s\\]|#[^\r\n]*)*\(")
_WORD_CHAR = re.compile(r"\w")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # Python's own line ends (``str.splitlines`` knows more)
_DECORATOR_START = re.compile(r"([ \t\f]*)@[A-Za-z_]")
_DEFINITION_START = re.compile(r"@|def\b|async\b|class\b")
_SIMPLE_STRING = re.compile(r"\"[^\"\\\n]*\"|'[^'\\\n]*'")


def may_compare(source: str) -> bool:
    """Whether the text may compare or normalize: a comparing name, or an ``@`` that may be the
    operator. Only an ``@`` that surely starts a decorator is passed over, so that modules whose
    only ``@`` are decorators (most of them) need no parse; ``compares`` is the exact test."""
    if _names_comparison(source):
        return True
    if "@" not in source:
        return False
    lines = _LINE_BREAK.split(source)
    for number, line in enumerate(lines):
        at = line.find("@")
        if at < 0:
            continue
        if line[:at].strip(" \t\f") or not _is_decorator(lines, number):
            return True
        if "@" in line[at + 1:]:
            return True  # another ``@`` on a decorator's line may be an operator in its expression
    return False


def _names_comparison(source: str) -> bool:
    """Whether the text names a comparing call: one of ``_ANYWHERE`` anywhere, another name of
    ``COMPARING_CALLS`` as a word followed by ``(`` (a line break or a comment may come between)."""
    found = _CANDIDATE.search(source)
    while found is not None:
        if found.group() in _ANYWHERE:
            return True
        start, end = found.span()
        if not (start and _WORD_CHAR.match(source, start - 1)) and _CALL_AFTER.match(source, end):
            return True
        # the next candidate may overlap this one ("mm" in "mmatmul"): look again one character on
        found = _CANDIDATE.search(source, start + 1)
    return False


def _is_decorator(lines: List[str], number: int) -> bool:
    """Whether the ``@`` that starts line ``number`` surely starts a decorator: ``@name...`` on a
    line that closes no bracket it didn't open, that doesn't continue the line above (``\\``),
    and that is followed, at its own indentation, by another decorator or the definition.

    An ``@`` operator at the start of a line is inside brackets or after a backslash: the line
    after it can't start a definition while the brackets are open, and the line that closes
    them closes more than it opens."""
    line = lines[number]
    start = _DECORATOR_START.match(line)
    if start is None:
        return False
    if number > 0 and lines[number - 1].endswith("\\"):
        return False
    code = _code_part(line)
    if code is None or sum(map(code.count, ")]}")) > sum(map(code.count, "([{")):
        return False
    indentation = start.group(1)
    for following in lines[number + 1:]:
        stripped = following.strip(" \t\f")
        if not stripped or stripped.startswith("#"):
            continue
        return following.startswith(indentation) and _DEFINITION_START.match(following, len(indentation)) is not None
    return False


def _code_part(line: str) -> Optional[str]:
    """The line without its simple string literals and its comment; None when a quote is left
    (a string this can't read: its brackets can't be counted)."""
    code = _SIMPLE_STRING.sub('""', line)
    code = code.split("#", 1)[0]
    return None if "'" in code.replace('""', "") or '"' in code.replace('""', "") else code


def compares(tree: ast.Module) -> bool:
    """Whether a module's code compares or normalizes anything: ``@``, or a call named so."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in COMPARING_CALLS:
                return True
    return False


#: Calls that compare or normalize wherever they are (``compares_things``); a sum, an index's
#: ``add`` or ``search`` and a square root compare only in a context (below).
_STRICTLY_COMPARING = (COMPARING_CALLS | {"rsqrt"}) - {"sum", "sqrt", "add", "search", "add_with_ids", "range_search"}
_INDEX_METHODS = frozenset({"add", "search", "add_with_ids", "range_search"})
_PRODUCTS = (ast.Mult, ast.Pow)


def compares_things(tree: ast.AST) -> bool:
    """Whether code may compare or normalize: an ``@``, a similarity op or a norm by name, a sum of
    a product or a power (``(a * b).sum(-1)``, ``(x ** 2).sum()``), or an index's ``add`` /
    ``search`` in code that names an index. The project's summary of a definition (does it
    compare what it is given?): narrower than ``compares``, which takes every such name."""
    names_index: Optional[bool] = None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return True
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in _STRICTLY_COMPARING:
            return True
        if name == "sum":  # ``(a * b).sum()`` or ``torch.sum(a * b)``
            operands = [func.value] if isinstance(func, ast.Attribute) else []
            if any(_is_product(operand) for operand in operands + node.args[:1]):
                return True
        if name in _INDEX_METHODS:
            if names_index is None:
                names_index = any(
                    "index" in (getattr(n, "id", "") or getattr(n, "attr", "") or getattr(n, "arg", "")).lower()
                    for n in ast.walk(tree) if isinstance(n, (ast.Name, ast.Attribute, ast.arg))
                )
            if names_index:
                return True
    return False


def _is_product(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _PRODUCTS)
    return isinstance(node, ast.Call) and _called_name(node) in ("pow", "square", "mul", "multiply")


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def needs_analysis(
    source: str,
    options: AnalysisOptions,
    path: Optional[str],
    project: Optional[ImportGraph],
    project_answer: Optional[Callable[[], bool]] = None,
) -> bool:
    """The gate, with a project: an encoder word, or ``project_gate``. ``project_answer``
    answers ``project_gate`` instead (the cache's remembered answer). A module that imports
    nothing is decided by its text alone."""
    if passes_gate(source, options):
        return True
    if project is None or path is None or not may_need_project(source):
        return False
    if project_answer is not None:
        return project_answer()
    return project_gate(source, options, path, project)


def may_need_project(source: str) -> bool:
    """Whether a module that names no encoder may still need its project: it imports something."""
    return "import" in source and bool(scan_imports(source))


def project_gate(source: str, options: AnalysisOptions, path: Optional[str], project: Optional[ImportGraph]) -> bool:
    """The gate's question to the project, for a module that names no encoder: does it import
    project code that may hand it features, and either compare or normalize them itself (an
    ``@`` or a comparing call in its text), or hand them to project code that may compare or
    normalize what it is given (``calls_comparing``)? Text tests, and the project's summaries."""
    if project is None or path is None:
        return False
    if not project_imports(source, options, path, project)[1]:
        return False
    # what makes features first: a narrower text test than what compares, so most modules stop there
    return may_compare(source) or (
        bool(encoding_imports(source, options, path, project)) and calls_comparing(source, path, project)
    )


def passes_parsed_gate(
    tree: ast.Module,
    source: str,
    options: AnalysisOptions,
    path: Optional[str],
    project: Optional[ImportGraph],
    handing: Tuple[str, ...] = (),
) -> bool:
    """After the parse, for a module that passed ``project_gate``: it compares or normalizes
    (exact, on the ``ast``), or what it imports from project code that may hand features over
    (``handing``, from ``project_imports``) may reach a call into imported project code that may
    compare or normalize it: the module hands one project module's features to another's
    comparison (a flow test on the ``ast``, ``ast_filter.hands_to_project_code``)."""
    if compares(tree):
        return True
    if project is None or path is None or not handing:
        return False
    encoding = encoding_imports(source, options, path, project)
    if not encoding:
        return False
    comparing = comparing_imports(source, path, project)
    if not comparing:
        return False
    if STAR in comparing or STAR in encoding:
        # The names a ``*`` import binds are unknown here: any name the module uses and never binds.
        free = _free_names(tree)
        comparing = (*comparing, *free) if STAR in comparing else comparing
        encoding = (*encoding, *free) if STAR in encoding else encoding
    return hands_to_project_code(tree, options, comparing, encoding)


def _free_names(tree: ast.Module) -> Tuple[str, ...]:
    """Names the module reads but never binds (nor are builtins): what a ``*`` import may bind."""
    import builtins

    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return tuple(sorted(read - bound - set(dir(builtins))))


def encoding_imports(source: str, options: AnalysisOptions, path: str, project: ImportGraph) -> Tuple[str, ...]:
    """The local names a module imports from project code that may make features (it names an
    encoder or a CLIP model class: ``imported_name_encodes``); ``STAR`` for a ``*`` import of it.
    What a module hands to another module's comparison comes from one of these."""
    names = set()
    for module, level, imported in scan_imports(source):
        target = project.resolve(path, module, level)
        if target is None:
            continue
        for name, local in imported:
            if name == STAR or not name:
                encodes = project.mentions_encoders(target, options.extra_encoders)
            else:
                encodes = project.imported_name_encodes(target, name, options.extra_encoders)
            if encodes:
                names.add(local)
    return tuple(sorted(names))


def calls_comparing(source: str, path: str, project: ImportGraph) -> bool:
    """Whether a module imports, and uses beyond its import line, a project name that may compare
    or normalize what it is given (the project's summary of that name: ``imported_name_compares``;
    a module as a whole, or a ``*`` import, by its text)."""
    return bool(comparing_imports(source, path, project))


def comparing_imports(source: str, path: str, project: ImportGraph) -> Tuple[str, ...]:
    """The local names ``calls_comparing`` looks for (``STAR`` for a ``*`` import of such code)."""
    names = set()
    uses: Optional[Dict[str, int]] = None
    for module, level, imported in scan_imports(source):
        target = project.resolve(path, module, level)
        if target is None:
            continue
        for name, local in imported:
            if name == STAR:  # what it binds may come from further ``*`` imports: the text, transitively
                if project.mentions_comparisons(target):
                    names.add(STAR)
                continue
            if uses is None:
                uses = _word_counts(source)
            if uses.get(local, 0) < 2:  # named only on its import line
                continue
            # a module as a whole by its own text: what its submodules do is reached by name
            if project.imported_name_compares(target, name) if name else project.compares_itself(target):
                names.add(local)
    return tuple(sorted(names))


def _word_counts(source: str) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for word in _WORD_RE.findall(source):
        counts[word] = counts.get(word, 0) + 1
    return counts


_WORD_RE = re.compile(r"[A-Za-z_]\w*")


def project_imports(
    source: str, options: AnalysisOptions, path: str, project: ImportGraph
) -> Tuple[Tuple[str, ...], bool]:
    """The local names a module imports from project modules that may hand it features, and
    whether there is one. A ``*`` import of a module that may matter counts so, and its names,
    unknown here, are given as ``STAR``.

    A cheap test from the import lines' text: it lets a module that never names an encoder
    through the gate when one of its imports leads to one. Names that may only compare,
    normalize or pass on what they are given are the pre-filter's ``project_code_names``.
    """
    names: List[str] = []
    hands_features = False
    for module, level, imported in scan_imports(source):
        target = project.resolve(path, module, level)
        if target is None:
            continue
        for name, local in imported:
            if name == STAR:  # names unknown here: whatever the module may do, the engine decides
                if project.mentions_features(target, options.extra_encoders) or project.mentions_comparisons(target):
                    names.append(STAR)
                    hands_features = True
                continue
            if name:
                features = project.imported_name_hands(target, name, options.extra_encoders)
            else:  # ``import a.b``: the module as a whole
                features = project.mentions_features(target, options.extra_encoders)
            if features:
                names.append(local)
                hands_features = True
    return tuple(sorted(set(names))), hands_features


def project_code_names(source: str, path: str, project: ImportGraph) -> Tuple[str, ...]:
    """Every local name a module's import lines bind to the project's own code (functions,
    classes, globals, modules), whether or not it may matter: any may pass features on."""
    names = set()
    for module, level, imported in scan_imports(source):
        target = project.resolve(path, module, level)
        if target is None:
            continue
        names.update(local for name, local in imported if name != STAR)
    return tuple(sorted(names))


# --- import statements, without a parse ------------------------------------------------------

STAR = "*"
# Strings and comments are blanked first: an import inside a docstring or a comment is not one.
_STRING_OR_COMMENT = re.compile(
    r"#[^\r\n]*"
    r'|"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*"""'
    r"|'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*'''"
    r'|"[^"\\\r\n]*(?:\\[\s\S][^"\\\r\n]*)*"'
    r"|'[^'\\\r\n]*(?:\\[\s\S][^'\\\r\n]*)*'"
)
_CONTINUATION = re.compile(r"\\(?:\r\n|\r|\n)")
_KEYWORDS = (re.compile("from"), re.compile("import"))  # two literal searches: far faster than one pattern
_WORD = re.compile(r"\w")
_FROM = re.compile(
    r"from[ \t\f]*((?:\.[ \t\f]*)*)(\w+(?:[ \t\f]*\.[ \t\f]*\w+)*)?[ \t\f]*import\b[ \t\f]*(\([^)]*\)|[^\r\n;]*)"
)
_IMPORT = re.compile(r"import\b[ \t\f]*([^\r\n;]*)")
_AS = re.compile(r"^(\w+(?:\s*\.\s*\w+)*)(?:\s+as\s+(\w+))?$")
_SPACE = re.compile(r"\s+")

ImportLine = Tuple[str, int, List[Tuple[str, str]]]


@functools.lru_cache(maxsize=512)  # the gate and the project layer ask it of the same texts again and again
def scan_imports(text: str) -> List[ImportLine]:
    """(module, level, [(imported name, local name)]) for each import statement of ``text``, in
    order; shared, don't mutate.

    ``import a.b`` gives ``("a.b", 0, [("", "a")])``; ``from m import *`` gives
    ``("m", 0, [("*", "*")])``. It finds what Python's parser finds, at any depth (in functions,
    under ``if``/``try``, after ``:`` or ``;``), across backslash continuations and brackets,
    with spaces around the dots (``from . feats import x``), and never inside a string or a
    comment: the engine follows every one of them. A test compares it with ``ast`` on real code.
    """
    if "import" not in text:
        return []
    code = _CONTINUATION.sub(" ", _STRING_OR_COMMENT.sub(" ", text))
    found: List[Tuple[int, ImportLine]] = []
    for start, keyword in sorted((hit.start(), hit.group()) for pattern in _KEYWORDS for hit in pattern.finditer(code)):
        if not _starts_statement(code, start, len(keyword)):
            continue
        if keyword == "from":
            found.extend((start, line) for line in _from_import(code, start))
        else:
            found.extend((start, line) for line in _plain_import(code, start))
    return [line for _, line in found]


def _starts_statement(code: str, start: int, length: int) -> bool:
    """Whether the keyword at ``start`` is a whole word that starts a statement: first on its
    line, or after a ``;`` or a compound statement's ``:``."""
    if (start and _WORD.match(code, start - 1)) or _WORD.match(code, start + length):
        return False
    line_start = max(code.rfind("\n", 0, start), code.rfind("\r", 0, start)) + 1
    before = code[line_start:start].rstrip(" \t\f")
    return not before or before[-1] in ";:"


def _from_import(code: str, start: int) -> List[ImportLine]:
    match = _FROM.match(code, start)
    if match is None:
        return []  # ``yield from`` or ``raise ... from`` at a line's start, say
    dots, module, listed = match.groups()
    names = []
    for part in listed.strip().strip("()").split(","):
        part = part.strip()
        alias = _AS.match(part)
        if part == STAR:
            names.append((STAR, STAR))
        elif alias:
            names.append((alias.group(1), alias.group(2) or alias.group(1)))
    return [(_SPACE.sub("", module or ""), dots.count("."), names)]


def _plain_import(code: str, start: int) -> List[ImportLine]:
    found = []
    for part in _IMPORT.match(code, start).group(1).split(","):  # type: ignore[union-attr]
        alias = _AS.match(part.strip())
        if alias:
            module = _SPACE.sub("", alias.group(1))
            found.append((module, 0, [("", alias.group(2) or module.split(".")[0])]))
    return found
