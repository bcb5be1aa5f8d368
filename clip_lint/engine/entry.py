"""The engine's entry point: gate, slice and parse one module, run the analysis, never raise."""

from __future__ import annotations

import ast
import re
from typing import List, Optional, Tuple

import libcst as cst

from clip_lint import facts
from clip_lint.engine.analyzer import DEFAULT_OPTIONS, Analyzer
from clip_lint.findings import Finding
from clip_lint.indentation import Reindented, expand_indentation
from clip_lint.options import AnalysisOptions
from clip_lint.slicing import slice_source


def passes_gate(source: str, options: AnalysisOptions = DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding."""
    return any(word in source for word in facts.GATE_WORDS) or any(
        word in source for word in options.extra_encoders
    )


def analyze_source(
    source: str,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    *,
    use_gate: bool = True,
    use_slicing: bool = True,
    tree: Optional[ast.Module] = None,
) -> List[Finding]:
    """Check one module's source. Never raises: failures become a CLN900 finding.

    ``tree`` is the module's ``ast``, when the caller has it (flake8 does); it lets the
    engine skip the definitions that can't matter before the libcst parse. ``use_slicing``
    turns that skipping off (the findings are the same either way; tests compare them).
    """
    if use_gate and not passes_gate(source, options):
        return []
    syntax_error: Optional[SyntaxError] = None
    if tree is None:
        tree, syntax_error = _parse_ast(source)
    text = source
    if tree is not None and use_slicing:
        sliced = slice_source(source, tree, options.extra_encoders)
        if sliced is None:
            return []
        if sliced is not source:
            text, tree = sliced, None  # the tree no longer matches the text
    # Where ast fails, libcst may still parse it (newer syntax than this Python's).
    reindented: Optional[Reindented] = None
    try:
        module = cst.parse_module(text)
    except Exception as error:  # ParserSyntaxError, RecursionError, and a few others on odd input
        # Tabs or form feeds in indentation that Python accepts: parse it as Python reads it.
        reindented = expand_indentation(text) if syntax_error is None else None
        module = _parse_or_none(reindented.text) if reindented is not None else None
        if module is None:
            return [_parse_failure(error, syntax_error, text)]
        text, tree = module.code, None
    try:
        findings = Analyzer(module, options, text, tree, source).run()
        return [reindented.finding(f) for f in findings] if reindented is not None else findings
    except RecursionError:
        return [_cannot_analyse("the code nests too deeply to analyse")]
    except Exception as error:  # never crash the host linter
        return [_cannot_analyse(f"internal error {type(error).__name__}: {error}")]


def _parse_or_none(text: str) -> Optional[cst.Module]:
    try:
        return cst.parse_module(text)
    except Exception:  # the same failures as above
        return None


def _parse_ast(source: str) -> Tuple[Optional[ast.Module], Optional[SyntaxError]]:
    try:
        return ast.parse(source), None
    except SyntaxError as error:
        return None, error
    except (ValueError, RecursionError, MemoryError):
        return None, None


LIBCST_POSITION = re.compile(r"error at (\d+):(\d+):\s*")


def _parse_failure(error: Exception, syntax_error: Optional[SyntaxError], source: str) -> Finding:
    """CLN900 for a module libcst can't parse, at the position the failing parser names.

    Where Python's own parser fails too, its message and position are the ones a user
    knows; otherwise libcst's, with its own "error at L:C" moved into the position.
    """
    if syntax_error is not None and syntax_error.lineno:
        col = max((syntax_error.offset or 1) - 1, 0)
        return _cannot_analyse(f"Python cannot parse it: {syntax_error.msg}", syntax_error.lineno, col)
    if not isinstance(error, cst.ParserSyntaxError):
        return _cannot_analyse(f"libcst cannot parse it: {type(error).__name__}")
    message, line, col = error.message, error.raw_line, error.raw_column
    named = LIBCST_POSITION.search(message)
    if named is not None:
        line, col = int(named.group(1)), int(named.group(2)) - 1
        message = message[: named.start()] + message[named.end() :]
    nul = source.find("\0")
    if nul >= 0 and "\\0" in message:
        line = source.count("\n", 0, nul) + 1
        col = nul - (source.rfind("\n", 0, nul) + 1)
    return _cannot_analyse(f"libcst cannot parse it: {message}", line, col)


def _cannot_analyse(reason: str, line: int = 1, col: int = 0) -> Finding:
    from clip_lint.rules import format_message

    return Finding("CLN900", max(line, 1), max(col, 0), format_message("CLN900", reason=reason))
