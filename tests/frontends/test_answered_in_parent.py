"""The command answers in its own process what needs no analysis (the substring gate, the cache's
answers), and hands only the rest to worker processes. That must never change a result: here
generated projects are checked with it on and off (``CLIP_LINT_SPEEDUPS_OFF=parent``), cold and
warm, in every mode, and every file's result must be the same."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.frontends import runner, workers
from clip_lint.project.cache import CacheConfig, CacheMiss, answers_only, check_source
from clip_lint.prefilter.speedups import VARIABLE

BUGGY = """import torch
{imports}

def score(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    return image_features @ text_features.T  # noqa: E501
"""
CORRECT = """import torch.nn.functional as F


def score(model, images, texts):
    image_features = F.normalize(model.encode_image(images), dim=-1)
    text_features = F.normalize(model.encode_text(texts), dim=-1)
    return image_features @ text_features.T
"""
HANDS_OVER = """def features(model, images):
    return model.encode_image(images)
"""
USES_HELPER = """from pkg.helper import features


def rank(model, images, text_features):
    return features(model, images) @ text_features.T
"""
PLAIN = """def add(a, b):
    return a + b
"""
BROKEN_WITH_ENCODER = "x = model.encode_image(\n"
BROKEN_PLAIN = "def (:\n"
NOQA = "# clip-lint: noqa\nscores = model.encode_image(i) @ model.encode_text(t).T\n"


def notebook(cells: List[str]) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "source": cell, "outputs": [], "execution_count": None}
                  for cell in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    })


def markdown(blocks: List[str]) -> str:
    return "\n".join(f"Some text.\n\n```python\n{block}```\n" for block in blocks)


MODULES = st.sampled_from([BUGGY.format(imports=""), BUGGY.format(imports="import numpy as np"), CORRECT,
                           USES_HELPER, PLAIN, BROKEN_WITH_ENCODER, BROKEN_PLAIN, NOQA, ""])
FILES = st.dictionaries(
    st.sampled_from(["pkg/a.py", "pkg/b.py", "pkg/sub/c.py", "d.py", "e.py", "notes.md", "run.ipynb"]),
    st.lists(MODULES, min_size=1, max_size=3),
    min_size=1,
)


def write_project(root: Path, files: Dict[str, List[str]]) -> List[str]:
    (root / "pkg" / "sub").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'generated'\n")
    for name in ("pkg/__init__.py", "pkg/sub/__init__.py"):
        (root / name).write_text("")
    (root / "pkg" / "helper.py").write_text(HANDS_OVER)
    for name, parts in files.items():
        if name.endswith(".ipynb"):
            text = notebook(parts)
        elif name.endswith(".md"):
            text = markdown(parts)
        else:
            text = parts[0]
        (root / name).write_text(text)
    return sorted(str(path) for path in root.rglob("*") if path.suffix in (".py", ".md", ".ipynb"))


def outcome(results: List[runner.FileResult], root: Path) -> List[Tuple]:
    return [
        (os.path.relpath(result.path, root), result.findings, result.fixed, result.diff, result.output,
         result.errors, result.skipped_blocks, result.has_code, result.checked)
        for result in results
    ]


def check_all(files: List[str], mode: str, cache: CacheConfig, parent: bool, root: Path) -> List[Tuple]:
    settings_ = runner.Settings(mode=mode, cache=cache)
    previous = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = "" if parent else "parent"
    try:
        return outcome(workers.run_checks(files, settings_, jobs=2), root)
    finally:
        if previous is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = previous


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FILES, st.sampled_from([runner.CHECK, runner.DIFF]))
def test_answering_in_the_parent_changes_no_result(tmp_path_factory: pytest.TempPathFactory,
                                                   files: Dict[str, List[str]], mode: str) -> None:
    root = tmp_path_factory.mktemp("project")
    paths = write_project(root, files)
    uncached = CacheConfig(enabled=False)
    expected = check_all(paths, mode, uncached, parent=False, root=root)
    assert check_all(paths, mode, uncached, parent=True, root=root) == expected
    for parent in (True, False):
        cache = CacheConfig(directory=str(root / f".cache-{parent}"))
        assert check_all(paths, mode, cache, parent=parent, root=root) == expected  # cold
        assert check_all(paths, mode, cache, parent=parent, root=root) == expected  # warm
        assert check_all(paths, mode, cache, parent=not parent, root=root) == expected  # warm, the other way


def test_a_miss_inside_answers_only_starts_no_analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.py"
    source = BUGGY.format(imports="")
    path.write_text(source)
    started = []
    import clip_lint.project.checking as checking

    monkeypatch.setattr(checking, "analyze_file", lambda *args, **kwargs: started.append(args))
    monkeypatch.setattr(checking, "analyze_source", lambda *args, **kwargs: started.append(args))
    for cache in (CacheConfig(enabled=False), CacheConfig(directory=str(tmp_path / "cache"))):
        with answers_only(), pytest.raises(CacheMiss):
            check_source(str(path), source, runner.Settings().analysis, cache)
    assert started == []
    # a file without an encoder word is answered there, without the cache
    assert runner.check_from_cache(str(path), runner.Settings()) is None
    (tmp_path / "b.py").write_text(PLAIN)
    answered = runner.check_from_cache(str(tmp_path / "b.py"), runner.Settings())
    assert answered is not None and answered.findings == []
