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


class DefinitionTexts:
    """The code of each top-level function, class (header and methods), method and global of a
    module, and the words each uses: what the relevance tests read."""

    def __init__(self, text: str, tree: ast.Module) -> None:
        lines = split_lines_keepends(text)  # as Python counts lines (``str.splitlines`` splits at more)
        self.texts: Dict[str, str] = {}

        def add(name: str, node: ast.AST, end: Optional[int] = None) -> None:
            code = "".join(lines[node.lineno - 1: end or node.end_lineno])  # type: ignore[attr-defined]
            self.texts[name] = self.texts.get(name, "") + code

        self.bases: Dict[str, Set[str]] = {}  # a class -> the words of its header (its bases)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                add(node.name, node)
            if isinstance(node, ast.ClassDef):
                # A class's code is its header (its bases) and its methods: the analysis runs only
                # those. Field declarations (``image_embeds: Tensor = None``) hand nothing over.
                add(node.name, node, max(node.lineno, node.body[0].lineno - 1))
                self.bases[node.name] = set(WORD.findall(self.texts[node.name]))
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        add(node.name, item)
                        add(item.name, item)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in bound_names(node):
                    add(target, node)
        # A method's name is shared by every method so named in the module (``forward``,
        # ``__init__``): defining one, or calling the base class's through ``super()``, uses none
        # of the others. A class inherits from its bases instead.
        self.words = {name: set(WORD.findall(NOT_A_USE.sub("", code))) for name, code in self.texts.items()}
        self.classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
        self.globals = set(self.texts) - self.classes - _defined_functions(tree)

    def grow(self, relevant: Set[str], through_classes: bool) -> FrozenSet[str]:
        """``relevant`` and every definition that uses one of them, to a fixed point; a class
        counts through its bases. Unless ``through_classes``, a function or class that only names
        a relevant class (builds an object) is not reached: only a global that keeps one is."""
        relevant = set(relevant)
        grown = True
        while grown:
            reachable = relevant if through_classes else relevant - self.classes
            more = {
                name for name in self.texts
                if name not in relevant
                and (
                    self.words[name] & (relevant if name in self.globals else reachable)
                    or name in self.bases and self.bases[name] & relevant
                )
            }
            relevant |= more
            grown = bool(more)
        return frozenset(relevant)


def _parsed(text: str, tree: Optional[ast.Module]) -> Optional[ast.Module]:
    if tree is not None:
        return tree
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def relevant_definitions(
    text: str,
    leads: Iterable[str],
    extra_words: Tuple[str, ...] = (),
    tree: Optional[ast.Module] = None,
    pattern: Optional["re.Pattern[str]"] = None,
    definitions: Optional[DefinitionTexts] = None,
) -> FrozenSet[str]:
    """Names of top-level functions, classes, methods and globals whose code may reach features:
    it names an encoder or a CLIP model (or what ``pattern`` finds), or uses such a name or an
    import in ``leads``. ``definitions``: the module's, when the caller keeps them."""
    if definitions is None:
        tree = _parsed(text, tree)
        if tree is None:
            return frozenset()
        definitions = DefinitionTexts(text, tree)
    pattern = pattern or feature_words_pattern(extra_words)
    leads = set(leads)
    relevant = {
        name for name, code in definitions.texts.items()
        if _names_features(code, pattern) or definitions.words[name] & leads
    }
    # Calling a class hands over no features by itself; an object kept in a global may.
    return definitions.grow(relevant, through_classes=False)


def comparing_definitions(
    text: str,
    leads: Iterable[str],
    tree: Optional[ast.Module] = None,
    definitions: Optional[DefinitionTexts] = None,
    seeds: Optional[FrozenSet[str]] = None,
) -> FrozenSet[str]:
    """Names of top-level functions, classes, methods and globals whose code may compare or
    normalize what it is given: it has a similarity op, a product sum, an index sink or a norm
    (``comparing_seeds``), or uses such a name (a class included: its methods may run) or an
    import in ``leads`` (``"*"``: a ``*`` import of such code, whose names are unknown here:
    every definition). ``definitions`` and ``seeds``: the module's, when the caller keeps them."""
    if definitions is None or seeds is None:
        tree = _parsed(text, tree)
        if tree is None:
            return frozenset()
        definitions = DefinitionTexts(text, tree)
        seeds = comparing_seeds(tree)
    leads = set(leads)
    if "*" in leads:  # a ``*`` import of code that compares binds names unknown here
        return frozenset(definitions.texts)
    comparing = {name for name, words in definitions.words.items() if words & leads} | seeds
    return definitions.grow(comparing & set(definitions.texts), through_classes=True)


def comparing_seeds(tree: ast.Module) -> FrozenSet[str]:
    """The top-level definitions, methods and globals whose own code compares or normalizes
    (``gate.compares_things``), before any use of another is counted."""
    from clip_lint.prefilter.gate import compares_things

    seeds: Set[str] = set()
    for node in tree.body:
        if not compares_things(node):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            seeds |= bound_names(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            seeds.add(node.name)
            if isinstance(node, ast.ClassDef):
                seeds |= {
                    item.name for item in node.body
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and compares_things(item)
                }
    return frozenset(seeds)


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
_ENCODER_PATTERNS: Dict[Tuple[str, ...], "re.Pattern[str]"] = {}


def encoder_words_pattern(extra_words: Tuple[str, ...] = ()) -> "re.Pattern[str]":
    """Words that make code a maker of features: encoders and CLIP model classes. Unlike
    ``feature_words_pattern``, an embedding field doesn't count: code that only reads or passes
    on ``image_embeds`` (a UNet's conditioning) makes none."""
    pattern = _ENCODER_PATTERNS.get(extra_words)
    if pattern is None:
        words = set(facts.ENCODER_METHODS) | MODEL_CLASSES | set(extra_words)
        pattern = _ENCODER_PATTERNS[extra_words] = re.compile(
            r"\b(?:" + "|".join(sorted(map(re.escape, words))) + r")\b"
        )
    return pattern


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
