"""Real CLIP code's shapes across the project's modules: factories in another module make their
callers' objects known, and one bug is reported once, wherever its pieces live."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.options import AnalysisOptions
from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = AnalysisOptions()


def write_project(folder: Path, files: Dict[str, str]) -> Path:
    (folder / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def project_findings(folder: Path) -> List[Tuple[str, int, str, str]]:
    """Every finding of every module of the project, each module checked as its own file."""
    project = Project(str(folder))
    found = []
    for path in sorted(folder.rglob("*.py")):
        result = analyze_file(str(path), path.read_text(), OPTIONS, project)
        found += [(path.relative_to(folder).as_posix(), f.line, f.code, f.message) for f in result.findings]
    return found


TOWER = """\
import torch
import torch.nn.functional as F
from torch import nn


class Tower(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = nn.Linear(width, 512)

    def encode_image(self, image):
        return self.proj(image)

    def forward(self, image):
        return self.encode_image(image)


class Twin(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.head = nn.Linear(width, 512)

    def encode_image(self, pixels):
        return self.head(pixels.flatten(1))

    def forward(self, image):
        return self.encode_image(image)


class Sphere(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.head = nn.Linear(width, 512)

    def encode_image(self, image):
        return F.normalize(self.head(image), dim=-1)

    def forward(self, image):
        return self.encode_image(image)
"""

FACTORY_CALLER = """\
import torch.nn.functional as F

from zoo.factory import make


def run(images, text_model, tokens, kind):
    model = make(768, kind)
    features = model(images)
    texts = F.normalize(text_model.encode_text(tokens), dim=-1)
    return features @ texts.T
"""


@pytest.mark.parametrize(
    "factory, known",
    [
        ("return Tower(width)", True),
        ("model = Tower(width)\n    if jit:\n        model = torch.jit.script(model)\n    return model.eval()", True),
        ("return build(width)\n\n\ndef build(width):\n    return Tower(width).to('cuda')", True),
        ("return Tower(width) if kind == 'a' else Twin(width)", True),
        ("return Imported(width)", True),  # a class re-exported by another module's __init__
        ("return models.Tower(width)", True),  # a class of a module imported whole
        ("return models.Sphere(width)", False),
        ("return Tower(width) if kind == 'a' else Sphere(width)", False),  # one candidate normalizes
        ("return Sphere(width)", False),
        ("return nn.Identity()", False),
    ],
)
def test_a_factory_in_another_module_makes_the_object_it_builds_known(tmp_path: Path, factory: str, known: bool) -> None:
    write_project(tmp_path, {
        "zoo/__init__.py": "",
        "zoo/models.py": TOWER,
        "zoo/reexport/__init__.py": "from zoo.models import Tower as Imported\n",
        "zoo/factory.py": (
            "import torch\nfrom torch import nn\n\nfrom zoo import models\nfrom zoo.models import Sphere, Tower, Twin\n"
            "from zoo.reexport import Imported\n\n\n"
            f"def make(width, kind, jit=False):\n    {factory}\n"
        ),
        "zoo/run.py": FACTORY_CALLER,
    })
    found = [(path, line, code) for path, line, code, _ in project_findings(tmp_path)]
    assert found == ([("zoo/run.py", 10, "CLN001")] if known else [])


def test_a_factory_s_model_whose_forward_gives_logits_is_not_features(tmp_path: Path) -> None:
    write_project(tmp_path, {
        "zoo/__init__.py": "",
        "zoo/models.py": TOWER + (
            "\n\nclass Classifier(nn.Module):\n"
            "    def __init__(self, width):\n        super().__init__()\n        self.tower = Tower(width)\n\n"
            "    def forward(self, image, text_features):\n"
            "        image_features = F.normalize(self.tower.encode_image(image), dim=-1)\n"
            "        return 100.0 * image_features @ text_features.T\n"
        ),
        "zoo/factory.py": "from zoo.models import Classifier\n\n\ndef make(width, kind):\n    return Classifier(width)\n",
        "zoo/run.py": FACTORY_CALLER.replace("model(images)", "model(images, F.normalize(texts, dim=-1))"),
    })
    assert project_findings(tmp_path) == []


# --- one bug, one finding, across modules

CHAIN = {
    "rank/__init__.py": "",
    "rank/ops.py": "def score(queries, keys):\n    return queries @ keys.T\n",
    "rank/pipeline.py": """\
        import torch.nn.functional as F

        from rank.ops import score


        def run(model, images, tokens):
            image_features = model.encode_image(images)
            text_features = F.normalize(model.encode_text(tokens), dim=-1)
            return score(image_features, text_features)


        def rank_given(image_features, model, tokens):
            return score(image_features, F.normalize(model.encode_text(tokens), dim=-1))
        """,
    "rank/main.py": """\
        import torch.nn.functional as F

        from rank.pipeline import rank_given, run


        def main(model, images, tokens):
            ranked = run(model, images, tokens)
            prompts = F.normalize(model.encode_text(tokens), dim=-1)
            return ranked, prompts @ prompts.T


        def handed(model, images, tokens):
            return rank_given(model.encode_image(images), model, tokens)
        """,
}


def test_a_finding_never_repeats_up_a_chain_of_modules(tmp_path: Path) -> None:
    """The helper compares in ops, the pipeline hands it raw features, main calls the pipeline:
    one finding, where the features are made. Features main makes and hands down are main's."""
    write_project(tmp_path, CHAIN)
    found = [(path, line, code) for path, line, code, _ in project_findings(tmp_path)]
    assert found == [("rank/main.py", 13, "CLN001"), ("rank/pipeline.py", 9, "CLN001")]


def test_a_model_handed_down_the_chain_keeps_its_finding_at_the_call(tmp_path: Path) -> None:
    """The pipeline alone can't tell that ``model(...)`` gives raw features: the caller that
    hands it the projection tower is where the finding is seen, so it stays there."""
    write_project(tmp_path, {
        "rank/__init__.py": "",
        "rank/pipeline.py": (
            "def near_duplicates(vision, pixel_values):\n"
            "    embeds = vision(pixel_values=pixel_values).image_embeds\n"
            "    return embeds @ embeds.T\n"
        ),
        "rank/main.py": (
            "from transformers import CLIPVisionModelWithProjection\n\nfrom rank.pipeline import near_duplicates\n\n\n"
            "def main(checkpoint, pixel_values, prompts):\n"
            "    vision = CLIPVisionModelWithProjection.from_pretrained(checkpoint)\n"
            "    return near_duplicates(vision, pixel_values), prompts @ prompts.T\n"
        ),
    })
    found = [(path, line, code) for path, line, code, _ in project_findings(tmp_path)]
    assert found == [("rank/main.py", 8, "CLN001")]


def test_calls_with_different_producers_name_the_helper_of_another_module_once(tmp_path: Path) -> None:
    write_project(tmp_path, {
        "rank/__init__.py": "",
        "rank/ops.py": CHAIN["rank/ops.py"],
        "rank/views.py": """\
            import torch.nn.functional as F

            from rank.ops import score


            def views(model, images, crops, tokens):
                texts = F.normalize(model.encode_text(tokens), dim=-1)
                return score(model.encode_image(images), texts), score(model.encode_image(crops), texts)


            def more(model, thumbnails, texts):
                return score(model.encode_image(thumbnails), texts)
            """,
    })
    ((path, line, code, message),) = project_findings(tmp_path)
    assert (path, line, code) == ("rank/views.py", 8, "CLN001")
    assert "in 'score()' at rank/ops.py:2 (raw features from this call and the calls at lines 8 and 12;" in message
    assert "the fix belongs in 'score()')" in message


def environment() -> Dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.parametrize("where", ["comparison", "call"])
def test_a_noqa_on_the_named_comparison_or_the_reported_line_silences_both_front_ends(
    tmp_path: Path, where: str
) -> None:
    files = dict(CHAIN)
    if where == "comparison":
        files["rank/ops.py"] = "def score(queries, keys):\n    return queries @ keys.T  # noqa: CLN001\n"
    else:
        files["rank/pipeline.py"] = CHAIN["rank/pipeline.py"].replace(
            "return score(image_features, text_features)", "return score(image_features, text_features)  # noqa: CLN001"
        )
    write_project(tmp_path, files)
    commands = [
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", "."],
        [sys.executable, "-m", "clip_lint.cli", "--no-cache", "--color", "never", "."],
    ]
    outputs = []
    for command in commands:
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=environment())
        assert "Traceback" not in result.stderr, result.stderr
        outputs.append(sorted(line.lstrip("./").split(" ")[0] for line in result.stdout.splitlines() if "CLN0" in line))
    # the noqa on score()'s comparison silences every finding that names it; the one on the
    # pipeline's call only that one (main's own call hands score() features of its own)
    assert outputs[0] == outputs[1] == ([] if where == "comparison" else ["rank/main.py:13:12:"])


# --- the property: where the pieces live never changes which bug is found

MODELS = TOWER + """

def make_tower(width, jit=False):
    model = Tower(width)
    if jit:
        model = torch.jit.script(model)
    return model
"""
HELPER = "\n\ndef score(queries, keys):\n    return queries @ keys.T\n"


def generated_project(factory_apart: bool, helper_apart: bool, normalized: bool, calls: int,
                      shared: bool, forward: bool, entry: bool) -> Dict[str, str]:
    """A project whose one bug (or none, when ``normalized``) is raw features from a factory's
    model handed to a comparing helper by ``calls`` calls, each piece in this module or another."""
    encode = "model({})" if forward else "model.encode_image({})"
    wrap = "F.normalize({}, dim=-1)" if normalized else "{}"
    lines = ["def run(batches, text_model, tokens, jit=False):",
             "    model = make_tower(768, jit=jit)",
             "    texts = F.normalize(text_model.encode_text(tokens), dim=-1)"]
    if shared:
        lines.append("    features = " + wrap.format(encode.format("batches[0]")))
    for number in range(calls):
        features = "features" if shared else wrap.format(encode.format(f"batches[{number}]"))
        lines.append(f"    first_{number} = score({features}, texts)")
    lines.append("    return texts")
    imports = ["import torch", "import torch.nn.functional as F", ""]
    imports.append("from app.models import make_tower" if factory_apart else "from app.models import Tower")
    if helper_apart:
        imports.append("from app.ops import score")
    body = "\n".join(imports) + "\n"
    if not factory_apart:
        body += "\n\n" + MODELS[MODELS.index("def make_tower"):]
    if not helper_apart:
        body += HELPER
    body += "\n\n" + "\n".join(lines) + "\n"
    files = {"app/__init__.py": "", "app/models.py": MODELS if factory_apart else TOWER, "app/pipeline.py": body}
    if helper_apart:
        files["app/ops.py"] = HELPER.lstrip()
    if entry:
        files["app/main.py"] = (
            "import torch.nn.functional as F\n\nfrom app.pipeline import run\n\n\n"
            "def main(batches, text_model, tokens):\n"
            "    texts = run(batches, text_model, tokens, jit=True)\n"
            "    prompts = F.normalize(text_model.encode_text(tokens), dim=-1)\n"
            "    return prompts @ texts.T\n"
        )
    return files


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    factory_apart=st.booleans(), helper_apart=st.booleans(), normalized=st.booleans(),
    calls=st.integers(1, 3), shared=st.booleans(), forward=st.booleans(), entry=st.booleans(),
)
def test_moving_a_factory_or_a_comparing_helper_never_changes_which_bug_is_found(
    factory_apart: bool, helper_apart: bool, normalized: bool, calls: int, shared: bool, forward: bool, entry: bool
) -> None:
    files = generated_project(factory_apart, helper_apart, normalized, calls, shared, forward, entry)
    with tempfile.TemporaryDirectory() as folder:
        found = project_findings(write_project(Path(folder), files))
    codes = Counter((path, code) for path, _, code, _ in found)
    assert codes == (Counter() if normalized else Counter({("app/pipeline.py", "CLN001"): 1})), found


@pytest.mark.parametrize("padding, known", [(0, True), (70, False)])
def test_a_library_sized_factory_is_not_followed(tmp_path: Path, padding: int, known: bool) -> None:
    """A factory of more than 60 statements is a budget's limit: its callers know nothing of it."""
    settings_lines = "".join(f"    option_{number} = kind\n" for number in range(padding))
    write_project(tmp_path, {
        "zoo/__init__.py": "",
        "zoo/models.py": TOWER,
        "zoo/factory.py": f"from zoo.models import Tower\n\n\ndef make(width, kind):\n{settings_lines}    return Tower(width)\n",
        "zoo/run.py": FACTORY_CALLER,
    })
    found = [(path, line, code) for path, line, code, _ in project_findings(tmp_path)]
    assert found == ([("zoo/run.py", 10, "CLN001")] if known else [])


WRAPPERS = [
    "{}.eval()", "{}.to('cuda')", "{}.half()", "{}.requires_grad_(False)", "torch.compile({})",
    "torch.jit.script({})", "nn.DataParallel({})", "nn.DataParallel({}).module",
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(WRAPPERS), max_size=3), st.booleans(), st.booleans())
def test_wrapping_a_factory_s_model_never_changes_the_finding(wrappers: List[str], in_branch: bool,
                                                              normalized: bool) -> None:
    """Any behaviour-keeping wrappers, applied in the factory (each behind a branch or not), keep
    the model what it is for the caller in another module."""
    lines = ["    model = Tower(width)"]
    for wrapper in wrappers:
        step = f"model = {wrapper.format('model')}"
        lines += ["    if jit:", f"        {step}"] if in_branch else [f"    {step}"]
    factory = "\n".join(lines) + "\n    return model\n"
    caller = FACTORY_CALLER.replace("features = model(images)", "features = F.normalize(model(images), dim=-1)")
    with tempfile.TemporaryDirectory() as folder:
        found = project_findings(write_project(Path(folder), {
            "zoo/__init__.py": "",
            "zoo/models.py": TOWER,
            "zoo/factory.py": (
                "import torch\nfrom torch import nn\n\nfrom zoo.models import Tower\n\n\n"
                f"def make(width, kind, jit=False):\n{factory}"
            ),
            "zoo/run.py": caller if normalized else FACTORY_CALLER,
        }))
    assert [(path, line, code) for path, line, code, _ in found] == ([] if normalized else [("zoo/run.py", 10, "CLN001")])
