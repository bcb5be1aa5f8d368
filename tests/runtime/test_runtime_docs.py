"""The snippets of docs/runtime.md about project classes run as written."""

from __future__ import annotations

import re

import pytest
import torch

import runtime_check
from test_runtime_pytest_plugin import HERE, _plugin_args
from test_runtime_project_classes import DUAL_ENCODER

pytest_plugins = ["pytester"]

DOCS = (HERE.parent.parent / "docs" / "runtime.md").read_text(encoding="utf-8")
SECTION = DOCS[DOCS.index("**Project classes.**"):DOCS.index("### What is checked")]


def _snippet(language: str) -> str:
    return re.search(rf"^```{language}\n(.*?)^```", SECTION, re.DOTALL | re.MULTILINE).group(1)


SUITE = """
import torch
import vendored_clip
from myproject.captioning import Captioner
from myproject.models import DualEncoder
from runtime_models import images, tokens

def test_own_names_are_checked():
    model = DualEncoder().eval()
    with torch.no_grad():
        model.embed_pixels(images()) @ model.embed_words(tokens()).T

def test_excluded_class_is_left_alone():
    model = vendored_clip.build(Captioner)
    with torch.no_grad():
        model.encode_image(images()) @ model.encode_text(tokens()).T
"""


def test_the_ini_snippet_configures_clip_assert(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(HERE)
    pytester.syspathinsert(pytester.path)
    package = pytester.mkpydir("myproject")
    (package / "models.py").write_text(DUAL_ENCODER, encoding="utf-8")
    (package / "captioning.py").write_text("from myproject.models import Captioner\n", encoding="utf-8")
    pytester.makepyfile(test_snippet=SUITE)
    pytester.makeini(_snippet("ini"))
    result = pytester.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["FAILED*test_own_names_are_checked*"])


def test_the_python_snippet_registers_excludes_and_forgets() -> None:
    namespace: dict = {"runtime_check": runtime_check}
    exec(DUAL_ENCODER, namespace)  # noqa: S102 - the classes the snippet names
    snippet = _snippet("python").splitlines()
    exec("\n".join(snippet[:2]), namespace)  # noqa: S102 - register, exclude
    try:
        model = namespace["DualEncoder"]().eval()
        with runtime_check.assert_mode(), torch.no_grad():
            pixels = torch.randn(2, 3, 32, 32)
            with pytest.raises(runtime_check.UnnormalizedFeaturesError):
                model.embed_pixels(pixels) @ model.embed_pixels(pixels).T  # noqa: CLN001 (deliberate)
    finally:
        exec("\n".join(snippet[2:]), namespace)  # noqa: S102 - forget
        runtime_check.forget_model_class(namespace["Captioner"])
    from runtime_check.sites import is_excluded, known_classes

    assert namespace["DualEncoder"] not in dict(known_classes())
    assert not is_excluded(namespace["Captioner"])
