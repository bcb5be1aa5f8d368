"""CLN100 (unused-noqa): a ``# noqa: CLNxxx`` that silences nothing, and the fix that removes it.

Only real comments count (a ``# noqa`` inside a string is text), and only clip-lint's own codes
are judged: ``E501`` in the same comment belongs to another tool. A code is judged when it names
a selected rule, or no rule at all (a typo such as ``CLN042``); a code of a rule the run does not
select might be needed by a run that does, so it is left alone.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from clip_lint.config.selection import NOQA, is_enabled
from clip_lint.findings import Finding, Fix, TextEdit

UNUSED_NOQA = "CLN100"
OWN_PREFIX = "CLN"
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


@dataclass(frozen=True)
class Directive:
    """A ``# noqa: CODES`` comment: where it is, and its codes as written."""

    line: int  # 1-based, in the lines given
    comment_col: int  # where the comment token starts
    comment: str  # the whole comment token
    start: int  # the directive's span within ``comment``
    end: int
    codes: Tuple[str, ...]  # upper case, as they are matched
    written: Tuple[str, ...]  # as written, to keep them so when others are removed
    codes_span: Tuple[int, int]  # the codes' span within ``comment``


def directives(lines: Sequence[str]) -> List[Directive]:
    """Every ``# noqa: CODES`` comment among ``lines`` (one segment's); a blanket ``# noqa`` is not one.

    Lines that don't tokenize (a segment libcst could parse but ``tokenize`` can't) give none.
    """
    found = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("".join(line + "\n" for line in lines)).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = NOQA.search(token.string)
        if match is None or not match.group("codes"):
            continue
        written = tuple(_CODE.findall(match.group("codes")))
        codes = tuple(code.upper() for code in written)
        found.append(Directive(token.start[0], token.start[1], token.string, match.start(), match.end(), codes,
                               written, match.span("codes")))  # fmt: skip
    return found


def unused_noqa(
    lines: Sequence[str],
    reported: Dict[int, Set[str]],
    select: Sequence[str],
    ignore: Sequence[str],
    rule_codes: Sequence[str],
) -> List[Finding]:
    """A CLN100 finding, with its fix, for each directive among ``lines`` with codes that silence nothing.

    ``reported``: by line, the codes of the selected findings there before ``# noqa`` applied.
    """
    findings = []
    for directive in directives(lines):
        silenced = reported.get(directive.line, set())
        unused, unknown = _judged(directive.codes, silenced, select, ignore, rule_codes)
        if not unused and not unknown:
            continue
        if any(UNUSED_NOQA.startswith(code) for code in directive.codes) and is_enabled(UNUSED_NOQA, select, ignore):
            continue  # "# noqa: CLN100" on the line silences this very finding
        findings.append(_finding(directive, lines[directive.line - 1], unused, unknown))
    return findings


def _judged(
    codes: Sequence[str], silenced: Set[str], select: Sequence[str], ignore: Sequence[str], rule_codes: Sequence[str]
) -> Tuple[List[str], List[str]]:
    """The directive's codes that silence nothing: of selected rules, and of no rule at all."""
    unused, unknown = [], []
    for code in codes:
        if not code.startswith(OWN_PREFIX) or UNUSED_NOQA.startswith(code):
            continue  # another tool's code, or one that names this rule itself
        if any(found.startswith(code) for found in silenced):
            continue
        named = [rule for rule in rule_codes if rule.startswith(code)]
        if not named:
            unknown.append(code)
        elif any(is_enabled(rule, select, ignore) for rule in named):
            unused.append(code)
    return unused, unknown


def _finding(directive: Directive, line: str, unused: List[str], unknown: List[str]) -> Finding:
    from clip_lint.rules import format_message

    details = []
    if unused:
        details.append("unused: " + ", ".join(unused))
    if unknown:
        details.append("unknown: " + ", ".join(unknown))
    start = directive.comment_col + directive.start
    message = format_message(UNUSED_NOQA, detail="; ".join(details))
    edit, title = _removal(directive, line, set(unused + unknown))
    fix = Fix(title, (edit,), safe=True)
    end = directive.comment_col + directive.end
    return Finding(UNUSED_NOQA, directive.line, start, message, fix, directive.line, end)


def _removal(directive: Directive, line: str, dropped: Set[str]) -> Tuple[TextEdit, str]:
    """The edit that drops the unused codes, or the whole directive when no code is left."""
    kept = [written for code, written in zip(directive.codes, directive.written) if code not in dropped]
    comment, number = directive.comment, directive.line
    if kept:
        first, last = directive.codes_span
        separator = ", " if "," in comment[first:last] else " "
        span = (number, directive.comment_col + first), (number, directive.comment_col + last)
        return TextEdit(*span, separator.join(kept)), f"Remove {', '.join(sorted(dropped))} from the noqa directive"
    new_comment = _without_directive(comment, directive.start, directive.end)
    if new_comment is not None:
        span = (number, directive.comment_col), (number, directive.comment_col + len(comment))
        return TextEdit(*span, new_comment), "Remove the unused noqa directive"
    code_end = len(line[:directive.comment_col].rstrip())
    return TextEdit((number, code_end), (number, len(line)), ""), "Remove the unused noqa directive"


def _without_directive(comment: str, start: int, end: int) -> Optional[str]:
    """The comment without the directive, or None when nothing else is in it."""
    before = comment[:start].rstrip()
    after = comment[end:].strip()
    if after.startswith("#"):
        after = after.lstrip("#").strip()
    if before.strip("# ") and after:
        return f"{before}  # {after}"
    if before.strip("# "):
        return before
    if after:
        return f"# {after}"
    return None
