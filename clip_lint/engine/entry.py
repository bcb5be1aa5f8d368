"""The engine's entry point: gate, slice and parse one module, run the analysis, never raise."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst

from clip_lint.engine.analyzer import DEFAULT_OPTIONS, Analyzer
from clip_lint.engine.gate import COMPARISON, needs_analysis, passes_gate, project_imports  # noqa: F401 (re-exported)
from clip_lint.findings import Finding
from clip_lint.options import AnalysisOptions
from clip_lint.slicing import slice_source

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.engine.project import Project


COMPARING_CALLS = frozenset({"matmul", "einsum", "mm", "bmm", "dot", "inner", "tensordot", "norm", "normalize"})


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


def analyze_source(
    source: str,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    *,
    use_gate: bool = True,
    tree: Optional[ast.Module] = None,
) -> List[Finding]:
    """Check one module's source on its own. Never raises: failures become a CLN900 finding.

    ``tree`` is the module's ``ast``, when the caller has it (flake8 does); it lets the
    engine skip the definitions that can't matter before the libcst parse.
    """
    findings, _ = _analyze(source, options, use_gate, tree, None, None)
    return findings


def analyze_with_project(
    source: str,
    options: AnalysisOptions,
    path: str,
    project: "Project",
    tree: Optional[ast.Module] = None,
) -> Tuple[List[Finding], Dict[str, Set[str]]]:
    """Check the module at ``path`` of ``project``, following its imports of the project's modules.

    Returns the findings and, per project module read, the top-level names the analysis read.
    """
    return _analyze(source, options, True, tree, project, path)


def _analyze(
    source: str,
    options: AnalysisOptions,
    use_gate: bool,
    tree: Optional[ast.Module],
    project: Optional["Project"],
    path: Optional[str],
) -> Tuple[List[Finding], Dict[str, Set[str]]]:
    imported_names: Tuple[str, ...] = ()
    hands_features = False
    if project is not None and path is not None:
        imported_names, hands_features = project_imports(source, options, path, project)
    gated = use_gate and not passes_gate(source, options)
    if gated and not (hands_features and COMPARISON.search(source)):
        return [], {}
    syntax_error: Optional[SyntaxError] = None
    if tree is None:
        tree, syntax_error = _parse_ast(source)
    if gated and tree is not None and not compares(tree):
        return [], {}
    text = source
    if tree is not None:
        sliced = slice_source(source, tree, options.extra_encoders, imported_names)
        if sliced is None:
            return [], {}
        if sliced is not source:
            text, tree = sliced, None  # the tree no longer matches the text
    # Where ast fails, libcst may still parse it (newer syntax than this Python's).
    try:
        module = cst.parse_module(text)
    except Exception as error:  # ParserSyntaxError, RecursionError, and a few others on odd input
        return [_parse_failure(error, syntax_error, text)], {}
    analyzer = Analyzer(module, options, text, tree, project, path)
    try:
        findings = analyzer.run()
    except RecursionError:
        findings = [_cannot_analyse("the code nests too deeply to analyse")]
    except Exception as error:  # never crash the host linter
        findings = [_cannot_analyse(f"internal error {type(error).__name__}: {error}")]
    return findings, analyzer.consulted


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
