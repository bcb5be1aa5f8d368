"""The one reader of a project: every byte and every existence probe an analysis uses, recorded.

The project layer (``clip_lint.project.modules.Project``) never opens, stats or resolves a path
by itself: it asks its ``SourceReader``. The reader keeps a *snapshot* for the run: each file is
read once, its bytes hashed, and every later use in the run gets those same bytes; each probe
(is this a regular file, a folder, where does this path really lead) is answered once. While a
computation runs inside ``recording()``, every read and probe it makes (and every memoized answer
it reuses, with that answer's own record) goes into a ``Reads``. The cache stores that record
with the findings, and an entry counts only while ``still_holds`` says every recorded read still
answers the same: the hash of the very bytes that were analysed, and the same answer to each probe.

A run is the life of one reader. A long-lived process (a language server, a test) starts a new
run with a new ``Project`` (or ``clip_lint.project.modules.new_run()``), which gets a new snapshot.

Texts from elsewhere than the disk: ``SourceReader(overlay={path: text})`` answers a read of a
path in the overlay with its text (an editor's unsaved buffer, code read from stdin) and treats
the path as an existing regular file. Keys are real absolute paths (the reader takes
``os.path.realpath`` of each). An overlay text is never cached: a record that used one says so
(``Reads.overlaid``), and the cache stores no entry for it. The language server starts a run per
check with ``new_run(overlay=open_buffers)``: each project of the run then reads through a
``SourceReader(overlay=open_buffers)``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple

#: The digest of a path that can't be read as a regular file (missing, a folder, a FIFO, denied).
UNREADABLE = "unreadable"
#: Probe kinds: a regular file there, a folder there, the path with its symlinks resolved.
IS_FILE, IS_DIR, REAL_PATH = "file", "dir", "real"

Probe = Tuple[str, str]  # (kind, path)


@dataclass(frozen=True)
class Snapshot:
    """One file as this run reads it: the digest of its bytes, its text (None: undecodable or
    unreadable) and its size in bytes."""

    digest: str
    text: Optional[str]
    size: int


class Reads:
    """What one computation read: each file's digest, each probe's answer, and the records of the
    memoized answers it reused (``parts``, kept by reference and flattened only when stored)."""

    __slots__ = ("files", "probes", "parts", "overlaid", "_part_ids")

    def __init__(self) -> None:
        self.files: Dict[str, str] = {}
        self.probes: Dict[Probe, Any] = {}
        self.parts: List["Reads"] = []
        self.overlaid = False
        self._part_ids: Set[int] = set()

    def add_part(self, part: "Reads") -> None:
        """Count ``part``'s reads as this one's too; once, however often it is reused here.

        (A memoized answer is reused many times by one computation: kept once, a record is
        flattened in a fifth of the steps on diffusers.)
        """
        if id(part) not in self._part_ids:
            self._part_ids.add(id(part))
            self.parts.append(part)

    def flatten(self) -> "Reads":
        """One record with everything this one and its parts read."""
        whole = Reads()
        seen = set()
        stack: List[Reads] = [self]
        while stack:
            reads = stack.pop()
            if id(reads) in seen:
                continue
            seen.add(id(reads))
            whole.files.update(reads.files)
            whole.probes.update(reads.probes)
            whole.overlaid = whole.overlaid or reads.overlaid
            stack.extend(reads.parts)
        return whole

    def to_json(self) -> Dict[str, Any]:
        whole = self.flatten()
        return {
            "files": dict(sorted(whole.files.items())),
            "probes": sorted([kind, path, answer] for (kind, path), answer in whole.probes.items()),
        }


def read_regular_file(path: str) -> Optional[bytes]:
    """The bytes of a regular file; None for anything else (a FIFO or a device is never waited on)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        with open(descriptor, "rb", closefd=False) as handle:
            return handle.read()
    except (OSError, ValueError, MemoryError):
        return None
    finally:
        os.close(descriptor)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decode(data: bytes) -> Optional[str]:
    from clip_lint.sources.documents import decode

    text, _, problem, _ = decode(data)
    return None if problem is not None else text


PROBES: Dict[str, Callable[[str], Any]] = {
    IS_FILE: os.path.isfile,
    IS_DIR: os.path.isdir,
    REAL_PATH: os.path.realpath,
}


class SourceReader:
    """A run's snapshot of the project's files and probes, and the recorder of what each
    computation read (see the module's docstring)."""

    def __init__(self, overlay: Optional[Mapping[str, str]] = None) -> None:
        self.overlay: Dict[str, str] = {os.path.realpath(path): text for path, text in (overlay or {}).items()}
        self._snapshots: Dict[str, Snapshot] = {}
        self._probes: Dict[Probe, Any] = {}
        self._recording: List[Reads] = []
        self._checked_records: Dict[str, bool] = {}

    # --- reads

    def snapshot(self, path: str) -> Snapshot:
        """The file at ``path`` as this run reads it (read once), recorded."""
        if not os.path.isabs(path):
            path = os.path.abspath(path)  # records hold absolute paths: a run from elsewhere reads the same
        found = self._snapshots.get(path)
        if found is None:
            found = self._snapshots[path] = self._read(path)
        if self._recording:
            top = self._recording[-1]
            top.files[path] = found.digest
            if path in self.overlay:
                top.overlaid = True
        return found

    def _read(self, path: str) -> Snapshot:
        text = self.overlay.get(path)
        if text is not None:
            encoded = text.encode("utf-8", "surrogatepass")
            return Snapshot("overlay:" + digest_of(encoded), text, len(encoded))
        data = read_regular_file(path)
        if data is None:
            return Snapshot(UNREADABLE, None, 0)
        return Snapshot(digest_of(data), _decode(data), len(data))

    def probe(self, kind: str, path: str) -> Any:
        """The answer of one existence probe (``IS_FILE``, ``IS_DIR``, ``REAL_PATH``), once per run, recorded."""
        if not os.path.isabs(path):
            path = os.path.abspath(path)
        key = (kind, path)
        if key in self._probes:
            answer = self._probes[key]
        else:
            answer = self._probes[key] = self._answer(kind, path)
        if self._recording:
            self._recording[-1].probes[key] = answer
        return answer

    def _answer(self, kind: str, path: str) -> Any:
        if self.overlay and kind != REAL_PATH:
            real = os.path.realpath(path)
            if real in self.overlay:
                return kind == IS_FILE
        return PROBES[kind](path)

    def is_file(self, path: str) -> bool:
        return bool(self.probe(IS_FILE, path))

    def is_dir(self, path: str) -> bool:
        return bool(self.probe(IS_DIR, path))

    def real_path(self, path: str) -> str:
        return str(self.probe(REAL_PATH, path))

    # --- recording

    @contextmanager
    def recording(self) -> Iterator[Reads]:
        """Record every read made inside the block; the record joins the enclosing one's."""
        reads = Reads()
        self._recording.append(reads)
        try:
            yield reads
        finally:
            self._recording.pop()
            if self._recording:
                self._recording[-1].add_part(reads)

    @contextmanager
    def unrecorded(self) -> Iterator[None]:
        """Reads whose answer can't change the result (sharing a parse of text already known)."""
        saved, self._recording = self._recording, []
        try:
            yield
        finally:
            self._recording = saved

    def reuse(self, reads: Reads) -> None:
        """A memoized answer is used again: what it read counts for the current computation."""
        if self._recording:
            self._recording[-1].add_part(reads)

    # --- validation

    def checked_records(self) -> Optional[Dict[str, bool]]:
        """This run's verdicts on stored records, by their digest (``still_holds`` answers the same
        all run long); None while a computation records, which must record each read itself."""
        return None if self._recording else self._checked_records

    def still_holds(self, recorded: Any) -> bool:
        """Whether every read of a stored record (``Reads.to_json``) answers the same in this run."""
        try:
            files, probes = recorded["files"], recorded["probes"]
            for path, digest in files.items():
                if self.snapshot(path).digest != digest:
                    return False
            return self._probes_hold(probes)
        except (KeyError, TypeError, ValueError, AttributeError):
            return False  # a damaged record: the entry is recomputed

    def _probes_hold(self, probes: Any) -> bool:
        """Whether each recorded probe answers the same: ``probe`` for each, made cheap.

        A warm run checks thousands of probes per entry, most of them answered already in this
        run (the same modules' imports): those are looked up directly, and recorded as ``probe``
        records them. Records hold absolute paths, the keys of the run's answers.
        """
        known = self._probes
        into = self._recording[-1].probes if self._recording else None
        for kind, path, answer in probes:
            key = (kind, path)
            found = known.get(key, _UNKNOWN)
            if found is _UNKNOWN:
                if kind not in PROBES:
                    return False
                found = self.probe(kind, path)
            elif into is not None:
                into[key] = found
            if found != answer:
                return False
        return True


_UNKNOWN = object()  # a probe not answered yet in this run
