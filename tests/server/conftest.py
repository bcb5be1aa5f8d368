from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

HELPER = """\
def embed(model, images):
    return model.encode_image(images)
"""

CALLER = """\
from pkg.helpers import embed


def score(model, images, texts):
    image_features = embed(model, images)
    text_features = model.encode_text(texts)
    return image_features @ text_features.T
"""

ONE_FIXABLE = """\
def score(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    return image_features @ text_features.T
"""

TWO_FIXABLE = """\
import torch


def score(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    return image_features @ text_features.T


def rank(model, queries, gallery):
    query_features = model.encode_text(queries)
    gallery_features = model.encode_image(gallery)
    gallery_features = gallery_features / gallery_features.norm(dim=-1, keepdim=True)
    return torch.matmul(query_features, gallery_features.T).argsort(dim=-1)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project: a config of its own, a package whose caller imports a feature helper."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.clip-lint]\n", encoding="utf-8")
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "helpers.py").write_text(HELPER, encoding="utf-8")
    (root / "pkg" / "main.py").write_text(CALLER, encoding="utf-8")
    (root / "single.py").write_text(ONE_FIXABLE, encoding="utf-8")
    (root / "two.py").write_text(TWO_FIXABLE, encoding="utf-8")
    return root
