"""Read the command's settings from ``[tool.clip-lint]`` in pyproject.toml or ``[clip-lint]`` in setup.cfg.

Both files feed the same ``Options`` that the flake8 plugin uses. The nearest directory (from
the working directory upwards) whose pyproject.toml or setup.cfg has the section wins; an
unknown key or a value of the wrong type is a ``ConfigError`` (exit code 2).
"""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass, replace
from typing import Any, Dict, Optional, Tuple

from clip_lint.options import CONFIG_KEYS, Options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration file that can't be used; the message says which file and key."""


@dataclass(frozen=True)
class LoadedConfig:
    """The options read and where from (``path`` None: built-in defaults)."""

    options: Options
    path: Optional[str] = None

    @property
    def root(self) -> str:
        """The directory that relative exclude patterns are matched from."""
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()


def find_config(start: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """The nearest file with a clip-lint section, and that section's raw values."""
    directory = os.path.abspath(start)
    while True:
        for name in ("pyproject.toml", "setup.cfg"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                section = read_section(candidate)
                if section is not None:
                    return candidate, section
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def read_section(path: str) -> Optional[Dict[str, Any]]:
    """The clip-lint section of one pyproject.toml or setup.cfg (None if it has none)."""
    try:
        if path.endswith(".toml"):
            with open(path, "rb") as handle:
                document = tomllib.load(handle)
            section = document.get("tool", {}).get("clip-lint")
            return None if section is None else dict(section)
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
        return dict(parser["clip-lint"]) if parser.has_section("clip-lint") else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


def load_config(explicit: Optional[str] = None, start: str = ".") -> LoadedConfig:
    """Options from ``explicit`` (a pyproject.toml or setup.cfg path) or the nearest config."""
    if explicit is not None:
        if not os.path.isfile(explicit):
            raise ConfigError(f"config file {explicit} does not exist")
        section = read_section(explicit)
        return LoadedConfig(options_from_section(section or {}, explicit), explicit)
    found = find_config(start)
    if found is None:
        return LoadedConfig(_with_project_line_length(Options(), start))
    path, section = found
    return LoadedConfig(_with_project_line_length(options_from_section(section, path), start), path)


def _with_project_line_length(options: Options, start: str) -> Options:
    """Without a ``line-length`` of its own, fixes keep to the project's formatter or flake8."""
    if options.line_length:
        return options
    return replace(options, line_length=project_line_length(start) or 0)


def project_line_length(start: str) -> Optional[int]:
    """The shortest line length that Black, ruff or flake8 is set to in the nearest directory
    (from ``start`` upwards) that configures any of them."""
    directory = os.path.abspath(start)
    while True:
        lengths = [length for name in LINE_LENGTH_FILES if (length := _line_length_in(os.path.join(directory, name)))]
        if lengths:
            return min(lengths)
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


#: Files that may set a line length: pyproject.toml for the formatters, the others for flake8.
LINE_LENGTH_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", ".flake8")


def _line_length_in(path: str) -> Optional[int]:
    if not os.path.isfile(path):
        return None
    try:
        if path.endswith(".toml"):
            with open(path, "rb") as handle:
                tools = tomllib.load(handle).get("tool", {})
            found = [tools.get(tool, {}).get("line-length") for tool in ("black", "ruff")]
        else:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(path, encoding="utf-8")
            found = [parser.get("flake8", key, fallback=None) for key in ("max-line-length", "max_line_length")]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error, AttributeError):
        return None
    lengths = [int(value) for value in found if str(value).strip().isdigit()]
    return min(lengths) if lengths else None


def options_from_section(section: Dict[str, Any], path: str) -> Options:
    """Validate a section's keys and values and build ``Options`` from them."""
    where = f"[tool.clip-lint] in {path}" if path.endswith(".toml") else f"[clip-lint] in {path}"
    values: Dict[str, Any] = {}
    for key, raw in section.items():
        field_name = CONFIG_KEYS.get(key) or CONFIG_KEYS.get(key.replace("_", "-"))
        if field_name is None:
            known = ", ".join(sorted(CONFIG_KEYS))
            raise ConfigError(f"unknown key '{key}' in {where}; known keys: {known}")
        if field_name == "line_length":
            values[field_name] = _positive_int(raw, key, where)
        else:
            values[field_name] = values.get(field_name, ()) + _string_list(raw, key, where)
    return replace(Options(), **values)


def _positive_int(raw: Any, key: str, where: str) -> int:
    """A positive integer, or its digits (setup.cfg)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    raise ConfigError(f"'{key}' in {where} must be a positive integer, not {raw!r}")


def _string_list(raw: Any, key: str, where: str) -> Tuple[str, ...]:
    """A list of strings, or one string of comma- or newline-separated items (setup.cfg)."""
    if isinstance(raw, str):
        return tuple(item.strip() for item in raw.replace("\n", ",").split(",") if item.strip())
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(item.strip() for item in raw if item.strip())
    raise ConfigError(f"'{key}' in {where} must be a list of strings, not {type(raw).__name__}: {raw!r}")
