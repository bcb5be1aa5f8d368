"""Blank out the definitions that can't matter, before the costly libcst parse.

A module passes the substring gate when it merely mentions an encoder; often only a
few of its functions call one. Definitions that neither call an encoder nor are linked
to code that does are replaced by blank lines (a ``pass`` where a class body needs one),
so libcst parses much less while every kept line keeps its line and column.

Every test here errs on the side of keeping code: slicing must never change a finding
(``tests/test_slicing_property.py`` checks that on generated programs, formatter layouts
included).
"""

from __future__ import annotations

import ast
import re
from typing import Dict, Iterable, Iterator, List, Optional, Pattern, Set, Tuple

from clip_lint import facts
from clip_lint.sources.textedits import split_lines_keepends

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: What may stand between two tokens inside brackets: whitespace, line breaks, comments,
#: backslash continuations (formatters break lines anywhere there).
GAP = r"(?:\s|\\\r?\n|#[^\r\n]*)*"
CALLED_NAME = re.compile(rf"\b([A-Za-z_]\w*){GAP}\(")
SELF_ATTR = re.compile(rf"\bself{GAP}\.{GAP}([A-Za-z_]\w*)")
#: What calling an object runs.
CALLED_OBJECT_METHODS = frozenset({"forward", "__call__"})
WORD = re.compile(r"[A-Za-z_]\w*")
#: Model classes whose objects give features when called.
MODEL_CLASS = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, facts.MODEL_OUTPUTS))) + r")\b")


def bound_names(statement: ast.stmt) -> Set[str]:
    """The names a top-level statement binds (assignment targets, imports aside)."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return set()
    return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def _sink_or_norm_words() -> Tuple[str, ...]:
    """The last name of every similarity op and normalizer in the facts tables."""
    tables: Tuple[Iterable[str], ...] = (
        facts.SIMILARITY_FUNCTIONS, facts.SIMILARITY_METHODS, facts.EINSUM_FUNCTIONS,
        facts.PRODUCT_SUM_FUNCTIONS, facts.PRODUCT_SUM_METHODS, facts.INDEX_SINK_METHODS,
        facts.NORM_FUNCTIONS, (facts.NORM_METHOD,), facts.NORMALIZE_FUNCTIONS,
        facts.INPLACE_NORMALIZE_FUNCTIONS, facts.SQRT_FUNCTIONS, facts.SQRT_METHODS,
    )
    return tuple(sorted({name.rsplit(".", 1)[-1] for table in tables for name in table}))


#: Without one of these in the kept code nothing can be reported: no similarity op (a
#: ``@`` that is not a decorator's, or a named one) and no normalization to judge.
SINK_OR_NORM = re.compile(r"@|\b(?:" + "|".join(map(re.escape, _sink_or_norm_words())) + r")\b")


def relevance_pattern(extra_encoders: Iterable[str] = (), imported_names: Iterable[str] = ()) -> Pattern[str]:
    """Text that makes a definition relevant: an encoder call, an embedding field read, or a
    name imported from a project module that may hand over features."""
    encoders = "|".join(sorted(map(re.escape, facts.ENCODER_METHODS | set(extra_encoders))))
    fields = "|".join(sorted(map(re.escape, facts.EMBEDDING_FIELDS)))
    names = "|".join(sorted(map(re.escape, imported_names)))
    imported = rf"|\b(?:{names})\b" if names else ""
    # an encoder read as an attribute, called or not (``embed = model.encode_image`` calls it later)
    return re.compile(rf"\.{GAP}(?:(?:{encoders}|{fields})\b){imported}")


_DEFAULT_PATTERN = relevance_pattern()


def slice_source(
    source: str, tree: ast.Module, extra_encoders: Tuple[str, ...] = (), imported_names: Tuple[str, ...] = ()
) -> Optional[str]:
    """The source with irrelevant definitions blanked; None when nothing is relevant.

    ``imported_names`` are names imported from project modules that may hand over
    features: code that uses them is kept, and may compare or normalize in those modules.
    """
    if extra_encoders or imported_names:
        pattern = relevance_pattern(extra_encoders, imported_names)
    else:
        pattern = _DEFAULT_PATTERN
    if not pattern.search(source):
        return None
    lines = split_lines_keepends(source)
    module = _Block(tree.body, lines, pattern)
    blanked = module.blanked_spans()
    for start, end, keep_pass in blanked:
        for number in range(start, end + 1):
            lines[number - 1] = _blank(lines[number - 1], keep_pass and number == start)
    sliced = "".join(lines) if blanked else source
    if imported_names and pattern.search(sliced):
        return sliced  # an imported helper may compare or normalize what it is handed
    if not _mentions_sink_or_norm(lines, tree):
        return None
    return sliced


def _mentions_sink_or_norm(lines: List[str], tree: ast.Module) -> bool:
    """A sink or a norm in the kept lines, not counting the ``@`` of decorators (from ``ast``)."""
    decorator_ats: Dict[int, Set[int]] = {}
    for decorator in _decorators(tree.body):
        line, column = _decorator_at(lines, decorator)
        decorator_ats.setdefault(line, set()).add(column)
    for number, line in enumerate(lines, start=1):
        ats = decorator_ats.get(number)
        if ats:
            line = "".join(" " if i in ats else char for i, char in enumerate(line))
        if SINK_OR_NORM.search(line):
            return True
    return False


def _decorators(body: List[ast.stmt]) -> Iterator[ast.expr]:
    """Every decorator expression in a statement list, at any depth."""
    for statement in body:
        yield from getattr(statement, "decorator_list", ())
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list):
                yield from _decorators(inner)
        for handler in getattr(statement, "handlers", ()):
            yield from _decorators(handler.body)
        for case in getattr(statement, "cases", ()):
            yield from _decorators(case.body)


def _decorator_at(lines: List[str], decorator: ast.expr) -> Tuple[int, int]:
    """Where a decorator's ``@`` is: the last ``@`` before its expression, lines above included."""
    number = decorator.lineno
    line = lines[number - 1]
    prefix = line.encode("utf-8")[: decorator.col_offset].decode("utf-8", errors="ignore")
    # ``@\`` continued on the next line; a blanked decorator has no ``@`` left at all
    while "@" not in prefix and number > 1 and lines[number - 2].rstrip("\r\n").endswith("\\"):
        number -= 1
        prefix = lines[number - 1]
    return number, prefix.rfind("@")


ATTRIBUTE_READ = re.compile(rf"\.{GAP}([A-Za-z_]\w*)")


def _called_or_read(text: str) -> Set[str]:
    """Names called in ``text``, and attributes read there: a method may run where it is called
    by name, or later through a bound method (``cmp = RANKER.rank``)."""
    return set(CALLED_NAME.findall(text)) | set(ATTRIBUTE_READ.findall(text))


def _blank(line: str, as_pass: bool) -> str:
    ending = line[len(line.rstrip("\r\n")):]
    if as_pass:
        indent = line[: len(line) - len(line.lstrip())]
        return f"{indent}pass{ending}"
    return ending


class _Block:
    """One body (the module's or a class's) and the decision for each definition in it."""

    def __init__(
        self,
        body: List[ast.stmt],
        lines: List[str],
        pattern: Pattern[str],
        outer_names: Set[str] = frozenset(),
        outer_called: Set[str] = frozenset(),
        instantiated: bool = False,
        held_globals: Set[str] = frozenset(),
    ) -> None:
        self.body = body
        self.lines = lines
        self.pattern = pattern
        self.outer_names = outer_names  # kept definitions around a class: calling one makes a method relevant
        # Names called in the kept code around a class: a method so named may run (``tower.pictures(x)``).
        self.outer_called = outer_called
        self.instantiated = instantiated  # the class is built in kept code: calling the object runs forward
        self.held_globals = held_globals  # module globals that may hold features, models or callables
        self.spans = [self.span(statement) for statement in body]
        self.texts: Dict[int, str] = {}

    @staticmethod
    def span(statement: ast.stmt) -> Tuple[int, int]:
        decorators = getattr(statement, "decorator_list", None) or []
        start = min([statement.lineno] + [d.lineno for d in decorators])
        return start, statement.end_lineno or statement.lineno

    def text(self, index: int) -> str:
        text = self.texts.get(index)
        if text is None:
            start, end = self.spans[index]
            text = self.texts[index] = "".join(self.lines[start - 1:end])
        return text

    def blanked_spans(self, in_class: bool = False) -> List[Tuple[int, int, bool]]:
        kept_text: List[str] = []
        candidates: List[int] = []
        kept_statements: List[int] = []
        for index, statement in enumerate(self.body):
            if isinstance(statement, DEFINITIONS) and self.blankable(index):
                candidates.append(index)
            else:
                kept_text.append(self.text(index))
                kept_statements.append(index)
        self.globals = [] if in_class else [(bound_names(self.body[i]), self.text(i)) for i in kept_statements]
        relevant = [
            i for i in candidates
            if self.pattern.search(self.text(i))
            or set(CALLED_NAME.findall(self.text(i))) & self.outer_names
            or (in_class and self.method_may_run(self.body[i].name))  # type: ignore[attr-defined]
            or (self.held_globals and set(WORD.findall(self.text(i))) & self.held_globals)
        ]
        kept, called = self.close_over_links(relevant, candidates, "".join(kept_text), in_class)
        kept_names = self.outer_names | {self.body[i].name for i in kept}  # type: ignore[attr-defined]
        # Methods named in kept code may run (``TOWERS.pictures(x)``), also when another kept
        # class's method calls them (``RANKER.rank(a, b)`` in ``Pipeline.run``). A class built
        # anywhere in kept code runs its forward.
        held = self.relevant_globals(kept_names) | self.held_globals
        outside = _called_or_read("".join(kept_text)) | self.outer_called
        for index in kept:
            outside |= _called_or_read(self.text(index))
        spans: List[Tuple[int, int, bool]] = []
        for index in candidates:
            statement = self.body[index]
            if index in kept:
                if isinstance(statement, ast.ClassDef):
                    block = _Block(statement.body, self.lines, self.pattern, kept_names, outside,
                                   statement.name in called | self.outer_called, held)
                    spans += block.blanked_spans(in_class=True)
                continue
            start, end = self.spans[index]
            spans.append((start, end, in_class))
        return spans

    def method_may_run(self, name: str) -> bool:
        """A method of a kept class that the analysis may run: the project's own encoder, one that
        kept code calls by name, or the forward of an object that kept code builds."""
        if name in facts.ENCODER_METHODS:
            return True
        if name in self.outer_called and not name.startswith("__"):  # ``super().__init__()`` calls no other's
            return True
        return self.instantiated and name in CALLED_OBJECT_METHODS

    def close_over_links(
        self, relevant: List[int], candidates: List[int], kept_text: str, in_class: bool
    ) -> Tuple[Set[int], Set[str]]:
        """Keep the relevant definitions and everything linked to them, transitively.

        A caller receives the features and a callee may normalize or compare them, at any
        depth of calls. In a class, methods share ``self`` attributes: one may store the
        features that another compares, so a method that mentions an attribute of kept
        code is kept too.
        """
        names = {i: self.body[i].name for i in candidates}  # type: ignore[attr-defined]
        # A definition named anywhere in kept code is linked, called or not: a function kept as
        # a value (``embed = pictures``, a registry, ``partial(score, ...)``) runs where it is called.
        calls = {i: set(WORD.findall(self.text(i))) for i in candidates}
        attrs = {i: set(SELF_ATTR.findall(self.text(i))) for i in candidates} if in_class else {}
        kept: Set[int] = set(relevant)
        called = set(WORD.findall(kept_text))
        used_attrs = set(SELF_ATTR.findall(kept_text)) if in_class else set()
        words = {i: set(WORD.findall(self.text(i))) for i in candidates} if self.globals else {}
        changed = True
        while changed:
            kept_names = {names[i] for i in kept}
            for i in kept:
                called |= calls[i]
                if in_class:
                    used_attrs |= attrs[i]
            held = self.relevant_globals(kept_names)
            linked = {
                i for i in candidates
                if i not in kept
                and (
                    names[i] in called
                    or calls[i] & kept_names
                    or (in_class and attrs[i] & used_attrs)
                    or (held and words[i] & held)
                )
            }
            changed = bool(linked)
            kept |= linked
        return kept, called

    def relevant_globals(self, kept_names: Set[str]) -> Set[str]:
        """Module globals that may hold features, a model, or a callable or object that gives them:
        bound by a statement that names an encoder or a model class, or names kept code, called
        or not (``TOWERS = Towers()``, ``embed = model.encode_image``, ``ENCODERS = {"image":
        pictures}``). Code that reads one may matter."""
        held: Set[str] = set()
        for names, text in self.globals:
            if names and (
                self.pattern.search(text) or MODEL_CLASS.search(text) or set(WORD.findall(text)) & kept_names
            ):
                held |= names
        return held

    def blankable(self, index: int) -> bool:
        """A definition can be blanked only when no neighbouring statement shares its lines."""
        start, end = self.spans[index]
        if index > 0 and self.spans[index - 1][1] >= start:
            return False
        return index + 1 >= len(self.spans) or self.spans[index + 1][0] > end
