"""The project layer's cheap tests on other modules: which of their names may compare or normalize."""

from __future__ import annotations

from pathlib import Path

from clip_lint.engine.project import Project

MODULE = '''
from dataclasses import dataclass


@dataclass
class VisionCfg:
    width: int = 768
    qk_norm: bool = False  # apply layer norm to q and k, then @ nothing
    doc: str = "normalize the features, then take img @ txt.T"


def scores(a, b):
    return a @ b.T


def scaled(a, b):
    a @= b
    return a


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def aliased(x):
    from torch.nn.functional import normalize as l2n
    return l2n(x)


class Ranker:
    def rank(self, q, g):
        return torch.einsum("nd,md->nm", q, g)


def plain(x):
    return x + 1
'''


def test_words_in_comments_and_strings_do_not_make_a_name_compare(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "lib.py").write_text(MODULE)
    project = Project(str(tmp_path))
    names = project.comparing_names(str(tmp_path / "lib.py"))
    assert names == {"scores", "scaled", "unit", "aliased", "Ranker"}
