"""Findings kept on disk between runs, never stale: each entry holds everything its analysis read.

**The key** of a file's entry is made of its path, the hash of its content, the analysis
options, the project root (messages name other modules relative to it), clip-lint's version
with a fingerprint of its own source, Python's version and libcst's version, and a format number.

**The entry** holds the findings and the record of every read the analysis made of the project
through the project's ``SourceReader`` (``clip_lint.project.reading``): each file with the hash
of the very bytes that were analysed, each existence probe of import resolution (a file, a
folder, where a symlink leads) with its answer. It is used only while every one of those reads
still answers the same. The project gate's answer for a file that names no encoder (does an
import hand it features?) is kept the same way, so a warm run parses nothing. Files are read
once per run (a snapshot): a file saved while the run analyses its importers makes their entries
record the version they saw, and the next run analyses them again.

Not cached: code read from stdin or an editor's buffer (an overlay text), and a result that the
wall-clock safety net cut short (it is reported instead).

**The folder** is only a cache. clip-lint writes its ``.gitignore`` and ``CACHEDIR.TAG`` only into
a folder it creates, and refuses (``CacheFolderError``) a folder that holds anything besides its
own entries, tag and ``.gitignore``. An entry that is not a regular file is ignored. One JSON file
per entry, written to a temporary file and moved into place with ``os.replace``: concurrent runs
never see half an entry and need no lock. An entry that can't be read, doesn't parse or doesn't
match its key is a miss and is rewritten. A folder that can't be written means no cache. Nothing
here imports libcst: a warm run never needs it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

from clip_lint import __version__
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.gate import may_compare, needs_analysis, passes_gate, project_imports
from clip_lint.project.depth import at_fixed_depth
from clip_lint.project.reading import SourceReader, read_regular_file

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.project.modules import Project

CACHE_DIR_NAME = ".clip_lint_cache"
CACHE_DIR_ENV = "CLIP_LINT_CACHE_DIR"
NO_CACHE_ENV = "CLIP_LINT_NO_CACHE"
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
FORMAT = 3  # bump when the layout of an entry changes
FINDINGS, PARSE_ERRORS, GATES, RECORDS = "findings", "parse-errors", "gates", "records"
KINDS = (FINDINGS, PARSE_ERRORS, GATES, RECORDS)
_DIGEST = re.compile(r"[0-9a-f]{64}")
TAG_NAME, GITIGNORE_NAME = "CACHEDIR.TAG", ".gitignore"
#: What a cache folder may hold: its entries' folders (an older format's too), its tag, its
#: ``.gitignore``, and the temporary files of writes in progress.
OWN_NAMES = frozenset({*KINDS, "summaries", TAG_NAME, GITIGNORE_NAME})
TEMPORARY_PREFIX = ".tmp-"
STDIN_NAMES = ("", "-", "stdin")

# https://bford.info/cachedir/: backup and archiving tools skip a folder holding this file.
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by clip-lint.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
GITIGNORE = "# Automatically created by clip-lint.\n*\n"


@dataclass(frozen=True)
class CacheConfig:
    """Whether to cache, and where (``directory`` None: ``.clip_lint_cache`` at the project root).

    ``unsaved``: the checked text is not the file on disk (stdin, an editor's buffer): the
    project layer reads it in place of the file, and nothing is cached.
    """

    enabled: bool = True
    directory: Optional[str] = None
    unsaved: bool = False

    def with_environment(self) -> "CacheConfig":
        """``CLIP_LINT_NO_CACHE`` turns the cache off; ``CLIP_LINT_CACHE_DIR`` names its folder."""
        if os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
            return CacheConfig(False, self.directory, self.unsaved)
        return CacheConfig(self.enabled, self.directory or os.environ.get(CACHE_DIR_ENV) or None, self.unsaved)


NO_CACHE = CacheConfig(enabled=False)
#: Code read from stdin: analysed as given (also where the project imports it back), never cached.
STDIN = CacheConfig(enabled=False, unsaved=True)


class CacheFolderError(Exception):
    """A cache folder that holds something besides clip-lint's cache: it is never used."""

    def __init__(self, directory: str, foreign: List[str]) -> None:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        super().__init__(
            f"cache folder {directory} holds files that are not clip-lint's cache ({shown}); "
            "clip-lint keeps its cache only in a folder of its own: choose a new or empty folder"
        )
        self.directory = directory


# --- where the cache lives --------------------------------------------------------------------

_roots: Dict[str, str] = {}


def project_root(path: str) -> str:
    """The nearest folder above ``path`` with a project marker; else the working directory,
    when ``path`` lies under it, or the file's own folder."""
    start = os.path.dirname(os.path.abspath(path))
    if start not in _roots:
        _roots[start] = _marked_ancestor(start) or _fallback_root(start)
    return _roots[start]


def _marked_ancestor(directory: str) -> Optional[str]:
    while True:
        if any(os.path.exists(os.path.join(directory, marker)) for marker in PROJECT_MARKERS):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _fallback_root(directory: str) -> str:
    cwd = os.getcwd()
    return cwd if directory == cwd or directory.startswith(cwd.rstrip(os.sep) + os.sep) else directory


def cache_directory(config: CacheConfig, path: str) -> str:
    return os.path.abspath(config.directory) if config.directory else os.path.join(project_root(path), CACHE_DIR_NAME)


def foreign_entries(directory: str) -> List[str]:
    """What a folder holds besides clip-lint's cache (nothing, for a missing or empty folder)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(name for name in names if name not in OWN_NAMES and not name.startswith(TEMPORARY_PREFIX))


def check_cache_folder(directory: str) -> None:
    """Raise ``CacheFolderError`` when ``directory`` holds anything but clip-lint's cache."""
    if os.path.isdir(directory):
        foreign = foreign_entries(directory)
        if foreign:
            raise CacheFolderError(directory, foreign)


def check_cache_folders(configs: List[Tuple[CacheConfig, str]]) -> None:
    """``check_cache_folder`` for the folder of each (config, checked file): a front end asks it
    once, before it checks any file, to refuse a folder with a clear error."""
    seen = set()
    for config, path in configs:
        if not config.enabled or path in STDIN_NAMES:
            continue
        directory = cache_directory(config, path)
        if directory not in seen:
            seen.add(directory)
            check_cache_folder(directory)


# --- the store ----------------------------------------------------------------------------------


class Cache:
    """One folder of entries, one JSON file each; every failure is a miss, never an error."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    @classmethod
    def create(cls, directory: str) -> Optional["Cache"]:
        """The cache in ``directory``, made if need be (with its CACHEDIR.TAG and .gitignore, only
        then); None when the folder can't be made or written. ``CacheFolderError`` when it holds
        anything besides clip-lint's cache."""
        created = False
        if not os.path.lexists(directory):
            try:
                os.makedirs(directory)
                created = True
            except FileExistsError:
                pass  # another run made it meanwhile
            except OSError:
                return None
        if not os.path.isdir(directory):
            return None  # a file in the way: no cache
        check_cache_folder(directory)
        try:
            for kind in KINDS:
                os.makedirs(os.path.join(directory, kind), exist_ok=True)
            if created:
                for name, text in ((TAG_NAME, CACHEDIR_TAG), (GITIGNORE_NAME, GITIGNORE)):
                    _write_atomically(directory, name, text)
        except OSError:
            return None
        if not os.access(os.path.join(directory, FINDINGS), os.W_OK | os.X_OK):
            return None
        return cls(directory)

    def read(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        data = read_regular_file(os.path.join(self.directory, kind, key + ".json"))  # a FIFO is never waited on
        if data is None:
            return None
        try:
            entry = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != FORMAT:
            return None  # foreign or damaged: the caller recomputes and rewrites it
        return entry

    def store_record(self, record: Any) -> Dict[str, str]:
        """Keep a record of what a result read under the hash of its text, once; the entry names it.

        On diffusers an entry's record lists thousands of probes and most entries share theirs with
        others (485 entries a run, about 190 records): a warm run reads and checks each once.
        """
        text = json.dumps(record, sort_keys=True)
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        folder = os.path.join(self.directory, RECORDS)
        if not os.path.exists(os.path.join(folder, digest + ".json")):
            try:
                _write_atomically(folder, digest + ".json", text)
            except OSError:
                pass  # the entry that names it will be a miss, never wrong
        return {"record": digest}

    def record_holds(
        self, reference: Any, still_valid: Callable[[Any], bool], checked: Optional[Dict[str, bool]] = None
    ) -> bool:
        """Whether the stored record ``reference`` names still holds (``still_valid``); a missing or
        damaged record does not. ``checked``: verdicts already reached in this run, by digest."""
        digest = reference.get("record") if isinstance(reference, dict) else None
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return False
        if checked is not None and digest in checked:
            return checked[digest]
        data = read_regular_file(os.path.join(self.directory, RECORDS, digest + ".json"))
        held = False
        if data is not None and hashlib.sha256(data).hexdigest() == digest:  # a damaged record is no record
            try:
                held = bool(still_valid(json.loads(data)))
            except (ValueError, RecursionError):
                held = False
        if checked is not None:
            checked[digest] = held
        return held

    def write(self, kind: str, key: str, payload: Dict[str, Any]) -> None:
        entry = {"format": FORMAT, "key": key, **payload}
        try:
            _write_atomically(os.path.join(self.directory, kind), key + ".json", json.dumps(entry))
        except (OSError, TypeError, ValueError):
            pass  # a full disk or a folder made read-only meanwhile: the result just isn't kept


def _write_atomically(directory: str, name: str, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


_opened: Dict[str, Optional[Cache]] = {}


def open_cache(config: CacheConfig, path: str) -> Optional[Cache]:
    """The cache for the file at ``path`` (None: caching is off, impossible or refused); one per
    folder and process. A refused folder is said once, on stderr (the front ends refuse it with
    an error before they start, through ``check_cache_folders``)."""
    if not config.enabled or config.unsaved or path in STDIN_NAMES:
        return None
    directory = cache_directory(config, path)
    if directory not in _opened:
        try:
            _opened[directory] = Cache.create(directory)
        except CacheFolderError as error:
            print(f"clip-lint: warning: {error}; caching is off", file=sys.stderr)
            _opened[directory] = None
    return _opened[directory]


# --- keys -------------------------------------------------------------------------------------------

_fingerprint: List[str] = []


def engine_fingerprint() -> str:
    """clip-lint's version and a hash of its own source, Python's version and libcst's: an
    edited checkout or another interpreter never reads old entries."""
    if not _fingerprint:
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        digest = hashlib.sha256(__version__.encode())
        for folder, _, files in sorted(os.walk(package)):
            for name in sorted(files):
                if name.endswith(".py"):
                    with open(os.path.join(folder, name), "rb") as handle:
                        digest.update(name.encode() + b"\0" + handle.read())
        python = f"{sys.implementation.name} {sys.version}"
        _fingerprint.append(f"{__version__}:{digest.hexdigest()[:16]}|{python}|libcst {libcst_version()}")
    return _fingerprint[0]


def libcst_version() -> str:
    """libcst's version, read from its distribution's metadata without importing it.

    The ``libcst-VERSION.dist-info`` folder next to the package names it; ``importlib.metadata``
    (which costs about 15 ms, a sixth of a warm run) is asked only when there is no such folder.
    """
    import importlib.util

    spec = importlib.util.find_spec("libcst")
    if spec is not None and spec.origin:
        site = os.path.dirname(os.path.dirname(spec.origin))
        try:
            found = [name for name in os.listdir(site) if name.startswith("libcst-") and name.endswith(".dist-info")]
        except OSError:
            found = []
        if len(found) == 1:
            return found[0][len("libcst-"):-len(".dist-info")]
    from importlib import metadata

    try:
        return metadata.version("libcst")
    except metadata.PackageNotFoundError:
        return "not installed"


def content_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(*parts: str, options: AnalysisOptions) -> str:
    """The key of an entry: the given parts, the engine's fingerprint, the options and the memory
    budget (a file skipped as too large under one budget is analysed under a larger one)."""
    from clip_lint.sources.parse_guard import memory_budget_mb

    material = [str(FORMAT), engine_fingerprint(), repr(options), f"budget {memory_budget_mb()}", *parts]
    return hashlib.sha256("\0".join(material).encode("utf-8", "surrogatepass")).hexdigest()


def findings_key(path: str, source: str, options: AnalysisOptions, root: str = "") -> str:
    return entry_key(FINDINGS, os.path.abspath(path), content_hash(source), root, options=options)


def gate_key(path: str, source: str, options: AnalysisOptions, root: str) -> str:
    return entry_key(GATES, os.path.abspath(path), content_hash(source), root, options=options)


# --- findings through the cache -------------------------------------------------------------------

#: Findings looked up in this process, answered from the cache or not (``clip-lint -v`` counts them).
LOOKUPS: Dict[str, int] = {"hits": 0, "misses": 0}


class CacheMiss(Exception):
    """Where a check would start work of its own (a parse, an analysis) inside ``answers_only()``."""


_ANSWERS_ONLY: List[bool] = []


@contextmanager
def answers_only() -> Iterator[None]:
    """Checks inside this block use what costs nothing (the substring gate) and the cache's answers;
    at the first question the cache can't answer they raise ``CacheMiss`` instead of working.

    The command checks each file this way in its own process first: a warm run, or a file with
    no encoder word, never needs a worker process (nor libcst, which only workers may run).
    """
    _ANSWERS_ONLY.append(True)
    try:
        yield
    finally:
        _ANSWERS_ONLY.pop()


def refuse_work() -> None:
    """Raise ``CacheMiss`` inside ``answers_only()``; do nothing elsewhere."""
    if _ANSWERS_ONLY:
        raise CacheMiss()


def cached_analysis(
    path: str,
    source: str,
    options: AnalysisOptions,
    config: CacheConfig,
    analyze: Callable[[], Tuple[List[Finding], Any]],
    still_valid: Callable[[Any], bool] = lambda reads: not reads,
    root: str = "",
    checked: Optional[Dict[str, bool]] = None,
) -> List[Finding]:
    """``analyze()``'s findings, from the cache while the file reads the same and ``still_valid``
    accepts the record of what they depended on; otherwise analysed and stored.

    ``analyze`` returns the findings and that record (JSON data), or None for a result that
    must not be kept.
    """
    cache = open_cache(config, path)
    if cache is None:
        refuse_work()
        return analyze()[0]
    key = findings_key(path, source, options, root)
    entry = cache.read(FINDINGS, key)
    if entry is not None:
        findings = _valid_findings(entry, lambda reference: cache.record_holds(reference, still_valid, checked))
        if findings is not None:
            LOOKUPS["hits"] += 1
            return findings
    refuse_work()
    LOOKUPS["misses"] += 1
    findings, reads = analyze()
    if reads is not None:
        encoded = [encode_finding(f) for f in findings]
        cache.write(FINDINGS, key, {"reads": cache.store_record(reads), "findings": encoded})
    return findings


def _valid_findings(entry: Dict[str, Any], still_valid: Callable[[Any], bool]) -> Optional[List[Finding]]:
    try:
        if not still_valid(entry["reads"]):
            return None
        return [decode_finding(item) for item in entry["findings"]]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None


def cached_parse_error(
    path: str, source: str, config: CacheConfig, parse_error: Callable[[], Optional[str]]
) -> Optional[str]:
    """Why libcst rejects ``source`` (None: it parses), from the cache when it has been asked before.

    The command asks it of every cell or code block when a notebook or a Markdown file
    doesn't parse as a whole; remembering the answer keeps libcst out of warm runs there too.
    The answer depends on the text alone (and on libcst, in the key).
    """
    cache = open_cache(config, path)
    if cache is None:
        refuse_work()
        return parse_error()
    key = entry_key(PARSE_ERRORS, content_hash(source), options=AnalysisOptions())
    entry = cache.read(PARSE_ERRORS, key)
    if entry is not None and (entry.get("reason") is None or isinstance(entry.get("reason"), str)):
        return entry.get("reason")
    refuse_work()
    reason = parse_error()
    cache.write(PARSE_ERRORS, key, {"reason": reason})
    return reason


def encode_finding(finding: Finding) -> Dict[str, Any]:
    fix = finding.fix
    return {
        "code": finding.code,
        "line": finding.line,
        "col": finding.col,
        "message": finding.message,
        "end": None if finding.end_line is None else [finding.end_line, finding.end_col],
        "fix": None
        if fix is None
        else {
            "title": fix.title,
            "safe": fix.safe,
            "edits": [[*edit.start, *edit.end, edit.text] for edit in fix.edits],
        },
    }


def decode_finding(item: Dict[str, Any]) -> Finding:
    """The finding ``encode_finding`` wrote; a malformed item raises KeyError, TypeError or ValueError."""
    fix = item["fix"]
    if fix is not None:
        edits = tuple(TextEdit((_int(a), _int(b)), (_int(c), _int(d)), _str(text)) for a, b, c, d, text in fix["edits"])
        fix = Fix(_str(fix["title"]), edits, bool(fix["safe"]))
    end = item.get("end")
    end_line, end_col = (None, None) if end is None else (_int(end[0]), _int(end[1]))
    code, message = _str(item["code"]), _str(item["message"])
    return Finding(code, _int(item["line"]), _int(item["col"]), message, fix, end_line, end_col)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an int, got {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a str, got {value!r}")
    return value


# --- what the front ends call ------------------------------------------------------------------------

_UNSAVED: Dict[Tuple[str, str], "Project"] = {}


def project_for(path: str, source: Optional[str] = None, config: CacheConfig = NO_CACHE) -> Optional["Project"]:
    """The project the file at ``path`` belongs to; None for code read from stdin without a name.

    With ``config.unsaved``, a project of its own whose reader reads ``source`` in place of the
    file (an overlay): an import of the file back from another module sees the text being checked.
    """
    from clip_lint.project.modules import Project

    if path in STDIN_NAMES:
        return None
    project = Project.for_path(path)
    if not config.unsaved or source is None:
        return project
    key = (os.path.realpath(path), source)
    if key not in _UNSAVED:
        _UNSAVED.clear()  # one unsaved text at a time: stdin is read once
        _UNSAVED[key] = Project(project.root, project.budgets, SourceReader(overlay={path: source}))
    return _UNSAVED[key]


def needs_check(path: str, source: str, options: AnalysisOptions, config: Optional[CacheConfig] = None) -> bool:
    """The gate: an encoder word in the file, or an import of a project module that leads to one.

    With a cache, the project part of the answer is kept with the record of what it read: a
    warm run checks those reads and parses nothing.
    """
    if passes_gate(source, options):
        return True
    if path in STDIN_NAMES or not may_compare(source):
        return False
    project = project_for(path, source, config or NO_CACHE)
    if project is None:
        return False

    def ask() -> bool:
        refuse_work()
        project.reader.real_path(path)  # where the file really is decides where its relative imports lead
        return at_fixed_depth(lambda: project_imports(source, options, path, project)[1])

    def hands_features() -> bool:
        cache = open_cache(config, path) if config is not None else None
        if cache is None:
            return ask()
        return _gate_through_cache(cache, project, gate_key(path, source, options, project.root), ask)

    return needs_analysis(source, options, path, project, hands_features)


def _gate_through_cache(cache: Cache, project: "Project", key: str, ask: Callable[[], bool]) -> bool:
    entry = cache.read(GATES, key)
    reader = project.reader
    if entry is not None and isinstance(entry.get("hands"), bool):
        if cache.record_holds(entry.get("reads"), reader.still_holds, reader.checked_records()):
            return entry["hands"]
    with project.reader.recording() as reads:
        hands = ask()
    if not reads.overlaid:
        cache.write(GATES, key, {"reads": cache.store_record(reads.to_json()), "hands": hands})
    return hands


def check_source(
    path: str,
    source: str,
    options: AnalysisOptions,
    config: CacheConfig,
    *,
    tree: Optional[ast.Module] = None,
    gated: bool = False,
) -> List[Finding]:
    """The engine's findings for the file at ``path`` with this ``source``, through the cache.

    ``gated``: the caller has already asked ``needs_check``. ``tree`` is the file's ``ast``,
    when the caller has it (flake8 does). The engine, and libcst with it, is imported only
    when the cache can't answer.
    """
    if not gated and not needs_check(path, source, options, config):
        return []
    project = project_for(path, source, config)
    if project is None:
        refuse_work()
        from clip_lint.project.checking import analyze_source

        return analyze_source(source, options, tree=tree)
    from clip_lint.project.checking import analyze_file

    if open_cache(config, path) is None:
        refuse_work()
        return analyze_file(path, source, options, project, tree).findings

    def analyze() -> Tuple[List[Finding], Any]:
        with project.reader.recording() as reads:  # type: ignore[union-attr]
            result = analyze_file(path, source, options, project, tree)
        keep = not result.degraded and not reads.overlaid
        return result.findings, reads.to_json() if keep else None

    reader = project.reader
    checked = reader.checked_records()
    return cached_analysis(path, source, options, config, analyze, reader.still_holds, project.root, checked)
