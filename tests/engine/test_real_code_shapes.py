"""The shapes of real CLIP code (issue "Real CLIP code's shapes"): where values live, joins, the
project's own encoders, precision, and where and how one bug is reported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from clip_lint.engine import Analyzer
from clip_lint.engine.values import Kind
from clip_lint.project.checking import analyze_source
from clip_lint.sources.textedits import apply_edits

ROOT = Path(__file__).resolve().parents[2]


def analyzed(source: str) -> Analyzer:
    analyzer = Analyzer(cst.parse_module(textwrap.dedent(source)))
    analyzer.run()
    return analyzer


def found(source: str) -> list:
    return [(f.line, f.code) for f in analyze_source(textwrap.dedent(source))]


# --- the reproductions (../shared/repro/shapes/)

ATTRIBUTE_MODEL_CALLED = '''\
# A model held in an attribute and called directly is not a feature source: no finding at line 17.
# The same code with `self.tower.forward(...)`, or at module level, is reported.
import torch
from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection


class Search:
    def __init__(self, ckpt):
        self.tower = CLIPVisionModelWithProjection.from_pretrained(ckpt)
        self.words = CLIPTextModelWithProjection.from_pretrained(ckpt)

    @torch.no_grad()
    def scores(self, pixel_values, input_ids):
        pictures = self.tower(pixel_values=pixel_values).image_embeds
        captions = self.words(input_ids=input_ids).text_embeds
        captions = captions / captions.norm(dim=-1, keepdim=True)
        return pictures @ captions.T
'''

DIFFERENCE_CLN004 = '''\
# A deliberate difference of unit embeddings, cos(img, text) - cos(img, background), gets CLN004
# ("a mean or sum of normalized embeddings"), reported at the call on line 11. It is not a pooled mean:
# no finding expected.
import torch.nn.functional as F


def contrast(model, images, tokens, background_tokens):
    img = F.normalize(model.encode_image(images), dim=-1)
    text = F.normalize(model.encode_text(tokens), dim=-1)
    background = F.normalize(model.encode_text(background_tokens), dim=-1)
    return margin(img, text, background)


def margin(img, text, background):
    return img @ text.T - img @ background.T, img @ (text - background).T
'''


def test_repro_a_model_held_in_an_attribute_and_called_is_a_feature_source() -> None:
    (finding,) = analyze_source(ATTRIBUTE_MODEL_CALLED)
    assert (finding.line, finding.code) == (17, "CLN001")
    assert "'pictures' (from image_embeds, line 14)" in finding.message


def test_repro_a_difference_of_unit_embeddings_is_not_a_pooled_mean() -> None:
    assert analyze_source(DIFFERENCE_CLN004) == []


# --- values wherever they live


@pytest.mark.parametrize(
    "setup, use",
    [
        ("embed = model.encode_image", "embed(images)"),
        ("embed = lambda x: model.encode_image(x)", "embed(images)"),
        ("embed = functools.partial(model.encode_image)", "embed(images)"),
        ("embed = {'image': model.encode_image, 'text': model.encode_text}", "embed[kind](images)"),
        ("embed = [model.encode_image, model.encode_text]", "embed[0](images)"),
        ("embed = torch.compile(model.encode_image)", "embed(images)"),
        ("embed = CLIPVisionModelWithProjection.from_pretrained(c).eval()", "embed(**inputs).image_embeds"),
        ("embed = {'m': CLIPVisionModelWithProjection.from_pretrained(c)}", "embed['m'].forward(pixel_values=p).image_embeds"),
    ],
)
def test_what_a_callable_value_gives_is_followed(setup: str, use: str) -> None:
    source = f"import functools\nimport torch\n{setup}\nx = {use}\ns = x @ x.T\n"
    assert found(source) == [(5, "CLN001")]
    normalized = f"import functools\nimport torch\n{setup}\nx = {use}\nx = x / x.norm(dim=-1, keepdim=True)\ns = x @ x.T\n"
    assert found(normalized) == []


def test_a_partial_keyword_is_replaced_by_the_call_s_own() -> None:
    source = "f = functools.partial(model.encode_image, normalize=True)\nx = f(images, normalize=False)\ns = x @ x.T\n"
    assert found(source) == [(3, "CLN001")]
    source = "f = functools.partial(model.encode_image, normalize=False)\nx = f(images, normalize=True)\ns = x @ x.T\n"
    assert found(source) == []


def test_extra_positional_arguments_go_to_star_args_not_to_the_next_parameter() -> None:
    env = analyzed(
        """
        def pack(first, *rest, last=None):
            return rest
        packed = pack(1, model.encode_image(images), F.normalize(model.encode_text(t), dim=-1))
        first, second = packed
        """
    ).module_frame.env
    assert (env["first"].kind, env["second"].kind) == (Kind.RAW, Kind.UNIT)


def test_kwargs_are_handed_on_with_their_names() -> None:
    source = """
    def call(fn, *args, **kwargs):
        return fn(*args, **kwargs)
    a = call(model.encode_image, images, normalize=True)
    b = call(model.encode_text, tokens)
    s = a @ b.T
    """
    assert found(source) == [(6, "CLN001")]
    assert "'b' (from encode_text" in analyze_source(textwrap.dedent(source))[0].message


def test_one_of_several_classes_is_known_when_every_candidate_agrees() -> None:
    source = """
    class A:
        def encode_image(self, x):
            return self.head(x)
    class B:
        def encode_image(self, x):
            return {b_body}
    def build(name):
        return A() if name == "a" else B()
    f = build(kind).encode_image(images)
    s = f @ f.T
    """
    assert found(source.format(b_body="self.trunk(x)")) == [(11, "CLN001")]
    assert found(source.format(b_body="F.normalize(self.trunk(x), dim=-1)")) == []


# --- joins


@pytest.mark.parametrize(
    "guard, taken",
    [
        ("text.dim() == 3", True),
        ("text.ndim == 3", True),
        ("len(text.shape) == 3", True),
        ("len(text.size()) > 2", True),
        ("text.dim() == 2", False),
        ("not text.dim() == 3", False),
        ("text.ndim == 3 and use_mean", None),
    ],
)
def test_shape_guards_are_decided_when_the_rank_is_known(guard: str, taken: object) -> None:
    source = (
        "text = torch.stack([F.normalize(model.encode_text(p), dim=-1) for p in prompts])\n"
        f"if {guard}:\n"
        "    text = text.mean(dim=1)\n"
    )
    kind = analyzed(source).module_frame.env["text"].kind
    assert kind is {True: Kind.POOLED, False: Kind.UNIT, None: Kind.EITHER}[taken]


def test_a_module_global_constant_decides_nothing() -> None:
    source = "DEBUG = False\nx = model.encode_image(i)\nif DEBUG:\n    x = F.normalize(x, dim=-1)\n"
    assert analyzed(source).module_frame.env["x"].kind is Kind.EITHER


def test_a_loop_with_branches_then_an_in_place_normalization_is_unit_on_every_path() -> None:
    source = """
    rows = []
    for kind, batch in stream:
        if kind == "image":
            f = model.encode_image(batch)
        elif kind == "text":
            f = model.encode_text(batch)
        f /= f.norm(dim=-1, keepdim=True)
        rows.append(f)
    """
    assert analyzed(source).module_frame.env["rows"].parts[0].kind is Kind.UNIT


# --- the project's own encoders

RANKS = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, 8)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attn(x, x, x, need_weights=False)[0]
        return x + self.mlp(x)


class Tower(nn.Module):
    def __init__(self, width, layers):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 16, 16)
        self.blocks = nn.Sequential(*[Block(width) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, 512))

    def encode_image(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        x = self.blocks(x)
        return {tail}
"""


@pytest.mark.parametrize(
    "tail, rank",
    [
        ("self.ln_post(x[:, 0, :]) @ self.proj", 2),
        ("self.ln_post(x) @ self.proj", 3),
        ("self.ln_post(x[:, 1:]) @ self.proj", 3),
        ("self.ln_post(x[..., 0, :]) @ self.proj", 2),
        ("torch.cat([x[:, :1], x[:, 1:]], dim=1) @ self.proj", 3),
        ("x.mean(dim=1) @ self.proj", 2),
        ("x.flatten(1) @ self.proj", 2),
        ("self.unknown_head(x)", None),
        ("x[torch.arange(x.shape[0]), ids] @ self.proj", None),
        ("x.squeeze(1) @ self.proj", None),
    ],
)
def test_an_own_encoder_s_output_rank_is_read_from_its_body(tail: str, rank: object) -> None:
    analyzer = analyzed(RANKS.format(tail=tail))
    ref = analyzer.home.class_ref("Tower")
    assert analyzer.encoder_output_rank(ref, ref.info.methods["encode_image"]) == rank


def test_token_features_normalized_over_dim_1_is_cln002_and_unknown_rank_is_silent() -> None:
    call = "\nf = Tower(768, 12).encode_image(images)\nf = f / f.norm(dim=1, keepdim=True)\n"
    line = RANKS.count("\n") + 3
    assert found(RANKS.format(tail="self.ln_post(x) @ self.proj") + call) == [(line, "CLN002")]
    assert found(RANKS.format(tail="self.ln_post(x[:, 0]) @ self.proj") + call) == []
    assert found(RANKS.format(tail="self.unknown_head(x)") + call) == []


def test_an_own_encoder_is_judged_with_the_call_s_arguments_and_defaults() -> None:
    source = """
    class Encoder:
        def get_image_features(self, x, norm=True):
            f = self.backbone(x)
            if norm:
                f = F.normalize(f, dim=-1)
            return f
    e = Encoder()
    a = e.get_image_features(images)
    b = e.get_image_features(images, norm=False)
    c = e.get_image_features(images, False)
    """
    env = analyzed(source).module_frame.env
    assert (env["a"].kind, env["b"].kind, env["c"].kind) == (Kind.UNIT, Kind.RAW, Kind.RAW)


def test_an_own_encoder_unit_only_when_its_config_asks_is_silent() -> None:
    source = """
    class Text:
        def __init__(self, config):
            self.config = config
        def forward(self, ids):
            pooled = self.trunk(ids)[:, -1]
            if self.config.apply_l2norm:
                pooled = pooled * torch.rsqrt((pooled * pooled).sum(-1, keepdim=True) + 1e-6)
            return BaseModelOutputWithPooling(last_hidden_state=ids, pooler_output=pooled)
    class Clip:
        def __init__(self, config):
            self.text_model = Text(config)
        def get_text_features(self, ids):
            return self.text_model(ids)
    t = Clip(config).get_text_features(ids).pooler_output
    s = t @ t.T
    """
    assert analyzed(source).module_frame.env["t"].kind is Kind.EITHER
    assert found(source) == []


# --- precision


@pytest.mark.parametrize(
    "normalized",
    [
        "x / torch.clamp(x.norm(dim=-1, keepdim=True), min=1e-6)",
        "x / torch.clamp_min(x.norm(dim=-1, keepdim=True), 1e-6)",
        "x / torch.max(x.norm(dim=-1, keepdim=True), torch.tensor(1e-6))",
        "x / torch.maximum(x.norm(dim=-1, keepdim=True), eps)",
        "x / (x.norm(dim=-1, keepdim=True) + 1e-8)",
        "x * (1.0 / x.norm(dim=-1, keepdim=True))",
        "x * x.norm(dim=-1, keepdim=True).reciprocal()",
        "x * torch.reciprocal(x.norm(dim=-1, keepdim=True))",
        "x * torch.rsqrt((x ** 2).sum(-1, keepdim=True))",
        "x * (x * x).sum(dim=-1, keepdim=True).rsqrt()",
        "x * (x.pow(2).sum(-1, keepdim=True) + 1e-6) ** -0.5",
        "torch.mul(x, torch.rsqrt(x.square().sum(-1, keepdim=True)))",
        "x / torch.linalg.vector_norm(x, ord=2, dim=-1, keepdim=True)",
        "F.normalize(x, p=2, dim=-1, eps=1e-8)",
        "x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)",
    ],
)
def test_every_safe_or_inverse_normalization_is_one_and_its_fix_adds_nothing(normalized: str) -> None:
    source = f"x = model.encode_image(i)\nx = {normalized}\ns = x @ x.T\n"
    assert analyze_source(source) == []


@pytest.mark.parametrize(
    "normalized",
    [
        "x / torch.clamp(x.norm(dim=0, keepdim=True), min=1e-6)",
        "x * torch.rsqrt((x ** 2).sum(0, keepdim=True))",
        "x * (1.0 / x.norm(dim=0, keepdim=True))",
    ],
)
def test_a_guard_or_an_inverse_does_not_fix_a_wrong_axis(normalized: str) -> None:
    assert found(f"x = model.encode_image(i)\nx = {normalized}\ns = x @ x.T\n") == [(2, "CLN002")]


def test_a_fix_never_adds_a_second_normalization() -> None:
    """Fixing every fixture with a fix, then fixing again, changes nothing the second time, and
    the fixed code has no finding left that a fix could address."""
    for path in sorted((ROOT / "fixtures").glob("*_bad.py")):
        source = path.read_text()
        once = apply_all(source)
        assert apply_all(once) == once, path.name
        left = [f for f in analyze_source(once) if f.fix is not None and f.code in ("CLN001", "CLN004")]
        assert left == [], path.name


def apply_all(source: str) -> str:
    edits = [edit for finding in analyze_source(source) if finding.fix is not None and finding.fix.safe
             for edit in finding.fix.edits]
    unique = sorted(set(edits))
    for first, second in zip(unique, unique[1:]):
        if first.end > second.start:  # overlapping fixes: the fixer applies them in rounds
            return source
    return apply_edits(source, unique) if unique else source


# --- one bug, one finding, in the right place

HELPER = """\
import torch.nn.functional as F


def score(a, b):
    return a @ b.T{noqa}


def run(model, images, tokens, other):
    img = model.encode_image(images)
    txt = F.normalize(model.encode_text(tokens), dim=-1)
    first = score(img, txt)
    second = score(img, F.normalize(model.encode_text(other), dim=-1))
    return first, second


def main(model, images, tokens, other):
    return run(model, images, tokens, other)


def sim(a, b):
    return a @ b.T{noqa}


def producers(model, x, y, t):
    txt = F.normalize(model.encode_text(t), dim=-1)
    first = sim(model.encode_image(x), txt)
    return first, sim(model.encode_image(y), txt)
"""


def test_calls_sharing_a_producer_are_one_finding_at_the_first_call_and_never_repeat_up_the_chain() -> None:
    (at_call,) = [f for f in analyze_source(HELPER.format(noqa="")) if f.line < 20]
    assert (at_call.line, at_call.code) == (11, "CLN001")
    assert "in 'score()' at line 5 (also handed over by the call at line 12)" in at_call.message
    assert at_call.fix is not None


def test_calls_handing_different_producers_are_one_finding_at_the_helper() -> None:
    (at_helper,) = [f for f in analyze_source(HELPER.format(noqa="")) if f.line >= 20]
    assert (at_helper.line, at_helper.col, at_helper.code) == (21, 13, "CLN001")
    assert "in 'sim()' (raw features from the calls at lines 26 and 27)" in at_helper.message


def test_a_noqa_on_the_comparison_line_silences_every_finding_that_names_it(tmp_path: Path) -> None:
    source = HELPER.format(noqa="  # noqa: CLN001")
    assert [f.line for f in analyze_source(source)] == [21]  # at the noqa line itself: the front ends skip it
    (tmp_path / "helper.py").write_text(source)
    for command in (
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", "helper.py"],
        [sys.executable, "-m", "clip_lint.cli", "--no-cache", "helper.py"],
    ):
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        assert "CLN001" not in result.stdout, command


BLACK_LAYOUT = """\
import torch


def scores(model, images, tokens, scale):
    image_features = model.encode_image(images)
    text_features = model.encode_text(tokens, normalize=True)
    logits = (
        scale.exp()
        * image_features
        @ text_features.T  # noqa: CLN001
    )
    return logits @ (
        image_features
    ).T
"""


def test_a_finding_at_an_operator_is_reported_at_the_operator(tmp_path: Path) -> None:
    findings = analyze_source(BLACK_LAYOUT)
    assert [(f.line, f.col) for f in findings] == [(10, 8), (12, 18)]
    (tmp_path / "layout.py").write_text(BLACK_LAYOUT)
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", "layout.py"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.stdout.splitlines()[0].startswith("layout.py:12:19: CLN001"), result.stdout  # 10: its noqa


# --- words


def test_the_origin_follows_the_branch_the_call_takes() -> None:
    source = """
    class Fork:
        def forward(self, image=None, text=None):
            if text is None:
                return self.encode_image(image)
            if image is None:
                return self.encode_text(text)
            return self.encode_image(image), self.encode_text(text)
    m = Fork()
    f = m(images, None)
    s = f @ f.T
    """
    (finding,) = analyze_source(textwrap.dedent(source))
    assert "(from encode_image, line 5)" in finding.message


def test_the_fix_axis_follows_the_layout_of_a_bank_of_class_columns() -> None:
    source = (
        "weights = torch.stack([model.encode_text(p).mean(dim=0) for p in prompts], dim=1)\n"
        "logits = F.normalize(model.encode_image(i), dim=-1) @ weights\n"
    )
    (finding,) = analyze_source(source)
    assert "use F.normalize(weights, dim=0)" in finding.message
    assert "weights = weights / weights.norm(dim=0, keepdim=True)" in apply_edits(source, finding.fix.edits)


def test_a_transposed_operand_is_named_with_its_own_axis() -> None:
    source = "a = model.encode_image(i)\nb = model.encode_text(t)\ns = a @ b.T\n"
    (finding,) = analyze_source(source)
    assert "F.normalize(a, dim=-1) and F.normalize(b, dim=-1)" in finding.message


SLICER_DROPS_GLOBAL_INSTANCE = '''\
import open_clip
import torch


class Towers:
    def __init__(self):
        self.model, _, self.preprocess = open_clip.create_model_and_transforms("ViT-B-32")
        self.tokenizer = open_clip.get_tokenizer("ViT-B-32")

    def pictures(self, batch):
        with torch.no_grad():
            return self.model.encode_image(batch)

    def words(self, strings):
        with torch.no_grad():
            return self.model.encode_text(self.tokenizer(strings))


TOWERS = Towers()


def nearest(strings, batch):
    return (TOWERS.words(strings) @ TOWERS.pictures(batch).T).argmax(dim=1)
'''


def test_repro_the_slicer_keeps_code_that_reads_a_module_global_instance() -> None:
    sliced = analyze_source(SLICER_DROPS_GLOBAL_INSTANCE)
    whole = analyze_source(SLICER_DROPS_GLOBAL_INSTANCE, use_slicing=False)
    assert [(f.line, f.col, f.message) for f in sliced] == [(f.line, f.col, f.message) for f in whole]
    (finding,) = sliced
    assert (finding.line, finding.code) == (23, "CLN001")
    # each operand is named with its own axis, not with the axis of its transpose
    assert "F.normalize(TOWERS.pictures(batch), dim=-1)" in finding.message


def test_a_finding_from_another_module_names_the_operand_with_its_own_axis() -> None:
    """The helper compares ``queries @ self.features.T``: the message names ``self.features``,
    whose features are on its last axis, not the transpose's."""
    project = ROOT / "fixtures" / "projects" / "classes"
    result = subprocess.run(
        [sys.executable, "-m", "clip_lint.cli", "--no-cache", "app/service.py"],
        cwd=project, capture_output=True, text=True,
    )
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("app/service.py:12:")]
    assert "use F.normalize(self.features, dim=-1)" in line
