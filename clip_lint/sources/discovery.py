"""Find the files to check: walk directories, honour .gitignore and the exclude patterns.

Directories are walked for ``.py``, ``.pyi``, ``.ipynb`` and ``.md`` files. Virtualenvs,
build and cache folders are skipped unless ``exclude`` replaces that default list;
``extend-exclude`` adds to it. A file named on the command line is always checked unless
it matches a user's exclude pattern (pre-commit passes files one by one).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Tuple

from clip_lint.config.patterns import compile_patterns

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.config.patterns import Matcher

CHECKED_SUFFIXES = (".py", ".pyi", ".ipynb", ".md", ".markdown")
DEFAULT_EXCLUDE: Tuple[str, ...] = (
    ".bzr", ".direnv", ".eggs", ".git", ".hg", ".mypy_cache", ".nox", ".pants.d",
    ".pytest_cache", ".ruff_cache", ".svn", ".tox", ".venv", "venv", "__pypackages__",
    "__pycache__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
    ".ipynb_checkpoints", "*.egg-info",
)  # fmt: skip


@dataclass(frozen=True)
class Discovery:
    """How to walk: the exclude patterns and the directory they are relative to."""

    exclude: Tuple[str, ...] = ()
    extend_exclude: Tuple[str, ...] = ()
    root: str = "."
    respect_gitignore: bool = True

    @property
    def walk_patterns(self) -> Tuple[str, ...]:
        """What a directory walk skips: the defaults (or ``exclude``) and ``extend-exclude``."""
        return tuple(self.exclude or DEFAULT_EXCLUDE) + tuple(self.extend_exclude)

    @property
    def user_patterns(self) -> Tuple[str, ...]:
        """What the user excluded; applies to files named on the command line too."""
        return tuple(self.exclude) + tuple(self.extend_exclude)


@dataclass
class Found:
    """What a walk found: the files to check, the paths it could not read, what it skipped."""

    files: List[str] = field(default_factory=list)
    errors: List[Tuple[str, str]] = field(default_factory=list)  # (path, why): counted as a failure
    notes: List[Tuple[str, str]] = field(default_factory=list)  # (path, why it was skipped)
    missing: List[str] = field(default_factory=list)  # command-line paths that do not exist


def iter_files(paths: Sequence[str], discovery: Discovery) -> List[str]:
    """The files to check under ``paths``, sorted and without duplicates."""
    return find_files(paths, discovery).files


def find_files(paths: Sequence[str], discovery: Discovery) -> Found:
    """Walk ``paths``: the regular files to check (sorted, no duplicates) and every path in the way."""
    found = Found()
    files: Dict[str, None] = {}
    walk_spec = compile_patterns(discovery.walk_patterns)
    user = compile_patterns(discovery.user_patterns)
    for path in paths:
        if os.path.isdir(path):
            for file in _walk(path, walk_spec, discovery, found):
                files.setdefault(file, None)
        elif not os.path.lexists(path):
            found.missing.append(path)
        elif not _matches(user, path, discovery.root):
            if _is_checkable(os.path.normpath(path), found):
                files.setdefault(os.path.normpath(path), None)
    found.files = sorted(files)
    return found


def _is_checkable(path: str, found: Found, is_regular: Optional[bool] = None) -> bool:
    """True for a regular file (through symlinks); a dangling link is an error, a FIFO a note."""
    if is_regular:
        return True
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            found.errors.append((path, f"dangling symlink: its target {os.readlink(path)!r} does not exist"))
        else:
            found.errors.append((path, "it was removed while clip-lint ran"))
        return False
    except OSError as error:
        found.errors.append((path, f"cannot read it: {error.strerror or error}"))
        return False
    if stat.S_ISREG(mode):
        return True
    if not stat.S_ISDIR(mode):
        found.notes.append((path, f"skipped: not a regular file ({_file_type(mode)})"))
    return False


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):  # fmt: skip
        if test(mode):
            return name
    return "not a file"


def _relative(path: str, root: str) -> str:
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return relative.replace(os.sep, "/")


def _matches(spec: Matcher, path: str, root: str, is_dir: bool = False) -> bool:
    relative = _relative(path, root)
    suffix = "/" if is_dir else ""
    if not relative.startswith("../") and spec.match_file(relative + suffix):
        return True
    # a pattern such as ".venv" or "build" also matches the bare name outside the root
    return spec.match_file(os.path.basename(os.path.normpath(path)) + suffix)


Rules = List[Tuple[str, "Matcher"]]  # (the directory a spec is relative to, the spec)


def _walk(top: str, exclude: Matcher, discovery: Discovery, found: Found) -> Iterator[str]:
    """Files under ``top``; a folder named explicitly is walked even if a rule excludes it.

    As ripgrep does, rules that would exclude ``top`` itself (``clip-lint .venv/lib/...``)
    then apply to what lies below it only. The walk keeps its own stack, so a tree of any
    depth is fine; symlinked folders are not followed (as ``os.walk`` does by default).
    """
    base = discovery.root if _is_within(top, discovery.root) else top
    inherited: Rules = [(base, exclude)]
    if discovery.respect_gitignore:
        inherited += _ancestor_gitignores(top)
    rules = [(top if _excludes(spec, base, top) else base, spec) for base, spec in inherited]
    pending: List[Tuple[str, Rules]] = [(top, rules)]
    while pending:
        directory, rules = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            found.errors.append((os.path.normpath(directory), f"cannot list the folder: {error.strerror or error}"))
            continue
        gitignore = _read_gitignore(directory) if discovery.respect_gitignore else None
        if gitignore is not None:
            rules = rules + [(directory, gitignore)]
        subdirectories = []
        for entry in entries:
            path = os.path.normpath(os.path.join(directory, entry.name))
            if _is_folder(entry):
                if not _skipped(path, True, rules):
                    subdirectories.append(path)
            elif entry.name.lower().endswith(CHECKED_SUFFIXES) and not _skipped(path, False, rules):
                if _is_checkable(path, found, _is_plain_file(entry)):
                    yield path
        # deepest last on the stack, so folders are visited in sorted order, as os.walk did
        pending.extend((path, rules) for path in reversed(subdirectories))


def _is_folder(entry: "os.DirEntry[str]") -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_plain_file(entry: "os.DirEntry[str]") -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _ancestor_gitignores(top: str) -> Rules:
    """The .gitignore files above ``top`` up to its git repository's root (none outside one)."""
    found: Rules = []
    directory = os.path.dirname(os.path.abspath(top))
    while True:
        gitignore = _read_gitignore(directory)
        if gitignore is not None:
            found.append((directory, gitignore))
        if os.path.exists(os.path.join(directory, ".git")):
            return list(reversed(found))
        parent = os.path.dirname(directory)
        if parent == directory:
            return []
        directory = parent


def _excludes(spec: Matcher, base: str, directory: str) -> bool:
    return _is_within(directory, base) and directory != base and spec.match_file(_relative(directory, base) + "/")


def _is_within(directory: str, base: str) -> bool:
    directory, base = os.path.abspath(directory), os.path.abspath(base)
    return directory == base or directory.startswith(base.rstrip(os.sep) + os.sep)


def _skipped(path: str, is_dir: bool, rules: Rules) -> bool:
    suffix = "/" if is_dir else ""
    return any(spec.match_file(_relative(path, base) + suffix) for base, spec in rules if _is_within(path, base))


def _read_gitignore(directory: str) -> Optional[Matcher]:
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as handle:
            return compile_patterns(handle.read().splitlines())
    except OSError:
        return None
