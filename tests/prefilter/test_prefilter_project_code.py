"""The pre-filter for a module whose project imports may compare, normalize or pass on what
they are given, but never hand features over: everything built from them is project code, a
sink and a pass-through. It may only skip a module the engine finds nothing in."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.ast_filter import may_report

OPTIONS = AnalysisOptions()


def kept(source: str, *project_code: str) -> bool:
    return may_report(ast.parse(textwrap.dedent(source)), OPTIONS, project_code=project_code)


@pytest.mark.parametrize(
    "source",
    [
        # a project function handed features
        "feats = model.encode_image(i)\nscore(feats, feats)\n",
        # what it gives back may still be the features
        "feats = model.encode_image(i)\nsame = pick(feats)\nsame @ same.T\n",
        # an object built from a project class, its method handed features
        "s = Scorer()\ns.rank(model.encode_image(i))\n",
        # kept in self by one method, used by another
        """
        class Service:
            def __init__(self):
                self.scorer = Scorer()

            def run(self, model, images):
                return self.scorer.rank(model.encode_image(images))
        """,
        # a parameter annotated with a project class, also as a string
        "def run(s: Scorer, m, i):\n    return s.rank(m.encode_image(i))\n",
        "def run(s: 'Optional[Scorer]', m, i):\n    return s.rank(m.encode_image(i))\n",
        # a project object handed to the module's own function
        "def run(s, feats):\n    return s(feats)\n\nrun(Scorer(), model.encode_image(i))\n",
        # returned by the module's own function
        "def build():\n    return Scorer()\n\nbuild().rank(model.encode_image(i))\n",
        # in a container, then looped over
        "for s in [Scorer(), Other()]:\n    s.rank(model.encode_image(i))\n",
        "scorers = {k: Scorer() for k in 'ab'}\nscorers['a'].rank(model.encode_image(i))\n",
        # features inside a dict of keyword arguments
        "unet = UNet()\nunet(x, added={'image_embeds': model.encode_image(i)})\n",
        # a module of the project, its function called through it
        "lib.rank(model.encode_image(i))\n",
    ],
)
def test_project_code_handed_features_keeps_the_module(source: str) -> None:
    names = ("score", "pick", "Scorer", "Other", "UNet", "lib")
    assert kept(source, *names)
    assert not kept(source)  # on its own the module reaches no sink


@pytest.mark.parametrize(
    "source",
    [
        # project code handed nothing that carries features
        "s = Scorer()\ns.rank(images)\nfeats = model.encode_image(i)\nlog(feats)\n",
        # features that never meet project code, nor any sink
        "unet = UNet()\nunet(latents)\nembeds = model.encode_image(i)\nsave(embeds)\n",
    ],
)
def test_project_code_handed_nothing_lets_the_module_go(source: str) -> None:
    assert not kept(source, "Scorer", "UNet")


LIB = '''import torch


def score(a, b):
    return a @ b.T


def pick(x):
    return x


class Scorer:
    def __init__(self, reference):
        self.reference = reference

    def rank(self, queries):
        return queries @ self.reference.T
'''

MAINS = {
    "helper": "def run(model, i, t):\n    return score(model.encode_image(i), model.encode_text(t))\n",
    "through": "def run(model, i, t):\n    q = pick(model.encode_image(i))\n    return q @ model.encode_text(t).T\n",
    "object": "def run(model, i, t):\n    s = Scorer(model.encode_text(t))\n    return s.rank(model.encode_image(i))\n",
    # a helper that neither compares nor names features still passes them on
    "only_through": "def run(model, i, prototypes):\n    q = pick(model.encode_image(i))\n    return q @ prototypes.T\n",
}
IMPORTS = {"only_through": "from lib import pick\n\n\n"}


@pytest.mark.parametrize("case", sorted(MAINS))
def test_the_engine_finds_what_the_prefilter_keeps(case: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "lib.py").write_text(LIB)
    main = tmp_path / "main.py"
    main.write_text(IMPORTS.get(case, "from lib import Scorer, pick, score\n\n\n") + MAINS[case])
    result = analyze_file(str(main), main.read_text(), OPTIONS, Project(str(tmp_path)))
    assert [f.code for f in result.findings] == ["CLN001"]
    assert str(tmp_path / "lib.py") in result.consulted_names
