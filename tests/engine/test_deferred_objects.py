"""An object of an imported class that only compares, built without features (or kept in a
global of its module), is followed when a call on it is handed features later:
``Ranker().rank(raw_images, raw_texts)`` reports at the call, through every way of keeping the
object, and stays silent when the features are unit."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from clip_lint.options import AnalysisOptions
from clip_lint.project.cache import NO_CACHE, check_source
from clip_lint.project.modules import new_run

SCORING = '''\
import torch


class Ranker:
    def __init__(self, temperature=100.0):
        self.temperature = temperature

    def rank(self, queries, gallery):
        return (self.temperature * queries @ gallery.T).softmax(dim=-1)

    def __call__(self, queries, gallery):
        return torch.matmul(queries, gallery.T)


RANKER = Ranker()
'''
HEADER = "from lib import scoring\nfrom lib.scoring import RANKER, Ranker\n\n\n"
BODIES = {
    "built in place": "return Ranker().rank(model.encode_image(images), model.encode_text(tokens))",
    "kept in a name": "ranker = Ranker()\n    return ranker.rank(model.encode_image(images), model.encode_text(tokens))",
    "through the module": "ranker = scoring.Ranker()\n    return ranker.rank(model.encode_image(images), model.encode_text(tokens))",
    "called": "ranker = Ranker()\n    return ranker(model.encode_image(images), model.encode_text(tokens))",
    "a global imported by name": "return RANKER.rank(model.encode_image(images), model.encode_text(tokens))",
    "a global of a module": "return scoring.RANKER.rank(model.encode_image(images), model.encode_text(tokens))",
    "a bound method of a global": "rank = RANKER.rank\n    return rank(model.encode_image(images), model.encode_text(tokens))",
    "in a loop": (
        "ranker = Ranker()\n    scores = []\n    for batch in images:\n"
        "        scores.append(ranker.rank(model.encode_image(batch), model.encode_text(tokens)))\n    return scores"
    ),
}
UNIT = (
    "a = model.encode_image(images)\n    b = model.encode_text(tokens)\n"
    "    a = a / a.norm(dim=-1, keepdim=True)\n    b = b / b.norm(dim=-1, keepdim=True)\n"
    "    ranker = Ranker()\n    return ranker.rank(a, b)"
)


def codes(tmp_path: Path, body: str) -> List[str]:
    files = {"pyproject.toml": "", "lib/__init__.py": "", "lib/scoring.py": SCORING,
             "app/main.py": HEADER + f"def run(model, images, tokens):\n    {body}\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    new_run()
    path = tmp_path / "app" / "main.py"
    return [f.code for f in check_source(str(path), path.read_text(encoding="utf-8"), AnalysisOptions(), NO_CACHE)]


@pytest.mark.parametrize("shape", sorted(BODIES))
def test_raw_features_handed_to_an_object_built_without_them_are_reported(tmp_path: Path, shape: str) -> None:
    assert codes(tmp_path, BODIES[shape]) == ["CLN001"]


def test_unit_features_handed_to_such_an_object_are_not(tmp_path: Path) -> None:
    assert codes(tmp_path, UNIT) == []


def test_building_it_late_does_not_bring_back_what_its_arguments_were(tmp_path: Path) -> None:
    # the constructor ran with 'scale' before it was normalized: building the object when
    # 'rank' is called must not put the old value of 'scale' back into the caller's frame
    body = (
        "scale = model.encode_image(images)\n    ranker = Ranker(scale)\n"
        "    scale = scale / scale.norm(dim=-1, keepdim=True)\n"
        "    text = model.encode_text(tokens)\n    text = text / text.norm(dim=-1, keepdim=True)\n"
        "    ranker.rank(text, text)\n    return scale @ text.T"
    )
    assert codes(tmp_path, body) == []
