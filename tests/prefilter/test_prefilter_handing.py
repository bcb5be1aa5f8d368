"""The pre-filter for a module that imports project code which may hand features over (the
project gate's answer): whatever is reached from such a name may be features, and a module
where none of it can meet a sink is let go without a libcst parse. It may only skip a module
the engine finds nothing in."""

from __future__ import annotations

import ast
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.prefilter.gate import STAR, project_imports
from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.ast_filter import may_report
from clip_lint.prefilter.speedups import VARIABLE

OPTIONS = AnalysisOptions()


def kept(source: str, *handing: str, code: tuple = ()) -> bool:
    tree = ast.parse(textwrap.dedent(source))
    return may_report(tree, OPTIONS, project_code=(*handing, *code), handing=handing)


@pytest.mark.parametrize(
    "source",
    [
        # what a project function returns, compared
        "q = embed(images)\ns = q @ q.T\n",
        # a global of another module, and an attribute of an imported module
        "s = FEATURES @ FEATURES.T\n",
        "q = encoders.embed(images)\ns = torch.matmul(q, q.T)\n",
        # an object of a project class, its method's result normalized
        "e = Encoder(m)\nq = F.normalize(e.embed(images), dim=0)\n",
        # kept in self by one method, compared in another
        """
        class Search:
            def __init__(self, model):
                self.encoder = Encoder(model)

            def query(self, images):
                q = self.encoder.embed(images)
                return q @ self.index.T
        """,
        # through the module's own function: a parameter, a return
        "def rank(q):\n    return q @ q.T\n\nrank(embed(images))\n",
        "def get(i):\n    return embed(i)\n\nq = get(images)\ns = q @ q.T\n",
        # a parameter annotated with the class
        "def run(e: Encoder, i):\n    q = e.embed(i)\n    return q @ q.T\n",
        # in a container, then looped over
        "qs = [embed(i) for i in batches]\nfor q in qs:\n    s = q @ w\n",
        # handed to other project code, which may compare it
        "q = embed(images)\nscore(q, q)\n",
    ],
)
def test_what_project_code_hands_over_keeps_the_module(source: str) -> None:
    assert kept(source, "embed", "FEATURES", "encoders", "Encoder", code=("score",))
    assert not kept(source, code=("score",))  # without it nothing there may be features


@pytest.mark.parametrize(
    "source",
    [
        # imported, never used
        "x = load(path)\ny = x @ w\n",
        # features that meet no sink: saved, logged, their size read
        "torch.save(FEATURES, path)\nprint(FEATURES.shape[0] / 2)\n",
        # a sink that nothing from the project reaches
        "labels = other(images)\ns = labels @ w\nassert not isinstance(labels, Encoder)\n",
    ],
)
def test_project_code_that_meets_no_sink_lets_the_module_go(source: str) -> None:
    assert not kept(source, "embed", "Encoder", "FEATURES")


@pytest.mark.parametrize("call", ["embed(model, images)", "Encoder(model).embed(images)", "encoders.Encoder(m)"])
def test_a_call_into_code_that_hands_features_over_may_report_by_itself(call: str) -> None:
    # It may normalize or compare the features it makes: the engine reports that at the call.
    assert kept(f"{call}\n", "embed", "Encoder", "encoders")


# --- the property: with the pre-filter on or off, the engine finds the same ---------------------

SOURCES = {
    "function": ("def embed(model, images):\n    return model.encode_image(images)\n", "embed(model, images)"),
    "method": (
        "class Embedder:\n    def __init__(self, model):\n        self.model = model\n\n"
        "    def embed(self, images):\n        return self.model.encode_image(images)\n",
        "Embedder(model).embed(images)",
    ),
    "normalized": (
        "def embed(model, images):\n    f = model.encode_image(images)\n    return f / f.norm(dim=-1, keepdim=True)\n",
        "embed(model, images)",
    ),
    "wrong_axis": (
        "def embed(model, images):\n    f = model.encode_image(images)\n    return f / f.norm(dim=0, keepdim=True)\n",
        "embed(model, images)",
    ),
}
#: What the caller does with the features (``{get}`` is the expression that fetches them).
USES = [
    "    q = {get}\n    return q @ q.T\n",
    "    q = {get}\n    return torch.matmul(q, prototypes.T)\n",
    "    q = F.normalize({get}, dim=-1)\n    return q @ prototypes.T\n",
    "    q = {get}\n    q = q / q.norm(dim=0, keepdim=True)\n    return q\n",
    "    qs = [{get}]\n    return torch.cat(qs) @ prototypes.T\n",
    "    return _rank({get}, prototypes)\n",
    "    torch.save({get}, 'q.pt')\n    return prototypes @ prototypes.T\n",
    "    q = {get}\n    return q.shape[0] / 2\n",
]
LOCAL_HELPER = "\n\ndef _rank(q, p):\n    return q @ p.T\n"
HEADER = "import torch\nimport torch.nn.functional as F\n"


def findings(folder: Path, text: str) -> Counter:
    path = folder / "main.py"
    path.write_text(text)
    result = analyze_file(str(path), text, OPTIONS, Project(str(folder)))
    return Counter((f.code, f.line, f.message) for f in result.findings)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SOURCES)), st.sampled_from(USES), st.booleans())
def test_the_prefilter_never_changes_what_a_caller_of_project_code_finds(kind: str, use: str, as_module: bool) -> None:
    helper, get = SOURCES[kind]
    name = get.split("(")[0]
    if as_module:  # ``import helpers`` and ``helpers.embed(...)``
        imports, get = "import helpers\n", "helpers." + get
    else:
        imports = f"from helpers import {name}\n"
    text = HEADER + imports + "\n\ndef caller(model, images, prototypes):\n" + use.format(get=get) + LOCAL_HELPER
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as patch:
        folder = Path(scratch)
        (folder / "pyproject.toml").write_text("[project]\nname = 'p'\n")
        (folder / "helpers.py").write_text(HEADER + "\n\n" + helper)
        handing, _ = project_imports(text, OPTIONS, str(folder / "main.py"), Project(str(folder)))
        assert handing == ("helpers",) if as_module else (name,)  # the case this file is about
        shipped = findings(folder, text)
        patch.setenv(VARIABLE, "prefilter,slicing")
        assert findings(folder, text) == shipped


def test_a_star_import_that_may_hand_features_keeps_the_prefilter_out(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "helpers.py").write_text(HEADER + "\n\n" + SOURCES["function"][0])
    text = HEADER + "from helpers import *\n\n\ndef caller(model, images):\n    q = embed(model, images)\n    return q @ q.T\n"
    (tmp_path / "main.py").write_text(text)
    handing, hands = project_imports(text, OPTIONS, str(tmp_path / "main.py"), Project(str(tmp_path)))
    assert hands and STAR in handing  # the names it binds are unknown to the pre-filter
    result = analyze_file(str(tmp_path / "main.py"), text, OPTIONS, Project(str(tmp_path)))
    assert [f.code for f in result.findings] == ["CLN001"]
