"""The ast pre-filter and the other speed-ups never change a finding; they only skip work."""

from __future__ import annotations

import ast
import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.checking import analyze_source
from clip_lint.options import AnalysisOptions
from clip_lint.prefilter.ast_filter import _Flows, may_report
from clip_lint.frontends.runner import Settings, check_bytes
from clip_lint.prefilter.speedups import OPTIMIZATIONS, VARIABLE

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
# setup.cfg configures this encoder for the fixture corpus (generic_custom_encoder_bad.py).
FIXTURE_OPTIONS = AnalysisOptions(extra_encoders=("embed_images",))


def fixture_paths() -> List[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".py", ".ipynb", ".md"))


def findings_of(path: Path) -> List[Tuple[object, ...]]:
    result = check_bytes(str(path), path.read_bytes(), Settings(FIXTURE_OPTIONS))
    return [(f.code, f.line, f.col, f.cell, f.message) for f in result.findings]


@pytest.mark.parametrize("switched_off", [*OPTIMIZATIONS, "all"])
def test_every_fixture_gives_the_same_findings_without_the_optimization(
    switched_off: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = fixture_paths()
    assert len(paths) > 150
    shipped = {path: findings_of(path) for path in paths}
    monkeypatch.setenv(VARIABLE, switched_off)
    without = {path: findings_of(path) for path in paths}
    if switched_off in ("gate", "all"):
        # Without the gate, a block or file that names no encoder is parsed too, and may report
        # CLN900 (speedups.py): the rules' findings are the same, and no CLN900 goes away.
        for path in paths:
            assert set(f for f in shipped[path] if f[0] == "CLN900") <= set(without[path]), path
            shipped[path] = [f for f in shipped[path] if f[0] != "CLN900"]
            without[path] = [f for f in without[path] if f[0] != "CLN900"]
    differing = [path.relative_to(ROOT) for path in paths if without[path] != shipped[path]]
    assert differing == []
    assert sum(map(bool, shipped.values())) > 80  # the comparison covers real findings


def test_the_prefilter_runs_without_error_on_every_fixture() -> None:
    for path in FIXTURES.rglob("*.py"):
        _Flows(ast.parse(path.read_text(encoding="utf-8")), FIXTURE_OPTIONS, frozenset()).may_report()


def kept(source: str, options: AnalysisOptions = AnalysisOptions()) -> bool:
    return may_report(ast.parse(textwrap.dedent(source)), options)


# Encoder output that never meets a similarity op or a norm: diffusers' IP-Adapter code.
PIPELINE = """
class Pipeline:
    def encode_image(self, image):
        image_embeds = self.image_encoder(image).image_embeds
        uncond = torch.zeros_like(image_embeds)
        return image_embeds, uncond

    def __call__(self, image, latents):
        image_embeds, uncond = self.encode_image(image)
        embeds = torch.cat([uncond, image_embeds])
        noise = self.unet(latents, added_cond_kwargs={"image_embeds": embeds})
        latents = latents / self.vae.config.scaling_factor
        return (noise * latents).sum()
"""


@pytest.mark.parametrize(
    "source",
    [
        PIPELINE,
        "x = model.encode_image(i)\ny = head(x)\ns = y @ y.T\n",  # an unknown call gives an unknown value
        "x = model.encode_image(i)\ns = x.shape[0] / 2\n",  # a size, not features
        "x = model.encode_image(i)\nscale = total / x.norm()\n",  # only the divisor carries features
        "x = model.encode_image(i)\nt = x.sum(dim=0)\n",  # a sum, but of no product
    ],
)
def test_modules_where_features_reach_nothing_are_dropped(source: str) -> None:
    assert not kept(source)


@pytest.mark.parametrize(
    "source",
    [
        # through a helper's parameters and return, and a sink inside a helper
        "def enc(m, i):\n    return m.encode_image(i)\nx = enc(model, images)\ns = x @ x.T\n",
        "def sim(a, b):\n    return a @ b.T\nx = model.encode_image(i)\ns = sim(x, x)\n",
        # lambdas run where they are called, and callables held as values give what they return
        "sim = lambda a, b: a @ b.T\nx = model.encode_image(i)\ns = sim(x, x)\n",
        "embed = model.encode_image\nx = embed(i)\ns = x @ x.T\n",
        "table = {'image': model.encode_image}\nx = table[kind](i)\ns = x @ x.T\n",
        "def sim(a, b=None):\n    return a @ a.T\nx = model.encode_image(i)\ns = sim(b=None, a=x)\n",
        # a method called on self: its first parameter is the receiver
        "class R:\n    def sim(self, a):\n        return a @ a.T\n"
        "    def run(self, i):\n        return self.sim(self.model.encode_image(i))\n",
        # self attributes set in one method and compared in another
        "class R:\n    def load(self, i):\n        self.feats = self.model.encode_image(i)\n"
        "    def score(self):\n        return self.feats @ self.feats.T\n",
        # lists, tuples, comprehensions and loops
        "xs = []\nxs.append(model.encode_image(i))\ns = torch.stack(xs) @ w\n",
        "xs = [None]\nxs[0] = model.encode_image(i)\ns = xs[0] @ w\n",
        "a, b = model.encode_image(i), 1\ns = a @ a.T\n",
        "xs = [model.encode_image(i) for i in batches]\nfor x in xs:\n    s = x @ w\n",
        # normalizations: by an import alias, by division, the sum of squares
        "from torch.nn.functional import normalize as l2n\nx = l2n(model.encode_image(i), dim=0)\n",
        "x = model.encode_image(i)\nx = x / x.norm(dim=0, keepdim=True)\n",
        "x = model.encode_image(i)\nn = (x ** 2).sum(0, keepdim=True).sqrt()\nx = x / n\n",
        "x = model.encode_image(i)\ny = model.encode_text(t)\ns = (x * y).sum(-1)\n",
        # a projection model's raw embeddings, and a pooled mean of unit features
        "vision = CLIPVisionModelWithProjection.from_pretrained(n)\ne = vision(**inputs).image_embeds\ns = e @ e.T\n",
        "x = my_norm(model.encode_text(t)).mean(dim=0)\ns = w @ x\n",
    ],
)
def test_every_flow_the_engine_follows_keeps_the_module(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert kept(source)
    monkeypatch.setenv(VARIABLE, "slicing")  # the engine's own reach, whatever the slicer keeps
    assert analyze_source(source) != []


def test_configured_names_count_as_encoders_and_normalizers() -> None:
    source = "x = unitize(m.embed_images(i))\ns = x.mean(0) @ x.T\n"
    assert not kept(source)
    options = AnalysisOptions(extra_encoders=("embed_images",), extra_normalizers=("unitize",))
    assert kept(source, options)
    assert [f.code for f in analyze_source(source, options)] == ["CLN004"]


def test_project_names_count_as_sources_and_sinks() -> None:
    assert not kept("x = load_features(i)\ns = x @ x.T\n")
    assert may_report(ast.parse("x = load_features(i)\ns = x @ x.T\n"), project_names=["load_features"])
    assert may_report(ast.parse("x = model.encode_image(i)\ncompare(x)\n"), project_names=["compare"])


# --- generated programs: the filter may only drop what has no finding -------------------------

VARIABLES = ["a", "b", "feats", "xs"]
STATEMENTS = [
    "{v} = model.encode_image(images)",
    "{v} = model.get_text_features(**tokens).pooler_output",
    "{v} = {w}.float()",
    "{v} = {w}.T",
    "{v} = {w} / {w}.norm(dim={d}, keepdim=True)",
    "{v} /= {w}.norm(dim=-1, keepdim=True)",
    "{v} = F.normalize({w}, dim={d})",
    "{v} = torch.cat([{w}, {u}])",
    "{v} = {w}.mean(dim=0)",
    "{v} = [{w}]",
    "{v} = []",
    "{v}.append({w})",
    "{v}[0] = {w}",
    "{v} = {w}[0]",
    "{v}, {u} = {w}, {u}",
    "{v} = unet({w})",
    "{v} = {w} / scale",
    "{v} = {w} * 2.0",
    "{v} = {w} @ {u}.T",
    "{v} = ({w} * {u}).sum(-1)",
    "{v} = torch.einsum('bd,nd->bn', {w}, {u})",
    "{v} = helper({w})",
    "{v} = unit({w})",
    "{v} = {w}.pow(2).sum(-1, keepdim=True).sqrt()",
    "self.cache = {w}",
    "{v} = self.cache",
    "{v} = self.compare({w}, {u})",
]
HELPERS = [
    "def helper(p):\n    return p",
    "def helper(p):\n    return p @ p.T",
    "def helper(p):\n    return p / p.norm(dim=-1, keepdim=True)",
    "def helper(p):\n    return unet(p)",
]


@st.composite
def flow_programs(draw: st.DrawFn) -> str:
    # Features first, a use last, and anything in between: most programs have a flow to follow.
    templates = [draw(st.sampled_from(STATEMENTS[:2]))]
    templates += draw(st.lists(st.sampled_from(STATEMENTS), max_size=7))
    templates.append(draw(st.sampled_from(STATEMENTS[4:8] + STATEMENTS[18:22])))
    lines = []
    for template in templates:
        v, w, u = (draw(st.sampled_from(VARIABLES)) for _ in range(3))
        lines.append(template.format(v=v, w=w, u=u, d=draw(st.sampled_from(["0", "-1"]))))
    body = textwrap.indent("\n".join(lines), " " * 8)
    return (
        "import torch\nimport torch.nn.functional as F\n"
        + draw(st.sampled_from(HELPERS))
        + "\n\n\nclass Runner:\n"
        + "    def compare(self, x, y):\n        return x @ y.T\n\n"
        + "    def run(self, model, images, tokens, scale):\n"
        + body
        + "\n"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_programs())
def test_the_prefilter_drops_only_programs_without_findings(source: str) -> None:
    shipped = analyze_source(source)
    os.environ[VARIABLE] = "prefilter"
    try:
        unfiltered = analyze_source(source)
    finally:
        del os.environ[VARIABLE]
    assert shipped == unfiltered, source
    if unfiltered:
        assert may_report(ast.parse(source))


# --- lazy imports -------------------------------------------------------------------------------

LIBCST_LOADED = "import sys; {run}; print('libcst' in sys.modules)"


def libcst_loaded(run: str, folder: Path) -> bool:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", LIBCST_LOADED.format(run=run)], cwd=folder, env=env,
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("front_end", ["command", "flake8"])
def test_a_run_with_nothing_to_analyse_never_imports_libcst(front_end: str, tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("x = 1\n")
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    if front_end == "command":
        run = "from clip_lint.frontends.cli import main; main(['-j', '1', '.'])"
    else:
        run = "from flake8.main.cli import main; main(['--select', 'CLN', '--jobs', '1', '.'])"
    assert not libcst_loaded(run, tmp_path)
    (tmp_path / "bug.py").write_text("x = model.encode_image(i)\ns = x @ x.T\n")
    if front_end == "flake8":
        assert libcst_loaded(run, tmp_path)
    else:  # the command analyses in worker processes (a crash there is one file's CLN900)
        report = subprocess.run(
            [sys.executable, "-c", run], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True, text=True,
        )
        assert "bug.py:2:7: CLN001" in report.stdout  # at the @


def test_the_host_keeps_its_garbage_collector_thresholds() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(500, 5, 5)
        assert [f.code for f in analyze_source("x = model.encode_image(i)\ns = x @ x.T\n")] == ["CLN001"]
        assert gc.get_threshold() == (500, 5, 5)
    finally:
        gc.set_threshold(*before)
