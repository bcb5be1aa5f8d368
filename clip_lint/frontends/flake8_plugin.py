"""The flake8 front end: options in, findings out. No analysis lives here.

Only the gate and the cache are imported up front; the engine (and libcst) on the first
file the cache can't answer. Code flake8 reads from stdin (``flake8 -``, with
``--stdin-display-name``) is analysed as given, never read from the file of that name on disk,
and never cached, as the command does with ``--stdin-filename``.
"""

from __future__ import annotations

import ast
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from clip_lint import __version__
from clip_lint.project.cache import (
    NO_CACHE, STDIN, CacheConfig, CacheFolderError, cache_directory, check_cache_folder, check_source, needs_check,
)
from clip_lint.findings import Finding
from clip_lint.options import AnalysisOptions, split_list


class Plugin:
    """flake8 tree plugin for the CLN codes."""

    name = "clip-lint"
    version = __version__
    options = AnalysisOptions()
    cache = CacheConfig().with_environment()

    def __init__(self, tree: ast.AST, lines: Sequence[str], filename: str = "") -> None:
        self.tree = tree if isinstance(tree, ast.Module) else None
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, parser: Any) -> None:
        parser.add_option(
            "--clip-encoders",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="Extra method names that return raw CLIP features (comma separated).",
        )
        parser.add_option(
            "--clip-normalizers",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="Extra function names that L2-normalize their argument (comma separated).",
        )
        cls._add_cache_options(parser)

    @classmethod
    def _add_cache_options(cls, parser: Any) -> None:
        parser.add_option(
            "--clip-no-cache",
            action="store_true",
            parse_from_config=True,
            help="Don't read or write clip-lint's cache (.clip_lint_cache at the project root).",
        )
        parser.add_option(
            "--clip-cache-dir",
            default=None,
            parse_from_config=True,
            help="Keep clip-lint's cache in this folder (default: .clip_lint_cache at the project root; "
            "env CLIP_LINT_CACHE_DIR).",
        )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.options = AnalysisOptions(
            extra_encoders=split_list(getattr(options, "clip_encoders", None) or ()),
            extra_normalizers=split_list(getattr(options, "clip_normalizers", None) or ()),
        )
        if "-" in (getattr(options, "filenames", None) or ()):
            cls.cache = STDIN  # the code is what flake8 read from stdin, not the file on disk
        elif getattr(options, "clip_no_cache", False):
            cls.cache = NO_CACHE
        else:
            cls.cache = CacheConfig(directory=getattr(options, "clip_cache_dir", None) or None).with_environment()
            _refuse_a_foreign_folder(cls.cache)

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        for finding in self.findings():
            yield finding.line, finding.col, finding.text, type(self)

    def findings(self) -> List[Finding]:
        try:
            return self.analyse()
        except Exception as error:  # never crash flake8: a bug of ours is one CLN900 for this file
            return [cannot_analyse(f"internal error {type(error).__name__}: {error}")]

    def analyse(self) -> List[Finding]:
        source = "".join(self.lines)
        if not needs_check(self.filename, source, self.options, self.cache):
            return []
        if not self.cache.unsaved:
            problem = undecodable(self.filename, source)
            if problem:
                return [problem]
        return check_source(self.filename, source, self.options, self.cache, tree=self.tree, gated=True)


def _refuse_a_foreign_folder(cache: CacheConfig) -> None:
    """Stop the run, as flake8 stops on a bad option, when the chosen cache folder holds more
    than clip-lint's cache (the folder at each project's root is checked when first used)."""
    if not cache.enabled or not cache.directory:
        return
    try:
        check_cache_folder(cache_directory(cache, "."))
    except CacheFolderError as error:
        from flake8.exceptions import ExecutionError

        raise ExecutionError(f"clip-lint: {error}") from error


def undecodable(filename: str, source: str) -> Optional[Finding]:
    """CLN900, worded as the command words it, when the bytes flake8 read as ``source`` are not
    valid in their declared encoding: flake8 then quietly decodes them as latin-1, where Python
    itself would refuse the file."""
    from clip_lint.project.reading import read_regular_file
    from clip_lint.sources.documents import decode

    data = read_regular_file(filename)
    if data is None:
        return None
    _, _, problem, _ = decode(data)
    if problem is None or _universal_newlines(data.decode("latin-1")) != source:
        return None  # decodable, or not the bytes flake8 read (the file changed since): the code as read
    return cannot_analyse(problem.message, problem.line, problem.col)


def _universal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def cannot_analyse(reason: str, line: int = 1, col: int = 0) -> Finding:
    """The CLN900 finding for a file that can't be analysed."""
    from clip_lint.rules import format_message  # deferred: the rules' texts are needed only here

    return Finding("CLN900", line, col, format_message("CLN900", reason=reason))
