"""The engine's entry point: gate, slice and parse one module, run the analysis, never raise."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst

from clip_lint.engine.analyzer import DEFAULT_OPTIONS, Analyzer
from clip_lint.engine.gate import needs_analysis, passes_gate, project_imports  # noqa: F401 (re-exported)
from clip_lint.findings import Finding
from clip_lint.options import AnalysisOptions
from clip_lint.slicing import slice_source

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.engine.project import Project


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
    if use_gate and not passes_gate(source, options) and not hands_features:
        return [], {}
    syntax_error: Optional[SyntaxError] = None
    if tree is None:
        tree, syntax_error = _parse_ast(source)
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
        return [_parse_failure(error, syntax_error)], {}
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


def _parse_failure(error: Exception, syntax_error: Optional[SyntaxError]) -> Finding:
    """CLN900 for a module libcst can't parse, at the line Python's own parser names."""
    if isinstance(error, cst.ParserSyntaxError):
        reason = f"libcst cannot parse it: {error.message}"
        line, col = error.raw_line, error.raw_column
    else:
        reason = f"libcst cannot parse it: {type(error).__name__}"
        line, col = 1, 0
    if syntax_error is not None and syntax_error.lineno:
        line, col = syntax_error.lineno, max((syntax_error.offset or 1) - 1, 0)
    return _cannot_analyse(reason, line, col)


def _cannot_analyse(reason: str, line: int = 1, col: int = 0) -> Finding:
    from clip_lint.rules import format_message

    return Finding("CLN900", max(line, 1), max(col, 0), format_message("CLN900", reason=reason))
