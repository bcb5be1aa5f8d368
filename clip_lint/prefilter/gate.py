"""The gate: text tests that run before any parse, and need neither libcst nor the engine.

A file that never names an encoder or an embedding field has no finding (``passes_gate``),
unless it imports, from the project, code that may hand it features and it may compare them
(``needs_analysis``). A run (or a warm cache) that stops here never imports libcst, so nothing
here may.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Callable, List, Optional, Protocol, Tuple

from clip_lint import facts
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.speedups import enabled

__all__ = [
    "DEFAULT_OPTIONS", "ImportGraph", "compares", "may_compare", "needs_analysis", "passes_gate",
    "project_code_names", "project_imports", "scan_imports",
]

DEFAULT_OPTIONS = AnalysisOptions()


class ImportGraph(Protocol):
    """What the gate asks of the project layer (``clip_lint.project.modules.Project``)."""

    def resolve(self, importer: str, module: str, level: int = 0) -> Optional[str]: ...

    def mentions_features(self, path: str, extra_words: Tuple[str, ...] = ()) -> bool: ...

    def mentions_comparisons(self, path: str) -> bool: ...

    def imported_name_hands(self, path: str, name: str, extra_words: Tuple[str, ...] = ()) -> bool: ...


def passes_gate(source: str, options: AnalysisOptions = DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding.

    With the gate switched off (``CLIP_LINT_SPEEDUPS_OFF=gate``) every text passes."""
    return (
        any(word in source for word in facts.GATE_WORDS)
        or any(word in source for word in options.extra_encoders)
        or not enabled("gate")
    )


#: Calls that compare or normalize (``compares``, exact on the ``ast``). In the text, a module that
#: never names an encoder is parsed only with one of these, or an ``@`` that may be an operator
#: (``may_compare``), and an import that leads to features.
COMPARING_CALLS = frozenset({"matmul", "einsum", "mm", "bmm", "dot", "inner", "tensordot", "norm", "normalize"})
#: Of those, the names the text test takes anywhere; the others only as a word before ``(``.
_ANYWHERE = frozenset({"matmul", "einsum", "tensordot", "normalize"})
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


def needs_analysis(
    source: str,
    options: AnalysisOptions,
    path: Optional[str],
    project: Optional[ImportGraph],
    hands_features: Optional[Callable[[], bool]] = None,
) -> bool:
    """The gate, with a project: an encoder word, or an import that leads to one and code that
    may compare or normalize what it hands over. ``hands_features`` answers the last question
    instead of ``project_imports`` (the cache's remembered answer)."""
    if passes_gate(source, options):
        return True
    if project is None or path is None or not may_compare(source):
        return False
    if hands_features is not None:
        return hands_features()
    return project_imports(source, options, path, project)[1]


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
