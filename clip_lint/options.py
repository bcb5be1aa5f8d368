"""The one option model shared by the flake8 plugin and the ``clip-lint`` command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class AnalysisOptions:
    """What the engine needs to know beyond the built-in tables."""

    extra_encoders: Tuple[str, ...] = ()
    extra_normalizers: Tuple[str, ...] = ()
    line_length: int = 88  # fixed lines longer than this are split (clip_lint.linewrap)


@dataclass(frozen=True)
class Options:
    """Every user-facing option. flake8 maps its own flags onto the analysis part."""

    extra_encoders: Tuple[str, ...] = ()
    extra_normalizers: Tuple[str, ...] = ()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    extend_exclude: Tuple[str, ...] = ()
    line_length: int = 0  # 0: the project's formatter or flake8 setting, else 88

    @property
    def analysis(self) -> AnalysisOptions:
        return AnalysisOptions(self.extra_encoders, self.extra_normalizers, self.line_length or 88)


# Keys accepted in [tool.clip-lint] / [clip-lint], mapped to Options fields.
CONFIG_KEYS = {
    "encoders": "extra_encoders",
    "extra-encoders": "extra_encoders",
    "normalizers": "extra_normalizers",
    "extra-normalizers": "extra_normalizers",
    "select": "select",
    "ignore": "ignore",
    "exclude": "exclude",
    "extend-exclude": "extend_exclude",
    "line-length": "line_length",
}
