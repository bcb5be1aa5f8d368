"""Which top-level definitions of a module may matter to the analysis: a text and ``ast`` test.

A definition *may be relevant* when its code names an encoder, an embedding field or a CLIP
model, or uses a name that is relevant in turn. The project layer asks it of the modules a file
imports, and the engine of the module it reads: the others are never parsed with libcst.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, FrozenSet, Iterable, Optional, Set, Tuple

from clip_lint import facts
from clip_lint.sources.textedits import split_lines_keepends

WORD = re.compile(r"[A-Za-z_]\w*")
MODEL_CLASSES = facts.PROJECTION_MODEL_CLASSES | facts.NORMALIZING_MODEL_CLASSES
#: Words that name a definition without using it: ``def name`` and ``super().name``.
NOT_A_USE = re.compile(r"\bdef\s+\w+|\bsuper\s*\(\s*\)\s*\.\s*\w+")


def relevant_definitions(
    text: str, leads: Iterable[str], extra_words: Tuple[str, ...] = (), tree: Optional[ast.Module] = None
) -> FrozenSet[str]:
    """Names of top-level functions, classes, methods and globals whose code may reach features:
    it names an encoder or a CLIP model, or uses such a name or an import in ``leads``."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return frozenset()
    lines = split_lines_keepends(text)  # as Python counts lines (``str.splitlines`` splits at more)
    texts: Dict[str, str] = {}

    def add(name: str, node: ast.AST, end: Optional[int] = None) -> None:
        code = "".join(lines[node.lineno - 1: end or node.end_lineno])  # type: ignore[attr-defined]
        texts[name] = texts.get(name, "") + code

    bases: Dict[str, Set[str]] = {}  # a class -> the words of its header (its bases)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            add(node.name, node)
        if isinstance(node, ast.ClassDef):
            # A class's code is its header (its bases) and its methods: the analysis runs only
            # those. Field declarations (``image_embeds: Tensor = None``) hand nothing over.
            add(node.name, node, max(node.lineno, node.body[0].lineno - 1))
            bases[node.name] = set(WORD.findall(texts[node.name]))
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    add(node.name, item)
                    add(item.name, item)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in bound_names(node):
                add(target, node)
    pattern = feature_words_pattern(extra_words)
    # A method's name is shared by every method so named in the module (``forward``,
    # ``__init__``): defining one, or calling the base class's through ``super()``, uses none of
    # the others. A class inherits from its bases instead.
    words = {name: set(WORD.findall(NOT_A_USE.sub("", code))) for name, code in texts.items()}
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    globals_ = set(texts) - classes - _defined_functions(tree)
    leads = set(leads)
    relevant = {name for name, code in texts.items() if _names_features(code, pattern) or words[name] & leads}
    grown = True
    while grown:
        # Calling a class hands over no features by itself; an object kept in a global may.
        reachable = relevant - classes
        more = {
            name for name in texts
            if name not in relevant
            and (
                words[name] & (relevant if name in globals_ else reachable)
                or name in bases and bases[name] & relevant  # a class inherits from its bases
            )
        }
        relevant |= more
        grown = bool(more)
    return frozenset(relevant)


def _names_features(code: str, pattern: "re.Pattern[str]") -> bool:
    """Whether code names an encoder, an embedding field or a CLIP model, other than as a type it
    tests against (``isinstance(encoder, CLIPTextModel)`` builds and calls nothing)."""
    for found in pattern.finditer(code):
        if found.group() not in MODEL_CLASSES or not _in_type_test(code, found.start()):
            return True
    return False


_TYPE_TEST = re.compile(r"\b(?:isinstance|issubclass)\s*\(")
_TESTED_VALUE = re.compile(r"[\w.\s\[\]]*")  # what comes before the comma: a name, an attribute
_TYPES_SO_FAR = re.compile(r"[\s(]*(?:[\w.]+\s*,\s*)*")  # a tuple of names, up to the one found


def _in_type_test(code: str, position: int) -> bool:
    """Whether ``position`` is in the second argument of an ``isinstance``/``issubclass`` call
    that the same line opens (a name or a tuple of names, nothing else)."""
    line_start = code.rfind("\n", 0, position) + 1
    for test in _TYPE_TEST.finditer(code, line_start, position):
        inner = code[test.end(): position]
        first, comma, rest = inner.partition(",")
        if comma and _TESTED_VALUE.fullmatch(first) and _TYPES_SO_FAR.fullmatch(rest):
            return True
    return False


def _defined_functions(tree: ast.Module) -> FrozenSet[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return frozenset(names)


_PATTERNS: Dict[Tuple[str, ...], "re.Pattern[str]"] = {}


def feature_words_pattern(extra_words: Tuple[str, ...] = ()) -> "re.Pattern[str]":
    """Words that make a module a possible source of features: encoders, fields, model classes."""
    pattern = _PATTERNS.get(extra_words)
    if pattern is None:
        words = set(facts.GATE_WORDS) | MODEL_CLASSES
        words |= set(extra_words)
        pattern = _PATTERNS[extra_words] = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words))) + r")\b")
    return pattern


def bound_names(statement: ast.stmt) -> FrozenSet[str]:
    names = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return frozenset(names)
