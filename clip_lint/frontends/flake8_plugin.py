"""The flake8 front end: options in, findings out. No analysis lives here.

Only the gate and the cache are imported up front; the engine (and libcst) on the first
file the cache can't answer.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from clip_lint import __version__
from clip_lint.project.cache import NO_CACHE, CacheConfig, check_source, needs_check
from clip_lint.findings import Finding
from clip_lint.options import AnalysisOptions

STDIN_NAMES = ("stdin", "-", "")


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
            extra_encoders=_names(getattr(options, "clip_encoders", ())),
            extra_normalizers=_names(getattr(options, "clip_normalizers", ())),
        )
        if getattr(options, "clip_no_cache", False):
            cls.cache = NO_CACHE
        else:
            cls.cache = CacheConfig(directory=getattr(options, "clip_cache_dir", None) or None).with_environment()

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
        # flake8 quietly decodes undecodable bytes as latin-1; Python itself would refuse the file.
        problem = undecodable(self.filename)
        if problem:
            return [problem]
        return check_source(self.filename, source, self.options, self.cache, tree=self.tree, gated=True)


def undecodable(filename: str) -> Optional[Finding]:
    """A CLN900 finding when the file's bytes are not valid in its declared encoding."""
    if filename in STDIN_NAMES:
        return None
    try:
        with open(filename, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    encoding = "utf-8"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except (SyntaxError, LookupError) as error:
        if "unknown encoding" in str(error):
            return cannot_analyse(f"its encoding is unusable: {error}")
        # otherwise the first lines are undecodable: the decoding below says where
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return cannot_analyse(f"its bytes are not valid {encoding} ({error.reason} at byte {error.start})", line)
    return None


def cannot_analyse(reason: str, line: int = 1) -> Finding:
    """The CLN900 finding for a file that can't be analysed."""
    from clip_lint.rules import format_message  # deferred: the rules' texts are needed only here

    return Finding("CLN900", line, 0, format_message("CLN900", reason=reason))


def _names(values: Any) -> Tuple[str, ...]:
    if isinstance(values, str):
        values = values.split(",")
    names: List[str] = [value.strip() for value in values or () if value and value.strip()]
    return tuple(names)
