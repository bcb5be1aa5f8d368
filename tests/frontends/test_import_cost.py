"""Start-up cost: what each front end imports, and what a run imports, only when it needs it.

Each test runs a fresh interpreter and looks at the modules it imported, never at timings.
``-X importtime`` names every module imported in the run's worker processes too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Set

ROOT = Path(__file__).resolve().parents[2]

#: Needed only by some runs: a file to analyse (libcst), a pattern beyond plain names (pathspec),
#: an output format (XML), a fix (the fixer, difflib), a message about a rule, a notebook or Markdown.
ON_DEMAND = [
    "libcst", "pathspec", "xml.etree.ElementTree", "difflib", "clip_lint.fix.fixer", "clip_lint.rules",
    "clip_lint.sources.ipython", "clip_lint.sources.jsonspans",
]  # fmt: skip
NO_CLIP = "import os\n\n\ndef joined(folder):\n    return os.path.join(folder, 'x')\n"


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), CLIP_LINT_NO_CACHE="1")


def modules_imported_by(statement: str, cwd: Path) -> Set[str]:
    """The modules that ``statement`` imports in a fresh interpreter, beyond its own start-up."""
    probe = f"import json, sys\nbefore = set(sys.modules)\n{statement}\nprint(json.dumps(sorted(set(sys.modules) - before)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def command_imports(folder: Path, *args: str) -> "tuple[subprocess.CompletedProcess[str], Set[str]]":
    """Run the command on ``folder``; every module it and its worker processes imported."""
    run = [sys.executable, "-X", "importtime", "-m", "clip_lint.frontends.cli", "-j", "1", *args, "."]
    result = subprocess.run(run, cwd=folder, env=_env(), capture_output=True, text=True)
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return result, imported


def _project(tmp_path: Path, files: dict) -> Path:
    """A folder that is a git repository's root (so no .gitignore above it is read)."""
    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _loaded(modules: Set[str], names: List[str]) -> List[str]:
    return [name for name in names if name in modules]


def test_importing_the_command_imports_nothing_a_run_may_not_need(tmp_path: Path) -> None:
    imported = modules_imported_by("import clip_lint.frontends.cli", tmp_path)
    assert "clip_lint.frontends.cli" in imported
    assert _loaded(imported, ON_DEMAND + ["tomllib", "configparser", "multiprocessing"]) == []


def test_importing_the_flake8_plugin_imports_neither_libcst_nor_the_rules(tmp_path: Path) -> None:
    imported = modules_imported_by("import clip_lint.frontends.flake8_plugin", tmp_path)
    assert "clip_lint.project.cache" in imported
    assert _loaded(imported, ON_DEMAND + ["tomllib", "configparser"]) == []


def test_a_run_where_no_file_passes_the_gate_imports_no_engine(tmp_path: Path) -> None:
    folder = _project(tmp_path, {
        "a.py": NO_CLIP, "pkg/b.py": NO_CLIP, "pkg/c.py": NO_CLIP, ".gitignore": "# plain names\n*.log\nbuild\n",
    })  # fmt: skip
    result, imported = command_imports(folder, "--no-cache")
    assert result.returncode == 0 and result.stdout == "Checked 3 files: no findings.\n", result.stderr
    assert "clip_lint.frontends.runner" in imported  # the probe sees the worker process's imports
    assert _loaded(imported, ON_DEMAND) == []


def test_the_engine_and_the_fixer_are_imported_when_a_file_needs_them(tmp_path: Path) -> None:
    folder = _project(tmp_path, {"bug.py": "x = model.encode_image(i)\ns = x @ x.T\n", ".gitignore": "/build/\n"})
    result, imported = command_imports(folder, "--no-cache")
    assert result.returncode == 1 and "bug.py:2:7: CLN001" in result.stdout, result.stderr
    assert _loaded(imported, ["libcst", "pathspec", "clip_lint.fix.fixer"]) == ["libcst", "pathspec", "clip_lint.fix.fixer"]


def test_an_output_format_is_imported_when_chosen(tmp_path: Path) -> None:
    folder = _project(tmp_path, {"a.py": NO_CLIP})
    result, imported = command_imports(folder, "--no-cache", "--format", "junit")
    assert result.returncode == 0 and result.stdout.startswith("<?xml"), result.stderr
    assert "xml.etree.ElementTree" in imported
