"""Module resolution as Python runs the code: namespace packages (PEP 420), a regular package
winning over a namespace portion, and the working directory as the root when no marker is
found (as ``python -m`` puts it first on ``sys.path``)."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from pathlib import Path
from typing import List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.modules import Project, find_root, new_run

from front_ends import clean_env, clip_lint, codes_in, flake8, write_files

FEATS = "def pictures(model, images):\n    return model.encode_image(images)\n\n\ndef words(model, tokens):\n    return model.encode_text(tokens)\n"
RUN = (
    "from lib.feats import pictures, words\n\n\n"
    "def score(model, images, tokens):\n    return pictures(model, images) @ words(model, tokens).T\n"
)
COMPARE = "def similarity(a, b):\n    return a @ b.T\n"


def unmarked_project(tmp_path: Path) -> Path:
    """/tmp/.../proj with lib/ and app/ as namespace packages, and no marker anywhere above."""
    project = tmp_path / "proj"
    write_files(project, {"lib/feats.py": FEATS, "lib/compare.py": COMPARE, "app/run.py": RUN})
    assert not any((folder / marker).exists() for folder in project.parents for marker in ("pyproject.toml", "setup.py", "setup.cfg", ".git"))
    return project


# --- the root ------------------------------------------------------------------------------------


def test_without_a_marker_the_working_directory_is_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = unmarked_project(tmp_path)
    monkeypatch.chdir(project)
    assert find_root(str(project / "app" / "run.py")) == str(project)
    monkeypatch.chdir(project / "app")
    assert find_root(str(project / "app" / "run.py")) == str(project / "app")
    monkeypatch.chdir(tmp_path.parent)  # above: the working directory holds the file, and is the root
    assert find_root(str(project / "app" / "run.py")) == str(tmp_path.parent)


def test_a_file_outside_the_working_directory_keeps_its_package_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path / "elsewhere", {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/m.py": ""})
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert find_root(str(tmp_path / "elsewhere" / "pkg" / "sub" / "m.py")) == str(tmp_path / "elsewhere")
    # inside the working directory, the higher of it and the top package's parent
    monkeypatch.chdir(tmp_path / "elsewhere" / "pkg")
    assert find_root(str(tmp_path / "elsewhere" / "pkg" / "sub" / "m.py")) == str(tmp_path / "elsewhere")


def test_a_marker_stays_the_root_whatever_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = unmarked_project(tmp_path)
    (project / "pyproject.toml").write_text("")
    monkeypatch.chdir(project / "app")
    assert find_root(str(project / "app" / "run.py")) == str(project)
    monkeypatch.chdir(tmp_path)
    assert find_root(str(project / "app" / "run.py")) == str(project)


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_both_front_ends_follow_namespace_packages_from_the_working_directory(tmp_path: Path, cache: bool) -> None:
    project = unmarked_project(tmp_path)
    args = [] if cache else ["--no-cache"]
    flake8_args = [] if cache else ["--clip-no-cache"]
    for _ in range(2 if cache else 1):  # a cold run, then a warm one
        for output in (clip_lint(*args, ".", cwd=project).stdout, flake8(*flake8_args, ".", cwd=project).stdout):
            assert codes_in(output, "app/run.py") == ["CLN001"]
    # from app/, ``lib`` can't be imported (``python -m run`` fails there too): nothing to follow
    for output in (clip_lint(*args, ".", cwd=project / "app").stdout, flake8(*flake8_args, ".", cwd=project / "app").stdout):
        assert codes_in(output, "run.py") == []


def test_a_cwd_root_and_a_marker_root_never_share_an_entry(tmp_path: Path) -> None:
    """One cache folder for every run: the root is in the key, so a run whose root moved (a
    marker added below the working directory) never reuses the other root's findings."""
    project = unmarked_project(tmp_path)
    shared = tmp_path / "cache"
    env = clean_env()
    cached = ["--cache-dir", str(shared)]
    flake8_cached = ["--clip-cache-dir", str(shared)]

    def reported() -> List[List[str]]:
        return [
            codes_in(clip_lint(*cached, ".", cwd=project, env=env).stdout, "app/run.py"),
            codes_in(flake8(*flake8_cached, ".", cwd=project, env=env).stdout, "app/run.py"),
        ]

    assert reported() == [["CLN001"], ["CLN001"]]  # root: the working directory
    (project / "app" / "setup.cfg").write_text("")  # now app/ is the root: lib/ is outside it
    assert reported() == [[], []]
    (project / "app" / "setup.cfg").unlink()
    assert reported() == [["CLN001"], ["CLN001"]]
    # and the other way round: the entries of app/ as the root don't answer for the project
    for output in (clip_lint(*cached, ".", cwd=project / "app", env=env).stdout,
                   flake8(*flake8_cached, ".", cwd=project / "app", env=env).stdout):
        assert codes_in(output, "run.py") == []
    assert reported() == [["CLN001"], ["CLN001"]]


# --- namespace packages, against Python's own import system -------------------------------------


def python_finds(roots: List[str], module: str) -> Optional[str]:
    """Where Python's path finder finds ``module`` on ``roots`` (nothing is imported or run):
    a file, or a namespace package's first folder."""
    importlib.invalidate_caches()
    path: Optional[List[str]] = roots
    spec = None
    for part in module.split("."):
        if path is None:
            return None  # a plain module has no submodules
        spec = importlib.machinery.PathFinder.find_spec(part, path)
        if spec is None:
            return None
        locations = spec.submodule_search_locations
        path = list(locations) if locations is not None else None
    assert spec is not None
    if spec.origin and os.path.isfile(spec.origin):
        return os.path.realpath(spec.origin)
    return os.path.realpath(list(spec.submodule_search_locations)[0])  # type: ignore[arg-type]


NAMES = ["a", "b", "c"]
ENTRIES = ["x", "y"]


@st.composite
def trees(draw) -> List[str]:
    """Relative files under two path entries: packages, namespace folders, modules, shadowing."""
    files = []
    for entry in ENTRIES:
        for first in NAMES:
            kind = draw(st.sampled_from(["none", "module", "package", "namespace"]))
            if kind == "module":
                files.append(f"{entry}/{first}.py")
            elif kind in ("package", "namespace"):
                if kind == "package":
                    files.append(f"{entry}/{first}/__init__.py")
                for second in draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)):
                    inner = draw(st.sampled_from(["module", "package", "namespace"]))
                    stem = f"{entry}/{first}/{second}"
                    files.append(stem + (".py" if inner == "module" else "/__init__.py" if inner == "package" else "/leaf.py"))
    return files


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=trees(), module=st.lists(st.sampled_from(NAMES + ["leaf"]), min_size=1, max_size=3).map(".".join))
def test_imports_resolve_where_python_finds_them(tmp_path_factory: pytest.TempPathFactory, files: List[str], module: str) -> None:
    root = tmp_path_factory.mktemp("tree")
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    new_run()
    project = Project(str(root))
    roots = [str(root / entry) for entry in ENTRIES]
    assert project._find(roots, module) == python_finds(roots, module)


def test_from_a_namespace_package_import_a_submodule_of_any_portion(tmp_path: Path) -> None:
    write_files(tmp_path, {"pyproject.toml": "", "plugins/scoring.py": COMPARE, "src/plugins/feats.py": FEATS,
                           "eval/run.py": "from plugins import feats, scoring\n"})
    new_run()
    project = Project(str(tmp_path))
    importer = str(tmp_path / "eval" / "run.py")
    package = project.resolve(importer, "plugins")
    assert package == str(tmp_path / "plugins")
    assert project.submodule(package, "feats") == str(tmp_path / "src" / "plugins" / "feats.py")
    assert project.submodule(package, "scoring") == str(tmp_path / "plugins" / "scoring.py")
    # ``from . import x`` inside a namespace package
    sibling = str(tmp_path / "plugins" / "scoring.py")
    here = project.resolve(sibling, "", 1)
    assert here == str(tmp_path / "plugins")
    assert project.submodule(here, "scoring") == sibling
