"""The gate consults the project's summaries of what a module imports, not the module's words:
a module that names no encoder and compares nothing is analysed when it hands one project
module's features to project code that may compare or normalize them. It stays a text test for
a module that imports nothing from the project."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.gate import calls_comparing, needs_analysis, passes_gate, project_gate
from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project, new_run

OPTIONS = AnalysisOptions()
FEATS = "def pictures(model, images):\n    return model.encode_image(images)\n\n\ndef words(model, tokens):\n    return model.encode_text(tokens)\n"
COMPARE = (
    "import torch\n\n\ndef similarity(a, b):\n    return a @ b.T\n\n\n"
    "def overlap(a, b):\n    return torch.sum(a * b, dim=-1)\n\n\n"
    "def shapes(a, b):\n    return a.shape, b.shape\n\n\n"
    "class Ranker:\n    def rank(self, q, g):\n        return q @ g.T\n"
)
MAIN = (
    "from lib.feats import pictures, words\nfrom lib.compare import {name}\n\n\n"
    "def main(model, images, tokens):\n    return {call}(pictures(model, images), words(model, tokens))\n"
)


def project_with(tmp_path: Path, main: str, extra: Dict[str, str] = {}) -> Project:
    files = {"pyproject.toml": "", "lib/__init__.py": "", "lib/feats.py": FEATS, "lib/compare.py": COMPARE,
             "app/main.py": main, **extra}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    new_run()
    return Project(str(tmp_path))


@pytest.mark.parametrize("name, call, found", [
    ("similarity", "similarity", True),
    ("overlap", "overlap", True),  # a product sum is a comparison too
    ("shapes", "shapes", False),  # compares nothing: the module is let go before any parse
])
def test_a_module_that_hands_features_to_comparing_project_code_is_analysed(
    tmp_path: Path, name: str, call: str, found: bool
) -> None:
    main = MAIN.format(name=name, call=call)
    project = project_with(tmp_path, main)
    path = str(tmp_path / "app" / "main.py")
    assert not passes_gate(main)
    assert project_gate(main, OPTIONS, path, project) is found
    codes = [f.code for f in analyze_file(path, main, OPTIONS, project).findings]
    assert codes == (["CLN001"] if found else [])


def test_a_class_whose_methods_compare_passes_the_gate(tmp_path: Path) -> None:
    # (the engine follows such an object only once its module is read for another reason: an
    # object built without features is not followed; see docs/project.md)
    main = MAIN.format(name="Ranker", call="Ranker().rank")
    project = project_with(tmp_path, main)
    assert project_gate(main, OPTIONS, str(tmp_path / "app" / "main.py"), project)


def test_comparing_code_reached_through_a_module_a_reexport_or_a_star(tmp_path: Path) -> None:
    extra = {"lib/api.py": "from lib.compare import similarity as cosine\n", "lib/star.py": "from lib.compare import *\n"}
    cases = {
        "import lib.compare\nlib.compare.similarity(x, y)\n": True,
        "from lib import compare\ncompare.similarity(x, y)\n": True,
        "from lib.api import cosine\ncosine(x, y)\n": True,
        "from lib.star import *\nsimilarity(x, y)\n": True,
        "from lib.compare import similarity\n": False,  # imported, never used
        "from lib.feats import pictures\npictures(m, x)\n": False,  # hands features, compares nothing
        "import torch\ntorch.cat([x, y])\n": False,  # nothing of the project's
    }
    project = project_with(tmp_path, "", extra)
    path = str(tmp_path / "app" / "main.py")
    for source, expected in cases.items():
        assert calls_comparing(source, path, project) is expected, source


def test_a_module_that_imports_nothing_is_decided_by_its_text(tmp_path: Path) -> None:
    project = project_with(tmp_path, "")
    path = str(tmp_path / "app" / "main.py")
    with project.reader.recording() as reads:
        assert not needs_analysis("x = 1\ndef f(a, b):\n    return a @ b\n", OPTIONS, path, project)
    assert not reads.files and not reads.probes and not reads.parts


def test_a_module_that_imports_only_libraries_reads_no_project_file(tmp_path: Path) -> None:
    project = project_with(tmp_path, "")
    path = str(tmp_path / "app" / "main.py")
    source = "import torch\nfrom numpy import linalg\n\n\ndef f(a, b):\n    return torch.cat([a, b])\n"
    with project.reader.recording() as reads:
        assert not needs_analysis(source, OPTIONS, path, project)
    assert not reads.flatten().files  # probes of where ``torch`` would be, and nothing read
