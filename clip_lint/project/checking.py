"""Check one module: the gate, the pre-filter and the slicer, the parse, the analysis, the findings.

``analyze_source`` checks a module on its own; ``analyze_file`` checks a file of a project,
following its imports into the project's other modules. Neither ever raises: what can't be
analysed becomes a CLN900 finding.

Both run at a fixed stack depth (``clip_lint.project.depth``), so that code nested near the
recursion limit gets the same answer from flake8, from the command and from a test.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from clip_lint.findings import Finding
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.ast_filter import may_report
from clip_lint.prefilter.gate import STAR, compares, may_compare, passes_gate, project_code_names, project_imports
from clip_lint.prefilter.slicing import slice_source
from clip_lint.prefilter.speedups import enabled, fewer_collections
from clip_lint.project.depth import at_fixed_depth
from clip_lint.project.modules import FileAnalysis, Project
from clip_lint.sources.indentation import Reindented, expand_indentation
from clip_lint.sources.parse_guard import nesting_problem, size_problem

# libcst and the analyzer are imported where a module needs them: a run in which no file
# passes the gate and the pre-filter never pays for them.
DEFAULT_OPTIONS = AnalysisOptions()
__all__ = ["DEFAULT_OPTIONS", "analyze_file", "analyze_source", "passes_gate"]

if TYPE_CHECKING:  # pragma: no cover
    import libcst as cst


def analyze_source(
    source: str,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    *,
    use_gate: bool = True,
    use_slicing: bool = True,
    tree: Optional[ast.Module] = None,
) -> List[Finding]:
    """Check one module's source on its own. Never raises: failures become a CLN900 finding.

    ``tree`` is the module's ``ast``, when the caller has it (flake8 does); it lets the
    engine skip the definitions that can't matter before the libcst parse. ``use_slicing``
    turns that skipping off (the findings are the same either way; tests compare them).
    """
    analysis = at_fixed_depth(_analyze_alone, source, options, use_gate, tree, None, None, use_slicing)
    return analysis.findings


def analyze_file(
    path: str,
    source: str,
    options: AnalysisOptions,
    project: Optional[Project] = None,
    tree: Optional[ast.Module] = None,
) -> FileAnalysis:
    """Check one file of a project, following its imports into the project's other modules:
    its findings, the top-level names the analysis read in each other module, and whether a
    wall-clock safety net cut it short (then a CLN900 says so, and no cache may keep it).

    What it read of the project is recorded by ``project.reader`` (inside ``recording()``).
    """
    project = project or Project.for_path(path)
    tree = tree if isinstance(tree, ast.Module) else None
    project.reader.real_path(path)  # where the file really is decides where its relative imports lead
    return at_fixed_depth(_analyze, source, options, True, tree, project, path)


def _analyze(
    source: str,
    options: AnalysisOptions,
    use_gate: bool,
    tree: Optional[ast.Module],
    project: Optional[Project],
    path: Optional[str],
    use_slicing: bool = True,
) -> FileAnalysis:
    findings, consulted, degraded = _findings(source, options, use_gate, tree, project, path, use_slicing)
    names = {module: tuple(sorted(read)) for module, read in consulted.items()}
    if degraded:
        findings = findings + [_cannot_analyse(STOPPED_BY_THE_CLOCK)]
    return FileAnalysis(findings, names, degraded)


_analyze_alone = fewer_collections(_analyze)

#: The CLN900 reason when the wall-clock safety net stopped the analysis (never cached).
STOPPED_BY_THE_CLOCK = (
    "its analysis ran past the time limit and stopped early, so findings may be missing; "
    "this result is not cached, so the next run analyses it again"
)


def _findings(
    source: str,
    options: AnalysisOptions,
    use_gate: bool,
    tree: Optional[ast.Module],
    project: Optional[Project],
    path: Optional[str],
    use_slicing: bool,
) -> Tuple[List[Finding], Dict[str, Set[str]], bool]:
    hands_features, handing = False, ()
    if project is not None and path is not None:
        handing, hands_features = project_imports(source, options, path, project)
    gated = use_gate and not passes_gate(source, options)
    if gated and not (hands_features and may_compare(source)):
        return [], {}, False
    syntax_error: Optional[SyntaxError] = None
    if project is not None and path is not None:
        # the project's memo: other files' analyses read this module's tree too (flake8 gives it)
        tree = project.tree_of(path, source, tree)
    if tree is None:
        tree, syntax_error = _parse_ast(source)
    if gated and tree is not None and not compares(tree):
        return [], {}, False
    text = source
    # Project code is a sink and a pass-through to the pre-filter; what the project gate says may
    # hand features over is a source too. The names a ``*`` import binds are unknown to it.
    code = project_code_names(source, path, project) if project is not None and path is not None else ()
    if tree is not None and STAR not in handing and not may_report(tree, options, project_code=code, handing=handing):
        return [], {}, False
    if tree is not None and use_slicing and enabled("slicing") and STAR not in handing:
        # Code that uses a name of the project's is kept: what it calls may compare or normalize.
        # (A ``*`` import binds names the slicer doesn't know: such a module is analysed whole.)
        sliced = slice_source(source, tree, options.extra_encoders, code)
        if sliced is None:
            return [], {}, False
        if sliced is not source:
            too_large = size_problem(sliced, len(source))  # asked before its ``ast``: that tree is large too
            if too_large is not None:
                return [_cannot_analyse(too_large)], {}, False
            # The sliced text's own tree, parsed once here: the engine's relevance test and its
            # locator each parsed it again when handed none.
            text, tree = sliced, _parse_ast(sliced)[0]
    too_large = size_problem(text, len(source))  # the trees would not fit in the memory budget: never get killed
    if too_large is not None:
        return [_cannot_analyse(too_large)], {}, False
    import libcst as cst

    from clip_lint.engine.analyzer import Analyzer
    from clip_lint.fix.finding_builder import build_findings

    # Where ast fails, libcst may still parse it (newer syntax than this Python's).
    too_deep = nesting_problem(text)  # libcst's parser would overflow the C stack: never hand it over
    if too_deep is not None:
        line, col, reason = too_deep
        return [_cannot_analyse(reason, line, col)], {}, False
    reindented: Optional[Reindented] = None
    try:
        module = cst.parse_module(text)
    except Exception as error:  # ParserSyntaxError, RecursionError, and a few others on odd input
        # Tabs or form feeds in indentation that Python accepts: parse it as Python reads it.
        reindented = expand_indentation(text) if syntax_error is None else None
        module = _parse_or_none(reindented.text) if reindented is not None else None
        if module is None:
            return [_parse_failure(error, syntax_error, text)], {}, False
        text, tree = module.code, None
    analyzer = Analyzer(module, options, text, tree, project, path, source)
    try:
        pendings = analyzer.run()
        findings = build_findings(analyzer, pendings) if pendings else []
        if reindented is not None:
            findings = [reindented.finding(f) for f in findings]
    except RecursionError:
        findings = [_cannot_analyse("the code nests too deeply to analyse")]
    except Exception as error:  # never crash the host linter
        findings = [_cannot_analyse(f"internal error {type(error).__name__}: {error}")]
    return findings, analyzer.consulted, analyzer.budget.clock_ran_out


def _parse_or_none(text: str) -> Optional["cst.Module"]:
    import libcst as cst

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
    import libcst as cst

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
