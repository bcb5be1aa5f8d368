"""No speed-up changes a finding: the ``ast`` pre-filter and the slicer, each switched off in
turn (``CLIP_LINT_SPEEDUPS_OFF``), on every fixture project and on generated projects built from
the shapes real CLIP code has (classes, module-global instances, registries of callables, bound
methods, lambdas, partials, helpers in other modules). Every finding must be the same, to the
column and the message. The single-module fixtures are compared in ``test_prefilter.py``, with
the gate off too.

The gate is not switched off here: a module that names no encoder and compares nothing by its
text, but hands one project module's features to another module's comparison, is skipped by it
(a known limit, docs/project.md), and the generated projects build such modules on purpose.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.speedups import VARIABLE
from clip_lint.project.cache import NO_CACHE, check_source
from clip_lint.project.modules import new_run

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted(p for p in (ROOT / "fixtures" / "projects").iterdir() if p.is_dir())
SWITCHES = ("prefilter", "slicing", "prefilter,slicing")
OPTIONS = AnalysisOptions()
Findings = Dict[str, List[Tuple[object, ...]]]


def findings_of(project: Path, switched_off: str = "") -> Findings:
    """Every ``.py`` file's findings, checked as both front ends check it (no cache)."""
    saved = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = switched_off
    try:
        new_run()
        found = {}
        for path in sorted(project.rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            found[path.relative_to(project).as_posix()] = [
                (f.code, f.line, f.col, f.message) for f in check_source(str(path), source, OPTIONS, NO_CACHE)
            ]
        return found
    finally:
        if saved is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = saved
        new_run()


def assert_same(shipped: Findings, without: Findings, switched_off: str, label: str) -> None:
    for path in shipped:
        assert without[path] == shipped[path], f"{label}: {path} with {switched_off} off"


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_every_fixture_project_gives_the_same_findings_without_each_speedup(project: Path) -> None:
    shipped = findings_of(project)
    for switched_off in SWITCHES:
        assert_same(shipped, findings_of(project, switched_off), switched_off, project.name)


# --- generated projects ---------------------------------------------------------------------------

PRODUCERS = '''\
def pictures(model, images):
    return model.encode_image(images)


def words(model, tokens):
    return model.encode_text(tokens)


def unit_pictures(model, images):
    return F.normalize(model.encode_image(images), dim=-1)


class Towers:
    def __init__(self, model):
        self.model = model

    def images(self, images):
        return self.model.encode_image(images)

    def texts(self, tokens):
        return self.model.encode_text(tokens)


class DualEncoder(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, images, tokens):
        if tokens is None:
            return self.backbone.encode_image(images)
        return self.backbone.encode_text(tokens)


TOWERS = Towers(load_model())
DUAL = DualEncoder(load_model())
ENCODERS = {"image": pictures, "text": words}
EMBEDDERS = [pictures, words]
image_of = lambda model, images: model.encode_image(images)  # noqa: E731
'''
PRODUCER_NAMES = (
    "pictures", "words", "unit_pictures", "Towers", "DualEncoder", "TOWERS", "DUAL", "ENCODERS", "EMBEDDERS",
    "image_of",
)

COMPARERS = '''\
def similarity(a, b):
    return a @ b.T


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def agreement(a, b):
    return (a * b).sum(dim=-1)


class Ranker:
    def __init__(self, scale=100.0):
        self.scale = scale

    def rank(self, queries, gallery):
        return self.scale * queries @ gallery.T


RANKER = Ranker()
METRICS = {"dot": similarity, "agree": agreement}
'''
COMPARER_NAMES = ("similarity", "unit", "agreement", "Ranker", "RANKER", "METRICS")

#: How each operand's features are obtained: (image expression, text expression, setup lines);
#: {p} is where the producers are (``feats.`` when imported as a module).
FEATURES = {
    "function": ("{p}pictures(model, images)", "{p}words(model, tokens)", []),
    "unit function": ("{p}unit_pictures(model, images)", "{p}words(model, tokens)", []),
    "method": ("{p}Towers(model).images(images)", "{p}Towers(model).texts(tokens)", []),
    "global instance": ("{p}TOWERS.images(images)", "{p}TOWERS.texts(tokens)", []),
    "bound method": ("embed(images)", "describe(tokens)", ["embed = {p}TOWERS.images", "describe = {p}Towers(model).texts"]),
    "dict registry": ('{p}ENCODERS["image"](model, images)', "{p}ENCODERS[kind](model, tokens)", []),
    "list registry": ("{p}EMBEDDERS[0](model, images)", "{p}EMBEDDERS[1](model, tokens)", []),
    "lambda": ("{p}image_of(model, images)", "{p}words(model, tokens)", []),
    "partial": ("embed(images)", "{p}words(model, tokens)", ["embed = functools.partial({p}pictures, model)"]),
    "forward": ("{p}DualEncoder(model)(images, None)", "{p}DualEncoder(model)(None, tokens)", []),
    "global forward": ("{p}DUAL(images, None)", "{p}DUAL.forward(None, tokens)", []),
    "passed callable": ("apply({p}pictures, model, images)", "apply({p}words, model, tokens)", []),
    "direct": ("model.encode_image(images)", "model.encode_text(tokens)", []),
}
#: How an operand may be normalized before the comparison ({x}: the variable; {c}: where the comparers are).
NORMALIZATIONS = {
    "none": None,
    "division": "{x} = {x} / {x}.norm(dim=-1, keepdim=True)",
    "F.normalize": "{x} = F.normalize({x}, dim=-1)",
    "wrong axis": "{x} = {x} / {x}.norm(dim=0, keepdim=True)",
    "helper": "{x} = {c}unit({x})",
}
#: Where the two operands meet.
COMPARISONS = {
    "operator": "return 100.0 * a @ b.T",
    "helper": "return {c}similarity(a, b)",
    "object": "return {c}Ranker().rank(a, b)",
    "global object": "return {c}RANKER.rank(a, b)",
    "bound method": "rank = {c}RANKER.rank\nreturn rank(a, b)",
    "registry": 'return {c}METRICS["dot"](a, b)',
    "product sum": "return {c}agreement(a, b)",
    "passed helper": "return apply({c}similarity, a, b)",
    "partial": "return functools.partial({c}similarity, a)(b)",
    "local helper": "return score(a, b)",
    "local lambda": "return compare(a, b)",
    "local global instance": "return SCORER.score(a, b)",
    "matmul": "return torch.matmul(a, b.T)",
}
LOCAL_COMPARERS = '''\
def score(a, b):
    return a @ b.T


compare = lambda a, b: a @ b.T  # noqa: E731


class Scorer:
    def score(self, a, b):
        return a @ b.T


SCORER = Scorer()
'''
APPLY = "def apply(function, *args):\n    return function(*args)\n"
HEADER = "import functools\n\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def _chunks(text: str) -> Dict[str, str]:
    """The top-level statements of a block of definitions, by the name each binds."""
    chunks: Dict[str, str] = {}
    for part in text.strip().split("\n\n\n"):
        for statement in (part.split("\n") if part[:1].isupper() else [part]):  # globals, one a line
            name = re.match(r"(?:def |class )?(\w+)", statement).group(1)  # type: ignore[union-attr]
            chunks[name] = statement
    return chunks


def _needed(text: str, chunks: Dict[str, str], extra: List[str]) -> str:
    """The chunks ``text`` uses, and what they use in turn, in their order; with ``extra``."""
    wanted = (set(extra) | set(re.findall(r"\w+", text))) & set(chunks)
    grown = True
    while grown:
        more = {name for name in chunks if name not in wanted and any(
            re.search(rf"\b{name}\b", chunks[used]) for used in wanted)}
        wanted |= more
        grown = bool(more)
    return "\n\n\n".join(chunk for name, chunk in chunks.items() if name in wanted)


@st.composite
def projects(draw) -> Dict[str, str]:
    """A project of up to three modules: producers, comparers, and a caller that uses them,
    each group in its own module (imported by name or as a module) or in the caller's."""
    producers = draw(st.sampled_from(["here", "names", "module"]))
    comparers = draw(st.sampled_from(["here", "names", "module"]))
    where = {"p": "feats." if producers == "module" else "", "c": "ops." if comparers == "module" else ""}
    image, text, setup = FEATURES[draw(st.sampled_from(sorted(FEATURES)))]
    if draw(st.booleans()):  # the other operand from another shape
        _, text, more = FEATURES[draw(st.sampled_from(sorted(FEATURES)))]
        setup = setup + [line for line in more if line not in setup]
    body = [*setup, f"a = {image}", f"b = {text}"]
    for variable in ("a", "b"):
        normalization = NORMALIZATIONS[draw(st.sampled_from(sorted(NORMALIZATIONS)))]
        if normalization:
            body.append(normalization.format(x=variable, c="{c}"))
    comparison = COMPARISONS[draw(st.sampled_from(sorted(COMPARISONS)))]
    body += comparison.split("\n")
    body = [line.format(**where) for line in body]
    caller = draw(st.sampled_from(["function", "method of a global instance", "method"]))
    extra = draw(st.lists(st.sampled_from(PRODUCER_NAMES + COMPARER_NAMES), max_size=3))
    return project_files(producers, comparers, body, caller, extra)


def project_files(
    producers: str, comparers: str, body: List[str], caller: str, extra: Optional[List[str]] = None
) -> Dict[str, str]:
    """The files of a generated project. Definitions in the caller's module are only those the
    body uses (and ``extra``), so that no unrelated one lets the module through; ``None``: all."""
    files: Dict[str, str] = {"pyproject.toml": '[project]\nname = "generated"\n', "app/__init__.py": ""}
    main = [HEADER]
    for kind, module, text, names in (
        (producers, "feats", PRODUCERS, PRODUCER_NAMES), (comparers, "ops", COMPARERS, COMPARER_NAMES)
    ):
        if kind == "names":
            main.append(f"from app.{module} import {', '.join(names)}\n")
        elif kind == "module":
            main.append(f"from app import {module}\n")
        if kind != "here":
            files[f"app/{module}.py"] = HEADER + "\n\n" + text
    main.append("\n\n")
    code = "\n".join(body)
    for kind, text in ((producers, PRODUCERS), (comparers, COMPARERS)):
        if kind == "here":
            main.append((text if extra is None else _needed(code, _chunks(text), extra)) + "\n\n\n")
    if any(name in code for name in ("score(", "compare(", "SCORER")):
        main.append(LOCAL_COMPARERS + "\n\n")  # only when used: a caller that compares nothing itself
    if "apply(" in code:
        main.append(APPLY + "\n\n")
    main.append(_caller(caller, body))
    files["app/main.py"] = "".join(main)
    return files


def _caller(kind: str, body: List[str]) -> str:
    if kind == "function":
        return "def run(model, images, tokens, kind):\n" + "".join(f"    {line}\n" for line in body)
    lines = "".join(f"        {line}\n" for line in body)
    text = (
        "class Pipeline:\n    def __init__(self, model):\n        self.model = model\n\n"
        "    def run(self, images, tokens, kind):\n        model = self.model\n" + lines
    )
    if kind == "method of a global instance":
        text += (
            "\n\nPIPELINE = Pipeline(load_model())\n\n\n"
            "def main(images, tokens):\n    return PIPELINE.run(images, tokens, 'image')\n"
        )
    return text


def write(root: Path, files: Dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def check_generated(files: Dict[str, str]) -> Findings:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "generated"
        write(root, files)
        shipped = findings_of(root)
        for switched_off in SWITCHES:
            assert_same(shipped, findings_of(root, switched_off), switched_off, files["app/main.py"])
        return shipped


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=projects())
def test_generated_projects_give_the_same_findings_without_each_speedup(files: Dict[str, str]) -> None:
    check_generated(files)


@pytest.mark.nightly
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=projects())
def test_generated_projects_give_the_same_findings_without_each_speedup_at_length(files: Dict[str, str]) -> None:
    check_generated(files)


def test_the_generated_shapes_report_what_they_compare() -> None:
    """The comparison above is not vacuous: the generator's shapes do report, in the caller
    module, across modules, and through the shapes that speed-ups once dropped, where the caller
    names no encoder itself."""
    reported = 0
    cases = 0
    for producers, comparers in (("here", "here"), ("names", "names"), ("module", "module")):
        for shape in ("function", "global instance", "bound method", "dict registry", "partial", "forward"):
            where = {"p": "feats." if producers == "module" else "", "c": "ops." if comparers == "module" else ""}
            image, text, setup = FEATURES[shape]
            comparison = COMPARISONS["helper" if comparers == "here" else "operator"]
            body = [line.format(**where) for line in [*setup, f"a = {image}", f"b = {text}", comparison]]
            found = check_generated(project_files(producers, comparers, body, "method of a global instance"))
            cases += 1
            reported += any(f[0] == "CLN001" for f in found["app/main.py"])
    assert reported == cases


@pytest.mark.parametrize("comparers", ["names", "module"])
@pytest.mark.parametrize("comparison", ["object", "global object", "bound method"])
def test_objects_of_another_module_that_only_compare_report_with_and_without_speedups(
    comparers: str, comparison: str
) -> None:
    """An object of a comparing class of another module, built without features (or kept in
    a global there) and handed raw features here, reports in the caller, whatever is off."""
    where = {"p": "", "c": "ops." if comparers == "module" else ""}
    image, text, setup = FEATURES["direct"]
    lines = [*setup, f"a = {image}", f"b = {text}", *COMPARISONS[comparison].split("\n")]
    found = check_generated(project_files("here", comparers, [line.format(**where) for line in lines], "function"))
    assert [f[0] for f in found["app/main.py"]] == ["CLN001"]
