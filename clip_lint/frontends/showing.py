"""What a run would do, and what it did: ``--show-files``, ``--show-settings FILE`` and ``-v``.

``--show-settings`` prints each setting that applies to one file with where it came from: a
command-line flag, a key of a config file (and which), an environment variable, or the default.
``-v`` prints, on stderr, the config file of each project root, the cache folders with how many
files they answered, and the files that took longer than a second.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, List, Sequence, TextIO, Tuple

from clip_lint.config.files import LoadedConfig
from clip_lint.config.selection import is_enabled, matches_glob
from clip_lint.frontends.runner import HIT, MISS, FileResult, Settings
from clip_lint.options import CONFIG_KEYS, DEFAULT_SELECT, Options
from clip_lint.project.cache import CACHE_DIR_ENV, NO_CACHE_ENV, cache_directory, project_root
from clip_lint.sources.discovery import DEFAULT_EXCLUDE
from clip_lint.sources.documents import kind_of

SLOW_ENV = "CLIP_LINT_SLOW_FILE"  # seconds over which -v names a file (default 1)
DEFAULT = "default"

#: Flags that replace a config's value, and flags that add to it (clip_lint.frontends.cli.merge_options).
REPLACING = {"select": "--select", "ignore": "--ignore", "exclude": "--exclude"}
ADDING = {
    "extend_select": "--extend-select", "extend_exclude": "--extend-exclude",
    "extra_encoders": "--extra-encoders", "extra_normalizers": "--extra-normalizers",
}  # fmt: skip

Row = Tuple[str, Any, str]  # (setting, value, where it came from)


# --- --show-files -------------------------------------------------------------------------------


def show_files(files: Sequence[str], stream: TextIO) -> None:
    stream.writelines(f"{path}\n" for path in files)


# --- --show-settings ----------------------------------------------------------------------------


def settings_rows(path: str, loaded: LoadedConfig, options: Options, args: argparse.Namespace,
                  settings: Settings) -> List[Row]:  # fmt: skip
    """Every setting that applies to ``path``, with its value and where it came from."""
    rows: List[Row] = [
        ("kind", kind_of(path), "the file's suffix"),
        ("config", list(loaded.paths), _config_source(loaded, args)),
        ("project root", project_root(path), "the nearest folder with pyproject.toml, setup.cfg, setup.py or .git"),
    ]
    for key in CONFIG_KEYS:
        if key.field in ("cache", "cache_dir"):
            continue
        rows.append((key.name, _value(key.field, options), _source(key.field, loaded, args)))
    rows.append(("per-file-ignores here", _per_file_codes(path, loaded, options), _per_file_source(path, options)))
    rows.extend(_cache_rows(path, loaded, options, args, settings))
    excluded = [pattern for pattern in options.exclude + options.extend_exclude
                if matches_glob(pattern, path, loaded.root)]  # fmt: skip
    why = f"matches {', '.join(excluded)}" if excluded else "no exclude pattern of yours matches it"
    rows.append(("excluded", bool(excluded), why))
    rows.append(("rules reported", _rules_reported(settings), "select, extend-select, ignore and per-file-ignores"))
    return rows


def render_settings(path: str, rows: Sequence[Row], format_name: str) -> str:
    if format_name == "json":
        settings = {name: {"value": value, "source": source} for name, value, source in rows}
        return json.dumps({"path": path, "settings": settings}, indent=2) + "\n"
    width = max(len(name) for name, _, _ in rows)
    lines = [f"Settings for {path}:"]
    for name, value, source in rows:
        lines.append(f"  {name:<{width}}  {_shown(value)}  ({source})")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{glob}: {', '.join(codes)}" for glob, codes in value.items()) or "(none)"
    return str(value)


def _config_source(loaded: LoadedConfig, args: argparse.Namespace) -> str:
    if args.config:
        return "--config"
    if not loaded.paths:
        return "no config file above the file or the working directory: the defaults"
    return "the nearest folder above the file with clip-lint settings"


def _value(field_name: str, options: Options) -> Any:
    value = getattr(options, field_name)
    if field_name == "select" and not value:
        return list(DEFAULT_SELECT)
    if field_name == "exclude" and not value:
        return list(DEFAULT_EXCLUDE)
    if field_name == "per_file_ignores":
        return {glob: list(codes) for glob, codes in value}
    if field_name == "line_length":
        return value or 88
    return list(value) if isinstance(value, tuple) else value


def _source(field_name: str, loaded: LoadedConfig, args: argparse.Namespace) -> str:
    configured = loaded.source_of(field_name)
    if field_name in REPLACING and getattr(args, field_name) is not None:
        return REPLACING[field_name]
    if field_name in ADDING and getattr(args, field_name):
        return " + ".join(part for part in (configured, ADDING[field_name]) if part)
    if configured:
        return configured
    if field_name == "select":
        return f"{DEFAULT}: every rule that is on by default"
    if field_name == "exclude":
        return f"{DEFAULT}: virtualenv, build and cache folders"
    return DEFAULT


def _per_file_codes(path: str, loaded: LoadedConfig, options: Options) -> List[str]:
    return [code for glob, codes in options.per_file_ignores if matches_glob(glob, path, loaded.root) for code in codes]


def _per_file_source(path: str, options: Options) -> str:
    return "the per-file-ignores globs that match the file" if options.per_file_ignores else DEFAULT


def _cache_rows(path: str, loaded: LoadedConfig, options: Options, args: argparse.Namespace,
                settings: Settings) -> List[Row]:  # fmt: skip
    if args.no_cache:
        why = "--no-cache"
    elif os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        why = NO_CACHE_ENV
    else:
        why = loaded.source_of("cache") or DEFAULT
    rows: List[Row] = [("cache", settings.cache.enabled, why)]
    if settings.cache.enabled:
        rows.append(("cache-dir", cache_directory(settings.cache, path), _cache_dir_source(loaded, args)))
    return rows


def _cache_dir_source(loaded: LoadedConfig, args: argparse.Namespace) -> str:
    if args.cache_dir:
        return "--cache-dir"
    if os.environ.get(CACHE_DIR_ENV):
        return CACHE_DIR_ENV
    return loaded.source_of("cache_dir") or f"{DEFAULT}: .clip_lint_cache at the project root"


def _rules_reported(settings: Settings) -> List[str]:
    from clip_lint.rules import RULES

    return [code for code in sorted(RULES) if is_enabled(code, settings.select, settings.ignore)]


# --- -v -----------------------------------------------------------------------------------------


def slow_threshold() -> float:
    try:
        return float(os.environ.get(SLOW_ENV, "1"))
    except ValueError:
        return 1.0


def verbose_configs(files: Sequence[str], configs: Sequence[LoadedConfig], stream: TextIO) -> None:
    """Which config file each project root's files use (one line per config)."""
    counts: Dict[int, int] = {}
    by_id: Dict[int, LoadedConfig] = {}
    for loaded in configs:
        counts[id(loaded)] = counts.get(id(loaded), 0) + 1
        by_id[id(loaded)] = loaded
    stream.write(f"clip-lint: {_plural(len(files), 'file')} to check\n")
    for key, loaded in by_id.items():
        files_here = _plural(counts[key], "file")
        if loaded.paths:
            stream.write(f"clip-lint: {files_here} under {loaded.root}: settings from {', '.join(loaded.paths)}\n")
        else:
            stream.write(f"clip-lint: {files_here} under {loaded.root}: no config file, the defaults\n")


def verbose_results(results: Sequence[FileResult], settings: Sequence[Settings], stream: TextIO) -> None:
    """The cache folders and how many files each answered, then the slow files.

    ``results`` and ``settings`` are those of the checked files, in the same order.
    """
    folders: Dict[str, List[int]] = {}  # folder -> [from the cache, analysed, nothing to analyse]
    off = 0
    for result, file_settings in zip(results, settings):
        if not file_settings.cache.enabled:
            off += 1
            continue
        counts = folders.setdefault(cache_directory(file_settings.cache, result.path), [0, 0, 0])
        counts[0 if result.cache == HIT else 1 if result.cache == MISS else 2] += 1
    for folder, (hits, misses, skipped) in folders.items():
        stream.write(
            f"clip-lint: cache {folder}: {_plural(hits, 'file')} from the cache, {misses} analysed, "
            f"{skipped} with nothing to analyse\n"
        )
    if off:
        stream.write(f"clip-lint: cache off for {_plural(off, 'file')}\n")
    threshold = slow_threshold()
    for result in sorted(results, key=lambda result: -result.seconds):
        if result.seconds > threshold:
            stream.write(f"clip-lint: slow: {result.path} took {result.seconds:.2f} s\n")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
