"""Gitignore-style patterns (excludes, .gitignore files), with pathspec only where it is needed.

Most patterns a run meets are plain names: the default excludes (``build``, ``*.egg-info``),
``--exclude venv``, the ``*`` of a cache folder's .gitignore. A plain name matches a path when
the path or one of its folders has that name. Those are matched here, with the regular
expression pathspec's ``GitIgnoreSpec`` builds for them; pathspec, whose import costs more
than walking a small project, is imported for the first pattern list that needs gitignore's
full rules (a slash, a ``!`` negation, a ``[...]`` class, an escape or a ``**``).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from typing import Protocol

    class Matcher(Protocol):
        def match_file(self, file: str) -> bool:
            ...


# A plain name: no slash, escape, class, leading negation or comment mark, and no spaces.
_PLAIN_NAME = re.compile(r"[^\s/\\\[\]!#][^\s/\\\[\]]*")
#: Names that gitignore reads as "every path" (pathspec: any path with a character besides a newline).
EVERY_PATH = ("*", "**")


def compile_patterns(lines: Iterable[str]) -> Matcher:
    """A matcher for gitignore-style ``lines``, as ``pathspec.GitIgnoreSpec.from_lines`` reads them."""
    lines = list(lines)
    names = plain_names(lines)
    if names is not None:
        return NamePatterns(names)
    import pathspec  # deferred: only patterns beyond plain names need gitignore's full rules

    return pathspec.GitIgnoreSpec.from_lines(lines)


def plain_names(lines: Sequence[str]) -> Optional[List[str]]:
    """The patterns of ``lines`` when every one is a plain name (blank lines and comments
    left out); None when one needs gitignore's full rules."""
    names = []
    for line in lines:
        pattern = line.rstrip()  # as gitignore reads a line (a trailing "\ " has a backslash)
        if not pattern or pattern.startswith("#"):
            continue
        if not _PLAIN_NAME.fullmatch(pattern):
            return None
        names.append(pattern)
    return names


def _glob(name: str) -> str:
    """A name's regular expression, as pathspec translates a segment: ``*`` and ``?`` stop at ``/``."""
    return "".join("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in name)


class NamePatterns:
    """Plain-name patterns: a path matches when it, or a folder above it, matches one name."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._every_path = any(name in EVERY_PATH for name in self.names)
        globs = [_glob(name) for name in self.names if name not in EVERY_PATH]
        # pathspec's regex for one name is "^(?:.+/)?NAME(?:/|$)"; the alternation matches
        # wherever one of them does
        self._regex = re.compile(f"^(?:.+/)?(?:{'|'.join(globs)})(?:/|$)") if globs else None

    def match_file(self, file: str) -> bool:
        path = _normalized(file)
        if self._every_path and path.strip("\n"):
            return True
        return self._regex is not None and self._regex.match(path) is not None


def _normalized(file: str) -> str:
    """The path as pathspec matches it: ``/`` separators, no leading ``/`` or ``./``."""
    for separator in (os.sep, os.altsep):
        if separator and separator != "/":
            file = file.replace(separator, "/")
    if file.startswith("/"):
        return file[1:]
    return file[2:] if file.startswith("./") else file
