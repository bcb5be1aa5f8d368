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
    """A substring test that runs before any parse: no encoder word, no finding."""
    return any(word in source for word in facts.GATE_WORDS) or any(
        word in source for word in options.extra_encoders
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
    position = 0
    while True:
        found = _CANDIDATE.search(source, position)
        if found is None:
            return False
        if found.group() in _ANYWHERE:
            return True
        start, end = found.span()
        if not (start and _WORD_CHAR.match(source, start - 1)) and _CALL_AFTER.match(source, end):
            return True  # a word of its own (not inside a longer one), called
        position = start + 1  # a candidate may start inside this one: "mm" in "mmatmul"


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


# --- import lines, without a parse -------------------------------------------------------------

_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]*(?:\(([^)]*)\)|((?:[^\n#;\\]|\\\r?\n)*))", re.MULTILINE
)
_COMMENT = re.compile(r"#[^\n]*")
STAR = "*"
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_AS = re.compile(r"^([\w.]+)(?:\s+as\s+(\w+))?$")


@functools.lru_cache(maxsize=512)  # the gate and the cache's checks ask it of the same modules again and again
def scan_imports(text: str) -> List[Tuple[str, int, List[Tuple[str, str]]]]:
    """(module, level, [(imported name, local name)]) for each import line of ``text``; shared, don't mutate.

    ``import a.b`` gives ``("a.b", 0, [("", "a")])``; ``from m import *`` gives
    ``("m", 0, [("*", "*")])``. A ``from`` import's names may continue on later lines, in
    brackets or after backslashes.
    """
    found: List[Tuple[str, int, List[Tuple[str, str]]]] = []
    for match in _FROM_IMPORT.finditer(text):
        names = []
        listed = match.group(3) if match.group(3) is not None else match.group(4).replace("\\", " ")
        for part in _COMMENT.sub("", listed).split(","):
            alias = _AS.match(part.strip())
            if alias:
                names.append((alias.group(1), alias.group(2) or alias.group(1)))
            elif part.strip() == STAR:
                names.append((STAR, STAR))
        found.append((match.group(2), len(match.group(1)), names))
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            alias = _AS.match(part.strip())
            if alias:
                module = alias.group(1)
                found.append((module, 0, [("", alias.group(2) or module.split(".")[0])]))
    return found
