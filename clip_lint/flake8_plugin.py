"""The flake8 front end: options in, findings out. No analysis lives here."""

from __future__ import annotations

import ast
from typing import Any, Iterator, List, Sequence, Tuple

from clip_lint import __version__
from clip_lint.engine import analyze_source
from clip_lint.options import AnalysisOptions


class Plugin:
    """flake8 tree plugin for the CLN codes."""

    name = "clip-lint"
    version = __version__
    options = AnalysisOptions()

    def __init__(self, tree: ast.AST, lines: Sequence[str]) -> None:
        self.tree = tree if isinstance(tree, ast.Module) else None
        self.lines = lines

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

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.options = AnalysisOptions(
            extra_encoders=_names(getattr(options, "clip_encoders", ())),
            extra_normalizers=_names(getattr(options, "clip_normalizers", ())),
        )

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        for finding in analyze_source("".join(self.lines), self.options, tree=self.tree):
            yield finding.line, finding.col, finding.text, type(self)


def _names(values: Any) -> Tuple[str, ...]:
    if isinstance(values, str):
        values = values.split(",")
    names: List[str] = [value.strip() for value in values or () if value and value.strip()]
    return tuple(names)
