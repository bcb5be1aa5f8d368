"""The gate's import scanner reads every import statement Python's parser reads (cache_09): it
follows what the engine follows, without a parse."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st

from clip_lint.prefilter.gate import scan_imports

REPO = Path(__file__).resolve().parents[2]


def imports_by_ast(text: str) -> List[tuple]:
    """What ``scan_imports`` must give: every import statement of the tree, in source order."""
    nodes = [node for node in ast.walk(ast.parse(text)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    found: List[tuple] = []
    for node in sorted(nodes, key=lambda node: (node.lineno, node.col_offset)):
        if isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level or 0, [(a.name, a.asname or a.name) for a in node.names]))
        else:
            found += [(a.name, 0, [("", a.asname or a.name.split(".")[0])]) for a in node.names]
    return found


def test_the_forms_a_line_scanner_misses() -> None:
    text = (
        "from pkg.feats \\\n    import img\n"
        "import os; from pkg.feats import img as image\n"
        "from . feats import img\n"
        "from pkg . feats import (img,  # a comment (with brackets)\n    other)\n"
        "from.sibling import x\n"
        "if TYPE_CHECKING: import pkg.types as types\n"
        "def f():\n    from .. import up\n"
        "s = '''\nimport not_an_import\n'''\n"
        "# import commented_out\n"
        "raise ValueError() from None\n"
    )
    assert scan_imports(text) == imports_by_ast(text)
    assert ("feats", 1, [("img", "img")]) in scan_imports(text)


def test_every_python_file_of_the_repository_scans_as_ast_reads_it() -> None:
    checked = 0
    for path in sorted(REPO.rglob("*.py")):
        if ".venv" in path.parts or ".git" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            expected = imports_by_ast(text)
        except (SyntaxError, ValueError):
            continue
        assert scan_imports(text) == expected, path
        checked += 1
    assert checked > 200


NAMES = st.sampled_from(["a", "pkg", "feats", "img", "x_1", "mod"])
DOTTED = st.lists(NAMES, min_size=1, max_size=3).map(".".join)
SPACE = st.sampled_from([" ", "  ", "\t", " \\\n    "])


@st.composite
def import_statements(draw) -> str:
    if draw(st.booleans()):
        parts = draw(st.lists(st.tuples(DOTTED, st.one_of(st.none(), NAMES)), min_size=1, max_size=3))
        listed = ", ".join(name + (f" as {alias}" if alias else "") for name, alias in parts)
        return f"import{draw(SPACE)}{listed}"
    dots = "." * draw(st.integers(0, 2))
    module = draw(st.one_of(st.just(""), DOTTED)) if dots else draw(DOTTED)
    module = module.replace(".", draw(st.sampled_from([".", " . ", "."])))
    if draw(st.integers(0, 5)) == 0:
        listed = "*"
    else:
        names = draw(st.lists(st.tuples(NAMES, st.one_of(st.none(), NAMES)), min_size=1, max_size=3))
        listed = ", ".join(name + (f" as {alias}" if alias else "") for name, alias in names)
        if draw(st.booleans()):
            listed = "(\n    " + listed.replace(", ", ",  # note (x)\n    ") + ",\n)"
    between = draw(SPACE) if module else " "
    return f"from{' ' if not dots or draw(st.booleans()) else ''}{dots}{module}{between}import {listed}"


@st.composite
def modules(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        statement = draw(import_statements())
        shape = draw(st.sampled_from(["line", "semicolon", "if", "def", "string", "comment", "docstring"]))
        if shape == "semicolon":
            lines.append(f"x = 1; {statement}")
        elif shape == "if":
            lines.append(f"if x: {statement}" if "\n" not in statement else f"if x:\n    {statement}")
        elif shape == "def":
            lines.append("def f():\n    " + statement.replace("\n", "\n    ") + "\n    return 1")
        elif shape == "string":
            lines.append(f"s = {statement!r}")
        elif shape == "comment":
            lines.append("# " + statement.replace("\n", "\n# "))
        elif shape == "docstring":
            lines.append('"""\n' + statement.replace("\\", "") + '\n"""')
        else:
            lines.append(statement)
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(modules())
def test_generated_import_statements_scan_as_ast_reads_them(text: str) -> None:
    try:
        expected = imports_by_ast(text)
    except SyntaxError:
        return  # a generated form Python rejects: nothing to compare with
    assert scan_imports(text) == expected
