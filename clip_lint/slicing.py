"""Blank out the definitions that can't matter, before the costly libcst parse.

A module passes the substring gate when it merely mentions an encoder; often only a
few of its functions call one. Definitions that neither call an encoder nor are used by
code that does are replaced by blank lines (a ``pass`` where a class body needs one), so
libcst parses much less while every kept line keeps its line and column.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, Iterable, List, Optional, Pattern, Set, Tuple

from clip_lint import facts
from clip_lint.textedits import split_lines_keepends

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
CALLED_NAME = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
ASSIGNED_SELF_ATTR = re.compile(r"\bself\.(\w+)\s*(?:[-+*/@%]|//)?=(?!=)")
READ_SELF_ATTR = re.compile(r"\bself\.(\w+)")
#: Without one of these in the kept code nothing can be reported: no similarity op (a
#: matmul line that is not a decorator, the similarity functions, a sum of products, an
#: index) and no normalization to judge.
SINK_OR_NORM = re.compile(
    r"(?m)^[ \t]*[^@\s#].*@|matmul|einsum|\bmm\(|bmm\(|\bdot\(|\binner\(|tensordot|\.sum\(|torch\.sum"
    r"|\.search\(|\.add\(|\bnorm\s*\(|normalize|vector_norm|sqrt"
)


def relevance_pattern(extra_encoders: Iterable[str] = (), imported_names: Iterable[str] = ()) -> Pattern[str]:
    """Text that makes a definition relevant: an encoder call, an embedding field read, or a
    name imported from a project module that may hand over features."""
    encoders = "|".join(sorted(map(re.escape, facts.ENCODER_METHODS | set(extra_encoders))))
    fields = "|".join(sorted(map(re.escape, facts.EMBEDDING_FIELDS)))
    names = "|".join(sorted(map(re.escape, imported_names)))
    imported = rf"|\b(?:{names})\b" if names else ""
    return re.compile(rf"\.\s*(?:{encoders})\s*\(|\.\s*(?:{fields})\b{imported}")


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
    if blanked:
        for start, end, keep_pass in blanked:
            for number in range(start, end + 1):
                lines[number - 1] = _blank(lines[number - 1], keep_pass and number == start)
        sliced = "".join(lines)
    else:
        sliced = source
    if imported_names and pattern.search(sliced):
        return sliced  # an imported helper may compare or normalize what it is handed
    return sliced if SINK_OR_NORM.search(sliced) else None


def _blank(line: str, as_pass: bool) -> str:
    ending = line[len(line.rstrip("\r\n")):]
    if as_pass:
        indent = line[: len(line) - len(line.lstrip())]
        return f"{indent}pass{ending}"
    return ending


class _Block:
    """One body (the module's or a class's) and the decision for each definition in it."""

    def __init__(self, body: List[ast.stmt], lines: List[str], pattern: Pattern[str]) -> None:
        self.body = body
        self.lines = lines
        self.pattern = pattern
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
        for index, statement in enumerate(self.body):
            if isinstance(statement, DEFINITIONS) and self.blankable(index):
                candidates.append(index)
            else:
                kept_text.append(self.text(index))
        relevant = [i for i in candidates if self.pattern.search(self.text(i))]
        kept = self.close_over_uses(relevant, candidates, kept_text, in_class)
        spans: List[Tuple[int, int, bool]] = []
        for index in candidates:
            statement = self.body[index]
            if index in kept:
                if isinstance(statement, ast.ClassDef):
                    spans += _Block(statement.body, self.lines, self.pattern).blanked_spans(in_class=True)
                continue
            start, end = self.spans[index]
            spans.append((start, end, in_class))
        return spans

    def close_over_uses(
        self, relevant: List[int], candidates: List[int], kept_text: List[str], in_class: bool
    ) -> Set[int]:
        """Keep the relevant definitions, their callers, and what either of them calls.

        One step each way: a caller receives the features, a callee may normalize or
        compare them. In a class, also keep the methods that assign a ``self`` attribute
        the kept code reads.
        """
        names = {i: self.body[i].name for i in candidates}  # type: ignore[attr-defined]
        calls = {i: set(CALLED_NAME.findall(self.text(i))) for i in candidates}
        kept: Set[int] = set(relevant)
        relevant_names = {names[i] for i in kept}
        kept |= {i for i, called in calls.items() if called & relevant_names}
        called_by_kept = set(CALLED_NAME.findall("".join(kept_text)))
        for i in list(kept):
            called_by_kept |= calls[i]
        kept |= {i for i, name in names.items() if name in called_by_kept}
        if in_class:
            texts = kept_text + [self.text(i) for i in candidates if i in kept]
            read_attrs = set(READ_SELF_ATTR.findall("".join(texts)))
            kept |= {i for i in candidates if read_attrs & set(ASSIGNED_SELF_ATTR.findall(self.text(i)))}
        return kept

    def blankable(self, index: int) -> bool:
        """A definition can be blanked only when no neighbouring statement shares its lines."""
        start, end = self.spans[index]
        if index > 0 and self.spans[index - 1][1] >= start:
            return False
        return index + 1 >= len(self.spans) or self.spans[index + 1][0] > end
