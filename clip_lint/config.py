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
from typing import Any, Callable, Dict, Optional, Tuple

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
        return LoadedConfig(Options())
    path, section = found
    return LoadedConfig(options_from_section(section, path), path)


def options_from_section(section: Dict[str, Any], path: str) -> Options:
    """Validate a section's keys and values and build ``Options`` from them."""
    where = f"[tool.clip-lint] in {path}" if path.endswith(".toml") else f"[clip-lint] in {path}"
    values: Dict[str, Tuple[str, ...]] = {}
    for key, raw in section.items():
        field_name = CONFIG_KEYS.get(key) or CONFIG_KEYS.get(key.replace("_", "-"))
        if field_name is None:
            known = ", ".join(sorted(CONFIG_KEYS))
            raise ConfigError(f"unknown key '{key}' in {where}; known keys: {known}")
        if field_name in CACHE_FIELDS:
            values[field_name] = CACHE_FIELDS[field_name](raw, key, where)
            continue
        values[field_name] = values.get(field_name, ()) + _string_list(raw, key, where)
    return replace(Options(), **values)


def _string_list(raw: Any, key: str, where: str) -> Tuple[str, ...]:
    """A list of strings, or one string of comma- or newline-separated items (setup.cfg)."""
    if isinstance(raw, str):
        return tuple(item.strip() for item in raw.replace("\n", ",").split(",") if item.strip())
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(item.strip() for item in raw if item.strip())
    raise ConfigError(f"'{key}' in {where} must be a list of strings, not {type(raw).__name__}: {raw!r}")


# --- the cache's keys: `cache = false` and `cache-dir = "DIR"` -----------------------------------


def _boolean(raw: Any, key: str, where: str) -> bool:
    """A TOML boolean, or setup.cfg's true/false, yes/no, on/off, 1/0."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in configparser.ConfigParser.BOOLEAN_STATES:
        return configparser.ConfigParser.BOOLEAN_STATES[raw.strip().lower()]
    raise ConfigError(f"'{key}' in {where} must be true or false, not {raw!r}")


def _folder(raw: Any, key: str, where: str) -> str:
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    raise ConfigError(f"'{key}' in {where} must be a folder name, not {raw!r}")


CACHE_FIELDS: Dict[str, Callable[[Any, str, str], Any]] = {"cache": _boolean, "cache_dir": _folder}
