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


def relevance_pattern(extra_encoders: Iterable[str] = ()) -> Pattern[str]:
    """Text that makes a definition relevant: an encoder call or an embedding field read."""
    encoders = "|".join(sorted(map(re.escape, facts.ENCODER_METHODS | set(extra_encoders))))
    fields = "|".join(sorted(map(re.escape, facts.EMBEDDING_FIELDS)))
    return re.compile(rf"\.\s*(?:{encoders})\s*\(|\.\s*(?:{fields})\b")


_DEFAULT_PATTERN = relevance_pattern()


def slice_source(source: str, tree: ast.Module, extra_encoders: Tuple[str, ...] = ()) -> Optional[str]:
    """The source with irrelevant definitions blanked; None when nothing is relevant."""
    pattern = relevance_pattern(extra_encoders) if extra_encoders else _DEFAULT_PATTERN
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

    def span(self, statement: ast.stmt) -> Tuple[int, int]:
        decorators = getattr(statement, "decorator_list", None) or []
        start = min([statement.lineno] + [d.lineno for d in decorators])
        return start, statement.end_lineno or statement.lineno

    def text(self, statement: ast.stmt) -> str:
        start, end = self.span(statement)
        return "".join(self.lines[start - 1:end])

    def blanked_spans(self, in_class: bool = False) -> List[Tuple[int, int, bool]]:
        definitions: Dict[str, List[ast.stmt]] = {}
        kept_text: List[str] = []
        candidates: List[ast.stmt] = []
        for statement in self.body:
            if isinstance(statement, DEFINITIONS) and self.blankable(statement):
                candidates.append(statement)
                definitions.setdefault(statement.name, []).append(statement)
            else:
                kept_text.append(self.text(statement))
        relevant = [s for s in candidates if self.pattern.search(self.text(s))]
        kept = self.close_over_uses(relevant, candidates, kept_text, in_class)
        spans: List[Tuple[int, int, bool]] = []
        for statement in candidates:
            if id(statement) in kept:
                if isinstance(statement, ast.ClassDef):
                    spans += _Block(statement.body, self.lines, self.pattern).blanked_spans(in_class=True)
                continue
            start, end = self.span(statement)
            spans.append((start, end, in_class))
        return spans

    def close_over_uses(
        self, relevant: List[ast.stmt], candidates: List[ast.stmt], kept_text: List[str], in_class: bool
    ) -> Set[int]:
        """Keep the relevant definitions, their callers, and what either of them calls.

        One step each way: a caller receives the features, a callee may normalize or
        compare them. In a class, also keep the methods that assign a ``self`` attribute
        the kept code reads.
        """
        names = {id(s): s.name for s in candidates}  # type: ignore[attr-defined]
        calls = {id(s): set(CALLED_NAME.findall(self.text(s))) for s in candidates}
        kept: Set[int] = {id(s) for s in relevant}
        relevant_names = {names[i] for i in kept}
        kept |= {i for i, called in calls.items() if called & relevant_names}
        called_by_kept = set(CALLED_NAME.findall("".join(kept_text)))
        for i in list(kept):
            called_by_kept |= calls[i]
        kept |= {i for i, name in names.items() if name in called_by_kept}
        if in_class:
            texts = kept_text + [self.text(s) for s in candidates if id(s) in kept]
            read_attrs = set(READ_SELF_ATTR.findall("".join(texts)))
            kept |= {
                id(s) for s in candidates if read_attrs & set(ASSIGNED_SELF_ATTR.findall(self.text(s)))
            }
        return kept

    def blankable(self, statement: ast.stmt) -> bool:
        """A definition can be blanked only when no other statement shares its lines."""
        start, end = self.span(statement)
        for other in self.body:
            if other is statement:
                continue
            other_start, other_end = self.span(other)
            if other_start <= end and start <= other_end:
                return False
        return True
