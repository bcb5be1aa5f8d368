"""Fix safety (issues 8 and 9): a fix never rebinds a name the file already uses, and every
other name keeps its meaning, checked with the stdlib ``symtable`` over every fix fixture and
over generated files that take ``F``, ``np`` and ``torch`` at every kind of scope."""

from __future__ import annotations

import ast
import re
import symtable
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.frontends.runner import FIX, Settings, check_bytes

FIX_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fix"
FLAGS = (
    "is_parameter", "is_global", "is_declared_global", "is_local", "is_free",
    "is_imported", "is_assigned", "is_nonlocal", "is_namespace",
)
#: What a fix writes that names a module: the call, and the module the name must mean.
MODULE_USES = {r"([\w.]+)\.normalize\(": "torch.nn.functional", r"([\w.]+)\.linalg\.norm\(": "numpy"}


def scopes(source: str) -> List[symtable.SymbolTable]:
    pending, found = [symtable.symtable(source, "<file>", "exec")], []
    while pending:
        table = pending.pop(0)
        found.append(table)
        pending[0:0] = table.get_children()
    return found


def meanings(table: symtable.SymbolTable) -> Dict[str, Tuple[bool, ...]]:
    return {symbol.get_name(): tuple(getattr(symbol, flag)() for flag in FLAGS) for symbol in table.get_symbols()}


def bindings(source: str) -> Dict[str, Counter]:
    """Each name's binding sites, by what binds it: the module of an import, else "other"."""
    found: Dict[str, Counter] = {}

    def bind(name: str, what: str = "other") -> None:
        found.setdefault(name, Counter())[what] += 1

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                bind(alias.asname or root, alias.name if alias.asname else root)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bind(alias.asname or alias.name, f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bind(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name)
        elif isinstance(node, ast.arg):
            bind(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bind(node.name)
    return found


def self_divisions(source: str) -> Counter:
    """Names assigned their own value divided by something: ``x = x / x.norm(...)``."""
    return Counter(
        node.targets[0].id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.op, ast.Div)
        and isinstance(node.value.left, ast.Name)
        and node.value.left.id == node.targets[0].id
    )


def assert_names_keep_their_meaning(before: str, after: str) -> None:
    old_scopes, new_scopes = scopes(before), scopes(after)
    assert [(t.get_type(), t.get_name()) for t in old_scopes] == [(t.get_type(), t.get_name()) for t in new_scopes]
    for old, new in zip(old_scopes, new_scopes):
        old_meanings, new_meanings = meanings(old), meanings(new)
        for name, flags in old_meanings.items():
            assert new_meanings.get(name) == flags, (new.get_name(), name)
        for name in set(new_meanings) - set(old_meanings):  # written by the fix: the module's global
            symbol = new.lookup(name)
            assert symbol.is_imported() if new.get_type() == "module" else symbol.is_global(), (new.get_name(), name)
    # no name the file had gains a binding, except a value normalized where it is bound
    normalized = set(self_divisions(after) - self_divisions(before))
    old_bindings, new_bindings = bindings(before), bindings(after)
    for name, sites in old_bindings.items():
        if name not in normalized:
            assert new_bindings[name] == sites, name
    # each module name the fix writes means that module, and only that, everywhere
    for pattern, module in MODULE_USES.items():
        written = Counter(re.findall(pattern, after)) - Counter(re.findall(pattern, before))
        for prefix in written:
            name, expected = (prefix.split(".")[0], prefix.split(".")[0]) if "." in prefix else (prefix, module)
            if "." in prefix:
                assert prefix == module, prefix
            assert set(new_bindings[name]) == {expected}, (prefix, new_bindings[name])


def fix(source: str, unsafe: bool = False) -> str:
    result = check_bytes("case.py", source.encode(), Settings(mode=FIX, unsafe_fixes=unsafe))
    return source if result.output is None else result.output


FIXTURE_PAIRS = sorted(
    (path.name, path.with_name(path.name.split(".")[0] + ".in.py"))
    for path in FIX_FIXTURES.glob("*.out.py")
)


@pytest.mark.parametrize("expected, source", FIXTURE_PAIRS, ids=[pair[0] for pair in FIXTURE_PAIRS])
def test_fix_fixtures_keep_every_other_name(expected: str, source: Path) -> None:
    after = (FIX_FIXTURES / expected).read_text(encoding="utf-8")
    assert_names_keep_their_meaning(source.read_text(encoding="utf-8"), after)


# --- generated files: F, np and torch taken at every kind of scope ---------------------------

TAKERS = {
    "F": [
        "from pyspark.sql import functions as F",
        "import torch.nn.functional as F",
        "F = 3",
        "def F():\n    return 1",
        "class F:\n    pass",
        "def helper(F):\n    return F",
        "def helper():\n    return [F for F in range(3)]",
        "def helper():\n    try:\n        return 1\n    except Exception as F:\n        return F",
    ],
    "np": ["import numpy as np", "np = None", "def helper(np):\n    return np"],
    "torch": ["import torch", "def helper():\n    torch = 1\n    return torch"],
    "numpy": ["def helper(numpy):\n    return numpy"],
}
#: The comparison, inside ``compare``: an inline encoder call (wrapped), a numpy value (normalized
#: after its binding), and a value also saved (wrapped where compared).
SINKS = {
    "inline": ["return model.encode_image(images) @ texts.T"],
    "numpy": ["feats = model.encode_image(images).numpy()", "return feats @ texts.T"],
    "escapes": ["feats = model.encode_image(images)", "keep(feats)", "return feats @ texts.T"],
}
LOOP_OVER_F = ["for F in images:", "    keep(F)"]


@st.composite
def programs(draw: Any) -> str:
    lines: List[str] = []
    for name in sorted(TAKERS):
        lines += [taker for taker in draw(st.lists(st.sampled_from(TAKERS[name]), max_size=2, unique=True))]
    imports = [line for line in lines if line.startswith(("import", "from"))]
    others = [line for line in lines if line not in imports]
    body = ["    " + line for line in (LOOP_OVER_F if draw(st.booleans()) else [])]
    body += ["    " + line for line in SINKS[draw(st.sampled_from(sorted(SINKS)))]]
    parameter = draw(st.sampled_from(["", ", F", ", np"]))
    parts = ["\n".join(imports), *others, f"def compare(model, images, texts{parameter}):\n" + "\n".join(body)]
    return "\n\n\n".join(part for part in parts if part) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.booleans())
def test_generated_fixes_rebind_nothing(source: str, unsafe: bool) -> None:
    after = fix(source, unsafe)
    compile(after, "<fixed>", "exec")
    assert_names_keep_their_meaning(source, after)
    if "@" in after and "normalize" not in after and "linalg" not in after:
        pytest.fail(f"not fixed:\n{after}")


# --- the reproductions: the fixed files still run ---------------------------------------------

torch = pytest.importorskip("torch")


class RawModel:
    def encode_image(self, images: Any) -> Any:
        return torch.randn(2, 4) * 5


def run_fixed(source: str, call: str, namespace: Dict[str, Any]) -> Any:
    exec(compile(fix(source), "<fixed>", "exec"), namespace)
    return eval(call, namespace)


def test_fixed_pyspark_file_keeps_its_F(monkeypatch: pytest.MonkeyPatch) -> None:
    sql = types.ModuleType("pyspark.sql")
    sql.functions = types.SimpleNamespace(lit=lambda value: ("lit", value))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyspark", types.ModuleType("pyspark"))
    monkeypatch.setitem(sys.modules, "pyspark.sql", sql)
    source = (FIX_FIXTURES / "cln001_shadowed_F.in.py").read_text(encoding="utf-8")
    seen: Set[Any] = set()

    class Frame:
        def withColumn(self, name: str, value: Any) -> "Frame":
            seen.add(value)
            return self

    scores = run_fixed(source, "rank(Frame(), RawModel(), None, torch.eye(4))", {"RawModel": RawModel, "Frame": Frame, "torch": torch})
    assert seen == {("lit", 1)}
    assert torch.allclose(scores.norm(dim=-1), torch.ones(2))


def test_fixed_loop_variable_file_runs() -> None:
    source = (FIX_FIXTURES / "cln001_loop_variable_F.in.py").read_text(encoding="utf-8")
    scores = run_fixed(source, "per_frame(RawModel(), [torch.zeros(1)], torch.eye(4))", {"RawModel": RawModel, "torch": torch})
    assert torch.allclose(scores[0].norm(dim=-1), torch.ones(2))
