"""Findings kept on disk between runs, as users of ruff and mypy know it.

A file's findings are stored under a key made of its path, its content hash, clip-lint's
version (and a fingerprint of its own source), the analysis options and a format number.
With them the entry records the summary hash of every module the analysis consulted; the
entry is used only while each of those modules still has that summary hash (mypy's
interface hash), so an edit to a helper re-analyses its callers only when what they can
see of it changed. Module summaries are stored the same way, keyed by the module's content.

One JSON file per entry, written to a temporary file in the same folder and moved into
place with ``os.replace``: concurrent runs (``flake8 -j N``, ``clip-lint -j N``, two
pre-commit hooks) never see half an entry and need no lock. An entry that can't be read,
doesn't parse or doesn't match its key is a miss and is rewritten. A folder that can't be
written means no cache. Nothing here imports libcst: a warm run never needs it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from clip_lint import __version__
from clip_lint.prefilter.gate import needs_analysis, project_imports, scan_imports
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.options import AnalysisOptions

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.project.modules import Project

CACHE_DIR_NAME = ".clip_lint_cache"
CACHE_DIR_ENV = "CLIP_LINT_CACHE_DIR"
NO_CACHE_ENV = "CLIP_LINT_NO_CACHE"
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
FORMAT = 1  # bump when the layout of an entry changes
FINDINGS, SUMMARIES, PARSE_ERRORS, GATES = "findings", "summaries", "parse-errors", "gates"
KINDS = (FINDINGS, SUMMARIES, PARSE_ERRORS, GATES)
STDIN_NAMES = ("", "-", "stdin")

# https://bford.info/cachedir/: backup and archiving tools skip a folder holding this file.
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by clip-lint.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
GITIGNORE = "# Automatically created by clip-lint.\n*\n"

#: The findings of one analysis and what they depended on besides the file itself (JSON data).
Analysis = Tuple[List[Finding], Any]


@dataclass(frozen=True)
class CacheConfig:
    """Whether to cache, and where (``directory`` None: ``.clip_lint_cache`` at the project root)."""

    enabled: bool = True
    directory: Optional[str] = None

    def with_environment(self) -> "CacheConfig":
        """``CLIP_LINT_NO_CACHE`` turns the cache off; ``CLIP_LINT_CACHE_DIR`` names its folder."""
        if os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
            return CacheConfig(False, self.directory)
        return CacheConfig(self.enabled, self.directory or os.environ.get(CACHE_DIR_ENV) or None)


NO_CACHE = CacheConfig(enabled=False)


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


# --- the store ----------------------------------------------------------------------------------


class Cache:
    """One folder of entries, one JSON file each; every failure is a miss, never an error."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    @classmethod
    def create(cls, directory: str) -> Optional["Cache"]:
        """The cache in ``directory``, made (with its CACHEDIR.TAG and .gitignore) if need be;
        None when the folder can't be made or written."""
        try:
            for kind in KINDS:
                os.makedirs(os.path.join(directory, kind), exist_ok=True)
            for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", GITIGNORE)):
                if not os.path.exists(os.path.join(directory, name)):
                    _write_atomically(directory, name, text)
        except OSError:
            return None
        if not os.access(os.path.join(directory, FINDINGS), os.W_OK | os.X_OK):
            return None
        return cls(directory)

    def read(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        try:
            with open(os.path.join(self.directory, kind, key + ".json"), "rb") as handle:
                entry = json.loads(handle.read())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != FORMAT:
            return None  # foreign or damaged: the caller recomputes and rewrites it
        return entry

    def write(self, kind: str, key: str, payload: Dict[str, Any]) -> None:
        entry = {"format": FORMAT, "key": key, **payload}
        try:
            _write_atomically(os.path.join(self.directory, kind), key + ".json", json.dumps(entry))
        except (OSError, TypeError, ValueError):
            pass  # a full disk or a folder made read-only meanwhile: the result just isn't kept


def _write_atomically(directory: str, name: str, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
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
    """The cache for the file at ``path`` (None: caching is off or impossible); one per folder
    and process."""
    if not config.enabled or path in STDIN_NAMES:
        return None
    directory = cache_directory(config, path)
    if directory not in _opened:
        _opened[directory] = Cache.create(directory)
    return _opened[directory]


# --- keys -------------------------------------------------------------------------------------------

_fingerprint: List[str] = []


def engine_fingerprint() -> str:
    """clip-lint's version and a hash of its own source: an edited checkout never reads old entries."""
    if not _fingerprint:
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        digest = hashlib.sha256(__version__.encode())
        for folder, _, files in sorted(os.walk(package)):
            for name in sorted(files):
                if name.endswith(".py"):
                    with open(os.path.join(folder, name), "rb") as handle:
                        digest.update(name.encode() + b"\0" + handle.read())
        _fingerprint.append(f"{__version__}:{digest.hexdigest()[:16]}")
    return _fingerprint[0]


def content_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(*parts: str, options: AnalysisOptions) -> str:
    """The key of an entry: the given parts, the engine's fingerprint and the options."""
    material = [str(FORMAT), engine_fingerprint(), repr(options), *parts]
    return hashlib.sha256("\0".join(material).encode("utf-8", "surrogatepass")).hexdigest()


def findings_key(path: str, source: str, options: AnalysisOptions) -> str:
    return entry_key(FINDINGS, os.path.abspath(path), content_hash(source), options=options)


# --- findings through the cache -------------------------------------------------------------------


def cached_analysis(
    path: str,
    source: str,
    options: AnalysisOptions,
    config: CacheConfig,
    analyze: Callable[[], Analysis],
    still_valid: Callable[[Any], bool] = lambda depends: not depends,
) -> List[Finding]:
    """``analyze()``'s findings, from the cache while the file reads the same and
    ``still_valid`` accepts what the entry says they depended on; otherwise analysed and stored."""
    cache = open_cache(config, path)
    if cache is None:
        return analyze()[0]
    key = findings_key(path, source, options)
    entry = cache.read(FINDINGS, key)
    if entry is not None:
        findings = _valid_findings(entry, still_valid)
        if findings is not None:
            return findings
    findings, depends = analyze()
    cache.write(FINDINGS, key, {"depends": depends, "findings": [encode_finding(f) for f in findings]})
    return findings


def _valid_findings(entry: Dict[str, Any], still_valid: Callable[[Any], bool]) -> Optional[List[Finding]]:
    try:
        if not still_valid(entry["depends"]):
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
    """
    cache = open_cache(config, path)
    if cache is None:
        return parse_error()
    key = entry_key(PARSE_ERRORS, content_hash(source), options=AnalysisOptions())
    entry = cache.read(PARSE_ERRORS, key)
    if entry is not None and (entry.get("reason") is None or isinstance(entry.get("reason"), str)):
        return entry.get("reason")
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
    return Finding(_str(item["code"]), _int(item["line"]), _int(item["col"]), _str(item["message"]), fix)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an int, got {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a str, got {value!r}")
    return value


# --- what the findings depend on in the rest of the project ---------------------------------------


class ProjectDependencies:
    """What a file's findings depend on outside the file, recorded and checked again.

    - ``imports``: the project gate's answer for the file (which imported names may matter,
      whether one may hand it features) and where each of its import lines leads, so that a
      helper module that appears, disappears or starts to matter re-analyses the file;
    - ``modules``: for each module the analysis consulted, the names it read, their summary
      hash and where that module's own imports lead. Summary hashes are cached by the
      module's content, so checking them reads each module but parses none.
    """

    def __init__(self, project: "Project", path: str, source: str, options: AnalysisOptions, config: CacheConfig):
        self.project, self.path, self.source, self.options = project, path, source, options
        self.cache = open_cache(config, path)

    def record(self, consulted: Dict[str, str], names: Dict[str, Tuple[str, ...]]) -> Dict[str, Any]:
        modules = {}
        for module, summary in consulted.items():
            read = list(names.get(module, ()))
            text = self._text(module)
            if text is not None and self.cache is not None:
                self.cache.write(SUMMARIES, self._summary_key(text, read), {"hash": summary})
            modules[module] = [summary, read, self._resolutions(module, text or "")]
        return {"imports": self._imports(), "modules": modules}

    def still_valid(self, depends: Dict[str, Any]) -> bool:
        if depends["imports"] != self._imports():
            return False
        for module, (summary, read, resolutions) in depends["modules"].items():
            text = self._text(module)
            if self.summary_hash(module, read, text) != summary:
                return False
            if self._resolutions(module, text or "") != resolutions:
                return False
        return True

    def summary_hash(self, module: str, read: List[str], text: Optional[str]) -> str:
        if text is None or self.cache is None:
            return self.project.summary_hash(module, read)
        key = self._summary_key(text, read)
        entry = self.cache.read(SUMMARIES, key)
        if entry is not None and isinstance(entry.get("hash"), str):
            return entry["hash"]
        summary = self.project.summary_hash(module, read)
        self.cache.write(SUMMARIES, key, {"hash": summary})
        return summary

    def _summary_key(self, text: str, read: List[str]) -> str:
        return entry_key(SUMMARIES, content_hash(text), "\0".join(read), options=self.options)

    def _text(self, module: str) -> Optional[str]:
        loaded = self.project.load(module)
        return None if loaded is None else loaded.text

    def _imports(self) -> List[Any]:
        return [*self.gate_answer(), self._resolutions(self.path, self.source)]

    def gate_answer(self) -> List[Any]:
        """``project_imports``'s answer, remembered by the content of every project module the
        file's imports lead to (read, not parsed): while none of them changes, nothing is parsed."""
        key = entry_key(GATES, self.path, _hashed(self.source), json.dumps(self._closure()), options=self.options)
        known = _GATE_ANSWERS.get(key)  # the gate and the findings' check both ask it
        if known is not None:
            return known
        entry = None if self.cache is None else self.cache.read(GATES, key)
        answer = None if entry is None else entry.get("answer")
        if not (isinstance(answer, list) and len(answer) == 2 and all(isinstance(name, str) for name in answer[0])):
            names, hands_features = project_imports(self.source, self.options, self.path, self.project)
            answer = [list(names), hands_features]
            if self.cache is not None:
                self.cache.write(GATES, key, {"answer": answer})
        _GATE_ANSWERS[key] = answer
        return answer

    def _closure(self) -> List[List[str]]:
        """Every project module reachable through import lines from the file, with its content hash."""
        seen: Dict[str, str] = {}
        frontier = [(self.path, self.source)]
        while frontier:
            importer, text = frontier.pop()
            for target in self.project.imported_files(importer, text):
                if target not in seen:
                    target_text = self._text(target)
                    seen[target] = "missing" if target_text is None else _hashed(target_text)
                    if target_text is not None:
                        frontier.append((target, target_text))
        return sorted([module, digest] for module, digest in seen.items())

    def _resolutions(self, importer: str, text: str) -> List[Any]:
        memo = (importer, text)  # one answer per module text and process: many files consult one module
        if memo not in _RESOLUTIONS:
            found = []
            for module, level, imported in scan_imports(text):
                target = self.project.resolve(importer, module, level)
                subs = [self.project.submodule(target, name) if target and name else None for name, _ in imported]
                found.append([module, level, target, subs])
            _RESOLUTIONS[memo] = found
        return _RESOLUTIONS[memo]


_RESOLUTIONS: Dict[Tuple[str, str], List[Any]] = {}
_HASHES: Dict[int, Tuple[str, str]] = {}
#: ``gate_answer`` by its key, which holds the content of every module the answer read
_GATE_ANSWERS: Dict[str, List[Any]] = {}


def forget_resolutions() -> None:
    """Drop the answers memoized by path, which a file created or deleted can change (the
    language server calls it with ``Overlay.forget``; a run's files don't change under it)."""
    _RESOLUTIONS.clear()
    _roots.clear()


def _hashed(text: str) -> str:
    """``content_hash``, once per module text and process (project modules are read once)."""
    known = _HASHES.get(id(text))
    if known is None or known[0] is not text:
        known = _HASHES[id(text)] = (text, content_hash(text))
    return known[1]


# --- what the front ends call ------------------------------------------------------------------------


def project_for(path: str) -> Optional["Project"]:
    """The project the file at ``path`` belongs to; None for code read from stdin."""
    from clip_lint.project.modules import Project

    return None if path in STDIN_NAMES else Project.for_path(path)


def needs_check(path: str, source: str, options: AnalysisOptions, config: Optional[CacheConfig] = None) -> bool:
    """The gate: an encoder word in the file, or an import of a project module that leads to one.

    With a cache, the project part of the answer is read from it while none of the modules the
    file's imports lead to has changed (``ProjectDependencies``): a warm run parses nothing.
    """
    project = project_for(path)

    def hands_features() -> bool:
        dependencies = ProjectDependencies(project, path, source, options, config)  # type: ignore[arg-type]
        if dependencies.cache is None:
            return project_imports(source, options, path, project)[1]  # type: ignore[arg-type]
        return bool(dependencies.gate_answer()[1])

    return needs_analysis(source, options, path, project, hands_features if config is not None else None)


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
    project = project_for(path)
    if project is None:
        from clip_lint.project.checking import analyze_source

        return analyze_source(source, options, tree=tree)
    from clip_lint.project.checking import analyze_file

    if open_cache(config, path) is None:  # no summary hashes needed: they cost a parse per module
        return analyze_file(path, source, options, project, tree, hashes=False).findings
    dependencies = ProjectDependencies(project, path, source, options, config)

    def analyze() -> Analysis:
        result = analyze_file(path, source, options, project, tree)
        return result.findings, dependencies.record(result.consulted, result.consulted_names)

    return cached_analysis(path, source, options, config, analyze, dependencies.still_valid)
