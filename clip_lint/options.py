"""The one option model shared by the flake8 plugin and the ``clip-lint`` command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class AnalysisOptions:
    """What the engine needs to know beyond the built-in tables."""

    extra_encoders: Tuple[str, ...] = ()
    extra_normalizers: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    """Every user-facing option. flake8 maps its own flags onto the analysis part."""

    extra_encoders: Tuple[str, ...] = ()
    extra_normalizers: Tuple[str, ...] = ()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    extend_exclude: Tuple[str, ...] = ()
    # The cache (clip_lint.engine.cache): on unless turned off; cache_dir None means the project root's.
    cache: bool = True
    cache_dir: Optional[str] = None

    @property
    def analysis(self) -> AnalysisOptions:
        return AnalysisOptions(self.extra_encoders, self.extra_normalizers)


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
    "cache": "cache",
    "cache-dir": "cache_dir",
}
