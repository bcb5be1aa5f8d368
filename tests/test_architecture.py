"""The house: stages import only downwards, no import circle, and ARCHITECTURE.md tells the truth."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import grimp

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
#: ``path/to/file.py: NAME`` or ``path/to/file.py`` or ``path/to/folder/``, inside backticks.
REFERENCE = re.compile(r"`((?:clip_lint|tests|runtime_check|fixtures|docs)/[\w/.]*?)(?::\s*(\w+))?`")


def test_lint_imports_keeps_every_contract() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def strongly_connected(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's components of ``graph``, iteratively (no recursion limit to meet)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def import_graph() -> Dict[str, Set[str]]:
    graph = grimp.build_graph("clip_lint")  # every import statement, in functions too
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def test_no_import_circle_among_modules_lazy_imports_included() -> None:
    graph = import_graph()
    circles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    circles += [[m] for m, imported in graph.items() if m in imported]
    assert circles == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert sorted(sorted(c) for c in strongly_connected(graph) if len(c) > 1) == [["a", "b", "c"]]


def test_at_most_ten_modules_directly_in_clip_lint() -> None:
    modules = sorted(p.name for p in (ROOT / "clip_lint").glob("*.py"))
    assert len(modules) <= 10, modules


def contract_layers() -> List[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c["layers"] for c in contracts if c["type"] == "layers")


def test_the_layers_in_architecture_md_are_the_enforced_ones() -> None:
    block = ARCHITECTURE.split("<!-- layers:start -->")[1].split("<!-- layers:end -->")[0]
    written = [line.strip() for line in block.strip().strip("`").splitlines() if line.strip()]
    assert written == contract_layers()


def test_every_stage_package_is_a_layer_and_has_a_section() -> None:
    packages = sorted(p.name for p in (ROOT / "clip_lint").iterdir() if (p / "__init__.py").exists())
    layered = " ".join(contract_layers())
    for package in packages:
        assert f"clip_lint.{package}" in layered, package
        assert f"`clip_lint/{package}/`" in ARCHITECTURE, package


def top_level_names(path: Path) -> Set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def test_every_code_reference_in_architecture_md_exists() -> None:
    references = REFERENCE.findall(ARCHITECTURE)
    assert len(references) > 40  # the map names the code it describes
    for path, name in references:
        target = ROOT / path
        assert target.exists(), f"ARCHITECTURE.md names {path}, which does not exist"
        if name:
            assert name in top_level_names(target), f"ARCHITECTURE.md names {path}: {name}, which it does not define"


def test_the_reference_pattern_sees_names_and_paths() -> None:
    sample = "see `clip_lint/facts.py: ENCODER_METHODS` and `tests/engine/` but not `x.py`"
    assert REFERENCE.findall(sample) == [("clip_lint/facts.py", "ENCODER_METHODS"), ("tests/engine/", "")]
