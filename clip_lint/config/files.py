"""Find and read the command's configuration, per file, as ruff does.

A directory *has a config* when one of its files carries a section clip-lint reads:
``[tool.clip-lint]`` in pyproject.toml, ``[clip-lint]`` in setup.cfg, or the plugin's keys
(``clip-encoders``, ``clip-normalizers``) under ``[flake8]`` in setup.cfg, tox.ini or .flake8.
A file is checked with the config of the nearest such directory above it; within one
directory ``[tool.clip-lint]`` wins over ``[clip-lint]``, which wins over ``[flake8]``, key
by key. Unknown keys, wrong types and unknown codes are a ``ConfigError`` (exit code 2).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from clip_lint.options import (
    BOOL, FOLDER, INT, LIST, TABLE, ConfigKey, Options, flake8_keys, key_by_spelling, split_list,
)
from clip_lint.config.selection import UnknownCodeError, check_codes

if TYPE_CHECKING:  # pragma: no cover
    import configparser
    from types import ModuleType

CONFIG_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", ".flake8")


class ConfigError(Exception):
    """A configuration file that can't be used; the message says which file and key."""


@dataclass(frozen=True)
class Section:
    """One section's raw values and how to read them."""

    path: str
    title: str  # "[tool.clip-lint]", "[clip-lint]" or "[flake8]"
    values: Dict[str, Any]
    toml: bool = False

    @property
    def where(self) -> str:
        return f"{self.title} in {self.path}"


@dataclass(frozen=True)
class LoadedConfig:
    """The options read, the files they came from (none: built-in defaults) and their folder.

    ``sources`` says where each option that is not a default was set (``--show-settings``).
    """

    options: Options = field(default_factory=Options)
    paths: Tuple[str, ...] = ()
    root: str = "."
    sources: Tuple[Tuple[str, str], ...] = ()  # (Options field, where it was set)

    @property
    def path(self) -> Optional[str]:
        return self.paths[0] if self.paths else None

    def source_of(self, field_name: str) -> Optional[str]:
        return dict(self.sources).get(field_name)


# The TOML and ini parsers are imported only when a file of their kind is read: most folders
# a run walks up through hold neither, and both cost start-up time.


def _tomllib() -> ModuleType:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11 only
        import tomli as tomllib
    return tomllib


def _read_ini(path: str) -> configparser.RawConfigParser:
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    return parser


def _read_toml(path: str) -> Dict[str, Any]:
    tomllib = _tomllib()
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


def read_sections(path: str) -> List[Section]:
    """The sections of one config file that clip-lint reads, highest precedence first."""
    if os.path.basename(path).endswith(".toml"):
        tool = _read_toml(path).get("tool", {})
        section = tool.get("clip-lint") if isinstance(tool, dict) else None
        if section is None:
            return []
        if not isinstance(section, dict):
            raise ConfigError(f"[tool.clip-lint] in {path} must be a table")
        return [Section(path, "[tool.clip-lint]", dict(section), toml=True)]
    parser = _read_ini(path)
    sections = []
    if parser.has_section("clip-lint") and os.path.basename(path) == "setup.cfg":
        sections.append(Section(path, "[clip-lint]", dict(parser["clip-lint"])))
    if parser.has_section("flake8"):
        plugin_keys = flake8_keys()
        values = {key: value for key, value in parser["flake8"].items() if key in plugin_keys}
        if values:
            sections.append(Section(path, "[flake8]", values))
    return sections


def options_from_sections(sections: List[Section]) -> Options:
    """Options from ``sections`` (highest precedence first): each field from the first that sets it."""
    values: Dict[str, Any] = {}
    for section in reversed(sections):
        values.update(_section_values(section))
    return replace(Options(), **values)


def sources_of(sections: List[Section]) -> Dict[str, str]:
    """Where each option ``options_from_sections`` reads was set: the key, as written, and its section."""
    sources: Dict[str, str] = {}
    for section in reversed(sections):
        spellings = flake8_keys() if section.title == "[flake8]" else key_by_spelling()
        here: Dict[str, List[str]] = {}
        for name in section.values:
            key = spellings.get(name)
            if key is not None:
                here.setdefault(key.field, []).append(f"'{name}'")
        sources.update({field_name: f"{' and '.join(names)} in {section.where}" for field_name, names in here.items()})
    return sources


def _loaded(sections: List[Section], paths: Tuple[str, ...], directory: str) -> LoadedConfig:
    sources = sources_of(sections)
    options = options_from_sections(sections)
    if not options.line_length:
        options, line_length_source = _with_project_line_length(options, directory)
        if line_length_source:
            sources["line_length"] = line_length_source
    return LoadedConfig(options, paths, directory, tuple(sorted(sources.items())))


def _section_values(section: Section) -> Dict[str, Any]:
    spellings = flake8_keys() if section.title == "[flake8]" else key_by_spelling()
    values: Dict[str, Any] = {}
    for name, raw in section.values.items():
        key = spellings.get(name)
        if key is None:
            known = ", ".join(sorted({key.name for key in spellings.values()}))
            raise ConfigError(f"unknown key '{name}' in {section.where}; known keys: {known}")
        value = _read_value(key, name, raw, section)
        if key.holds_codes:
            _check_key_codes(key, name, value, section)
        if key.field in values and key.kind == LIST:  # a key and its alias: both count
            value = values[key.field] + value
        values[key.field] = value
    return values


def _check_key_codes(key: ConfigKey, name: str, value: Any, section: Section) -> None:
    codes = [code for _, codes in value for code in codes] if key.kind == TABLE else list(value)
    try:
        check_codes(codes, f"'{name}' of {section.where}")
    except UnknownCodeError as error:
        raise ConfigError(str(error)) from error


def _read_value(key: ConfigKey, name: str, raw: Any, section: Section) -> Any:
    if key.kind == TABLE:
        return _read_table(name, raw, section)
    if key.kind == INT:
        return _positive_int(raw, name, section.where)
    if key.kind == BOOL:
        return _boolean(raw, name, section.where)
    if key.kind == FOLDER:
        return _folder(raw, name, section.where)
    if not section.toml:  # an ini value: names and codes as flake8 reads them, patterns by line or comma
        return split_list(str(raw)) if key.words else _split(raw)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return split_list(raw) if key.words else tuple(item.strip() for item in raw if item.strip())
    raise ConfigError(f"'{name}' in {section.where} must be a {LIST}, not {_toml_type(raw)}: {raw!r}")


def _read_table(name: str, raw: Any, section: Section) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """``{glob = [codes]}`` in TOML; ``glob: CODES`` lines (flake8's form) in an ini file."""
    if not section.toml:
        entries = []
        for line in str(raw).splitlines():
            if not line.strip():
                continue
            glob, colon, codes = line.partition(":")
            if not colon or not glob.strip():
                raise ConfigError(f"'{name}' in {section.where}: expected 'glob: CODES', got {line.strip()!r}")
            entries.append((glob.strip(), split_list(codes)))
        return tuple(entries)
    if not isinstance(raw, dict):
        raise ConfigError(f"'{name}' in {section.where} must be a {TABLE}, not {_toml_type(raw)}: {raw!r}")
    for glob, codes in raw.items():
        if not (isinstance(codes, list) and all(isinstance(code, str) for code in codes)):
            raise ConfigError(
                f"'{name}' in {section.where}: the codes for {glob!r} must be a {LIST}, "
                f"not {_toml_type(codes)}: {codes!r}"
            )
    return tuple((glob, tuple(code.strip() for code in codes)) for glob, codes in raw.items())


def _split(raw: str) -> Tuple[str, ...]:
    return tuple(item.strip() for item in str(raw).replace("\n", ",").split(",") if item.strip())


def _toml_type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", dict: "a table"}
    return names.get(type(value), "a list with non-strings" if isinstance(value, list) else type(value).__name__)


def _positive_int(raw: Any, key: str, where: str) -> int:
    """A positive integer, or its digits (setup.cfg)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    raise ConfigError(f"'{key}' in {where} must be a positive integer, not {raw!r}")


def _boolean(raw: Any, key: str, where: str) -> bool:
    """A TOML boolean, or setup.cfg's true/false, yes/no, on/off, 1/0."""
    if isinstance(raw, bool):
        return raw
    import configparser

    if isinstance(raw, str) and raw.strip().lower() in configparser.ConfigParser.BOOLEAN_STATES:
        return configparser.ConfigParser.BOOLEAN_STATES[raw.strip().lower()]
    raise ConfigError(f"'{key}' in {where} must be true or false, not {raw!r}")


def _folder(raw: Any, key: str, where: str) -> str:
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    raise ConfigError(f"'{key}' in {where} must be a folder name, not {raw!r}")


def with_project_line_length(options: Options, start: str) -> Options:
    """Without a ``line-length`` of its own, fixes keep to the project's formatter or flake8."""
    return _with_project_line_length(options, start)[0]


def _with_project_line_length(options: Options, start: str) -> Tuple[Options, Optional[str]]:
    if options.line_length:
        return options, None
    found = _project_line_length(start)
    if found is None:
        return replace(options, line_length=0), None
    length, files = found
    return replace(options, line_length=length), f"the shortest line length of Black, ruff or flake8: {files}"


def project_line_length(start: str) -> Optional[int]:
    """The shortest line length that Black, ruff or flake8 is set to in the nearest directory
    (from ``start`` upwards) that configures any of them."""
    found = _project_line_length(start)
    return found[0] if found else None


def _project_line_length(start: str) -> Optional[Tuple[int, str]]:
    """The project's line length and the file that sets it."""
    directory = os.path.abspath(start)
    while True:
        found = [
            (length, name) for name in LINE_LENGTH_FILES if (length := _line_length_in(os.path.join(directory, name)))
        ]
        if found:
            length, name = min(found)
            return length, os.path.join(directory, name)
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


#: Files that may set a line length: pyproject.toml for the formatters, the others for flake8.
LINE_LENGTH_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", ".flake8")


def _line_length_in(path: str) -> Optional[int]:
    if not os.path.isfile(path):
        return None
    found = _toml_line_lengths(path) if path.endswith(".toml") else _ini_line_lengths(path)
    lengths = [int(value) for value in found if str(value).strip().isdigit()]
    return min(lengths) if lengths else None


def _toml_line_lengths(path: str) -> List[Any]:
    """Black's and ruff's ``line-length`` (an unreadable file sets none)."""
    tomllib = _tomllib()
    try:
        with open(path, "rb") as handle:
            tools = tomllib.load(handle).get("tool", {})
        return [tools.get(tool, {}).get("line-length") for tool in ("black", "ruff")]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return []


def _ini_line_lengths(path: str) -> List[Any]:
    """flake8's ``max-line-length`` (an unreadable file sets none)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        return [parser.get("flake8", key, fallback=None) for key in ("max-line-length", "max_line_length")]
    except (OSError, UnicodeDecodeError, configparser.Error, AttributeError):
        return []


def read_directory(directory: str) -> Optional[LoadedConfig]:
    """The config of ``directory`` itself (None when none of its files has a clip-lint section)."""
    sections = []
    for name in CONFIG_FILES:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            sections.extend(read_sections(candidate))
    if not sections:
        return None
    paths = tuple(dict.fromkeys(section.path for section in sections))
    return _loaded(sections, paths, directory)


def load_explicit(path: str) -> LoadedConfig:
    """The config of ``--config PATH``: a file with a section clip-lint reads, or an error."""
    if os.path.isdir(path):
        raise ConfigError(f"--config {path} is a folder; name a file: {', '.join(CONFIG_FILES)}")
    if not os.path.isfile(path):
        raise ConfigError(f"--config {path} does not exist")
    sections = read_sections(path)
    if not sections:
        raise ConfigError(
            f"--config {path} has no clip-lint settings: expected [tool.clip-lint] (pyproject.toml), "
            "[clip-lint] (setup.cfg) or clip-encoders / clip-normalizers under [flake8]"
        )
    directory = os.path.dirname(os.path.abspath(path))
    return _loaded(sections, (path,), directory)


class ConfigResolver:
    """The config of each file: ``--config`` when given, else the nearest one above the file.

    A file with no config above it gets the one found from the working directory (or the
    defaults). Directories are read once.
    """

    def __init__(self, explicit: Optional[str] = None) -> None:
        self._explicit = load_explicit(explicit) if explicit is not None else None
        self._by_directory: Dict[str, Optional[LoadedConfig]] = {}
        self._fallback: Optional[LoadedConfig] = None

    def for_path(self, path: str) -> LoadedConfig:
        if self._explicit is not None:
            return self._explicit
        absolute = os.path.abspath(path)
        start = absolute if os.path.isdir(absolute) else os.path.dirname(absolute)
        return self._nearest(start) or self._default()

    def _default(self) -> LoadedConfig:
        if self._fallback is None:
            self._fallback = self._nearest(os.getcwd()) or _loaded([], (), os.getcwd())
        return self._fallback

    def _nearest(self, directory: str) -> Optional[LoadedConfig]:
        visited = []
        found: Optional[LoadedConfig] = None
        while True:
            if directory in self._by_directory:
                found = self._by_directory[directory]
                break
            visited.append(directory)
            found = read_directory(directory)
            if found is not None:
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        for seen in visited:
            self._by_directory[seen] = found
        return found
