"""The one option model shared by the flake8 plugin and the ``clip-lint`` command.

``CONFIG_KEYS`` is the single table of configuration keys: the name in ``[tool.clip-lint]``,
the name flake8 reads under ``[flake8]`` (where the plugin has the option), the command-line
flag and the value's type. The config reader, the command and docs/cli.md follow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple, Union

PerFileIgnores = Tuple[Tuple[str, Tuple[str, ...]], ...]  # (glob, codes), in the config's order

#: The codes selected when a configuration selects none: every rule's.
DEFAULT_SELECT: Tuple[str, ...] = ("CLN",)


@dataclass(frozen=True)
class AnalysisOptions:
    """What the engine needs to know beyond the built-in tables."""

    extra_encoders: Tuple[str, ...] = ()
    extra_normalizers: Tuple[str, ...] = ()
    line_length: int = 88  # fixed lines longer than this are split (clip_lint.fix.linewrap)


@dataclass(frozen=True)
class Options:
    """Every user-facing option. flake8 maps its own flags onto the analysis part."""

    extra_encoders: Tuple[str, ...] = ()
    extra_normalizers: Tuple[str, ...] = ()
    select: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    extend_exclude: Tuple[str, ...] = ()
    per_file_ignores: PerFileIgnores = ()
    line_length: int = 0  # 0: the project's formatter or flake8 setting, else 88
    # The cache (clip_lint.project.cache): on unless turned off; cache_dir None means the project root's.
    cache: bool = True
    cache_dir: Optional[str] = None

    @property
    def analysis(self) -> AnalysisOptions:
        return AnalysisOptions(self.extra_encoders, self.extra_normalizers, self.line_length or 88)

    @property
    def effective_select(self) -> Tuple[str, ...]:
        """``select`` (default: every code) plus ``extend-select``."""
        return (self.select or DEFAULT_SELECT) + self.extend_select


#: What separates the items of a list of names or codes written as one string: commas and
#: whitespace, as flake8 reads ``comma_separated_list`` options (``clip-encoders = a b`` is two).
_LIST_SEPARATORS = re.compile(r"[,\s]+")


def split_list(values: Union[str, Iterable[str]]) -> Tuple[str, ...]:
    """The names or codes of a comma- and whitespace-separated list (or of each string of a list)."""
    if isinstance(values, str):
        values = [values]
    return tuple(item for value in values for item in _LIST_SEPARATORS.split(value) if item)


LIST, TABLE, INT = "list of strings", "table of glob = list of codes", "positive integer"
BOOL, FOLDER = "boolean", "folder"


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key and where it can be spelled."""

    name: str  # in [tool.clip-lint] (pyproject.toml) and [clip-lint] (setup.cfg)
    field: str  # the Options field
    kind: str = LIST
    flake8: Optional[str] = None  # the key flake8 reads under [flake8], if the plugin has it
    flag: Optional[str] = None  # the command-line flag
    aliases: Tuple[str, ...] = ()
    holds_codes: bool = False
    #: A list of names or codes: commas and whitespace both separate its items (``split_list``).
    words: bool = False


CONFIG_KEYS: Tuple[ConfigKey, ...] = (
    ConfigKey("extra-encoders", "extra_encoders", flake8="clip-encoders", flag="--extra-encoders",
              aliases=("encoders", "clip-encoders"), words=True),
    ConfigKey("extra-normalizers", "extra_normalizers", flake8="clip-normalizers", flag="--extra-normalizers",
              aliases=("normalizers", "clip-normalizers"), words=True),
    ConfigKey("select", "select", flag="--select", holds_codes=True, words=True),
    ConfigKey("extend-select", "extend_select", flag="--extend-select", holds_codes=True, words=True),
    ConfigKey("ignore", "ignore", flag="--ignore", holds_codes=True, words=True),
    ConfigKey("exclude", "exclude", flag="--exclude"),
    ConfigKey("extend-exclude", "extend_exclude", flag="--extend-exclude"),
    ConfigKey("per-file-ignores", "per_file_ignores", kind=TABLE, holds_codes=True),
    ConfigKey("line-length", "line_length", kind=INT),
    ConfigKey("cache", "cache", kind=BOOL, flag="--no-cache"),
    ConfigKey("cache-dir", "cache_dir", kind=FOLDER, flag="--cache-dir"),
)  # fmt: skip


def key_by_spelling() -> Dict[str, ConfigKey]:
    """Every accepted spelling (name or alias, with ``-`` or ``_``) -> its key."""
    spellings: Dict[str, ConfigKey] = {}
    for key in CONFIG_KEYS:
        for name in (key.name, *key.aliases):
            spellings[name] = key
            spellings[name.replace("-", "_")] = key
    return spellings


def flake8_keys() -> Dict[str, ConfigKey]:
    """The ``[flake8]`` keys clip-lint reads (with ``-`` or ``_``), -> their key."""
    keys: Dict[str, ConfigKey] = {}
    for key in CONFIG_KEYS:
        if key.flake8:
            keys[key.flake8] = key
            keys[key.flake8.replace("-", "_")] = key
    return keys
