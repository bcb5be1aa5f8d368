"""What following the project's modules costs the engine, in one process. Run by hand.

    python bench/project_speed.py TREE [TREE ...]

For each tree: every ``.py`` file analysed on its own (``analyze_source``) and as a module of
its project (``analyze_file``), cold (modules not yet read in this process) then warm, with
the files whose findings differ. The ``ast`` of each file is given, as flake8 gives it.
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from clip_lint.project.checking import analyze_source
from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project
from clip_lint.options import AnalysisOptions

OPTIONS = AnalysisOptions()


def read_tree(root: Path) -> Dict[Path, Tuple[str, Optional[ast.Module]]]:
    files: Dict[Path, Tuple[str, Optional[ast.Module]]] = {}
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
            files[path] = (text, ast.parse(text))
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
    return files


def run(files: Dict[Path, Tuple[str, Optional[ast.Module]]], project_layer: bool) -> Tuple[float, Dict[Path, List]]:
    found: Dict[Path, List] = {}
    start = time.perf_counter()
    for path, (text, tree) in files.items():
        if project_layer:
            result = analyze_file(str(path), text, OPTIONS, Project.for_path(str(path)), tree)
            found[path] = [(f.line, f.code) for f in result.findings]
        else:
            found[path] = [(f.line, f.code) for f in analyze_source(text, OPTIONS, tree=tree)]
    return time.perf_counter() - start, found


def main(roots: List[str]) -> int:
    for root in map(Path, roots):
        files = read_tree(root)
        alone, by_file = run(files, False)
        cold, with_project = run(files, True)
        warm, _ = run(files, True)
        print(f"{root}: {len(files)} files; one module at a time {alone:.2f} s; "
              f"with the project cold {cold:.2f} s, warm {warm:.2f} s")
        for path in files:
            if by_file[path] != with_project[path]:
                print(f"  {path.relative_to(root)}: {by_file[path]} -> {with_project[path]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
