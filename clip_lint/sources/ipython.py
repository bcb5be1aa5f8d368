"""Notebook cells and doctest blocks as their runners see them, before Python parses them.

IPython rewrites a cell before executing it (``IPython.core.inputtransformer2``): a cell
whose first line is indented is dedented, ``>>>``/``...`` prompts are stripped, ``!``/``%``
lines are shell and magic calls, and automagic runs ``pip install x`` or ``cd dir``
without ``%``. doctest reads a ``>>>`` session the same way and ignores the expected output
between examples. These transforms are done here in the same spirit, line by line, so that
every line keeps its number and its column offset into the original.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

# Magics and shell aliases that IPython's automagic (on by default) runs without '%'
# when no Python variable of that name exists.
AUTOMAGICS = frozenset({
    "pip", "conda", "mamba", "micromamba", "uv", "cd", "pwd", "env", "set_env", "ls", "ll", "lf", "lk", "lx",
    "ldir", "cat", "cp", "mv", "rm", "rmdir", "mkdir", "alias", "unalias", "bookmark", "dhist", "pushd", "popd",
    "dirs", "run", "load", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport", "matplotlib", "pylab",
    "time", "timeit", "prun", "who", "whos", "who_ls", "reset", "reset_selective", "history", "store", "sx",
    "system", "xmode", "config", "precision", "pdb", "debug", "tb", "psearch", "pinfo", "pinfo2", "pdoc",
    "pdef", "psource", "pfile", "colors", "page", "rehashx", "save", "notebook", "logstart", "logstop",
})  # fmt: skip

# "name word": a name followed by something a name can't be followed by in Python (another
# name, a number, a string, '~', '$', '..'). Such a line is always a SyntaxError as Python.
_COMMAND_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<name>[A-Za-z_]\w*)[ \t]+(?P<argument>\w+|[~$'\"]|\.\.)")
_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")
_FIRST_PROMPT = re.compile(r"^>>>( |$)")


@dataclass(frozen=True)
class RunLine:
    """A line as its runner executes it: the Python text, and where that text starts."""

    text: str
    col_offset: int = 0  # characters removed before the text (indentation, a prompt)
    editable: bool = True  # False where a fix must not write: expected output, a prompted line


def is_automagic(line: str) -> bool:
    """``pip install x``, ``cd ..``: a line automagic runs as a command, never valid Python."""
    match = _COMMAND_LINE.match(line)
    if match is None or match.group("name") not in AUTOMAGICS:
        return False
    return not keyword.iskeyword(match.group("argument")) and not keyword.issoftkeyword(match.group("argument"))


def dedent_cell(lines: Sequence[str]) -> List[RunLine]:
    """IPython's ``leading_indent``: strip the first code line's indentation from every line."""
    first = next((line for line in lines if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    if not indent:
        return [RunLine(line) for line in lines]
    return [RunLine(line[len(indent):], len(indent)) if line.startswith(indent) else RunLine(line) for line in lines]


def strip_prompts(lines: Sequence[str]) -> Optional[List[RunLine]]:
    """IPython's classic prompt stripper: ``>>> `` and ``... `` go (None if not a session).

    As in IPython, a cell is a session when its first line starts with ``>>>`` or its
    second with a prompt; other lines are kept as they are.
    """
    code = [line for line in lines if line.strip()]
    if not code or not (_FIRST_PROMPT.match(code[0]) or (len(code) > 1 and _PROMPT.match(code[1]))):
        return None
    stripped = []
    for line in lines:
        prompt = _PROMPT.match(line)
        stripped.append(RunLine(line[prompt.end():], prompt.end()) if prompt else RunLine(line))
    return stripped


def doctest_lines(lines: Sequence[str]) -> Optional[List[RunLine]]:
    """A Markdown block read as doctest reads it; None if it holds no ``>>>`` example.

    ``>>>`` starts an example and ``...`` continues it; any other line is expected output,
    which is not code.
    """
    if not any(_FIRST_PROMPT.match(line.lstrip(" ")) for line in lines):
        return None
    read: List[RunLine] = []
    in_example = False
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        body = line[indent:]
        prompt = _PROMPT.match(body)
        if prompt and (body.startswith(">>>") or in_example):
            in_example = True
            read.append(RunLine(body[prompt.end():], indent + prompt.end()))
        else:
            in_example = False
            read.append(RunLine("", 0, editable=False))
    return read
