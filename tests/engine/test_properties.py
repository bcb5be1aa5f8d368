"""Hypothesis properties of the static engine over generated CLIP programs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.checking import analyze_source

ENCODERS = [
    "model.encode_image(images)",
    "model.encode_text(tokens)",
    "clip_model.get_image_features(pixel_values=pixels)",
    "clip_model.get_text_features(input_ids=ids).pooler_output",
    "self_model.encode_image(batch.to(device))",
]
PASSTHROUGH = [".float()", ".half()", ".to(device)", ".cpu()", ".cuda()", ".detach()", ".clone()", ".contiguous()"]
NORMALIZERS = [
    "{x} = {x} / {x}.norm(dim=-1, keepdim=True)",
    "{x} /= {x}.norm(dim=-1, keepdim=True)",
    "{x} = F.normalize({x}, dim=-1)",
    "{x} = torch.nn.functional.normalize({x}, p=2, dim=1)",
    "{x} = {x} / torch.linalg.vector_norm({x}, dim=-1, keepdim=True)",
    "{x} = {x} / {x}.norm(p=2, dim=-1, keepdim=True).clamp(min=1e-6)",
    "{x} = {x}.div({x}.norm(dim=-1, keepdim=True))",
]
SINKS = [
    "{a} @ {b}.T",
    "logit_scale * {a} @ {b}.t()",
    "torch.matmul({a}, {b}.T)",
    "{a}.mm({b}.t())",
    "torch.einsum('bd,nd->bn', {a}, {b})",
    "({a} * {b}).sum(dim=-1)",
    "100.0 * {a} @ {b}.T",
]
NAMES = st.sampled_from(["feats", "image_features", "text_features", "emb", "z", "query", "keys"])


@st.composite
def programs(draw: st.DrawFn, normalized: bool) -> tuple:
    names = draw(st.lists(NAMES, min_size=2, max_size=4, unique=True))
    lines = ["import torch", "import torch.nn.functional as F", "with torch.no_grad():"]
    for name in names:
        chain = "".join(draw(st.lists(st.sampled_from(PASSTHROUGH), max_size=3)))
        lines.append(f"    {name} = {draw(st.sampled_from(ENCODERS))}{chain}")
        if normalized:
            lines.append("    " + draw(st.sampled_from(NORMALIZERS)).format(x=name))
    sinks = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names), st.sampled_from(SINKS)),
                          min_size=1, max_size=4))
    for index, (a, b, template) in enumerate(sinks):
        if a == b and template.startswith("({a} * {b})"):
            template = "{a} @ {b}.T"  # x * x is a sum of squares, not a similarity
        lines.append(f"    sims_{index} = " + template.format(a=a, b=b))
    return "\n".join(lines) + "\n", len(sinks)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(programs(normalized=True))
def test_normalized_before_every_sink_gives_no_finding(program: tuple) -> None:
    source, _ = program
    assert analyze_source(source) == [], source


@SETTINGS
@given(programs(normalized=False))
def test_unnormalized_gives_exactly_one_finding_per_sink(program: tuple) -> None:
    source, sink_count = program
    findings = analyze_source(source)
    assert [f.code for f in findings] == ["CLN001"] * sink_count, source
    assert len({f.line for f in findings}) == sink_count


@SETTINGS
@given(
    st.sampled_from(ENCODERS),
    st.lists(st.sampled_from(PASSTHROUGH + [".T", ".t()", ".numpy()", " * 2.0", ".squeeze()"]), max_size=6),
    st.booleans(),
)
def test_passthrough_chains_keep_the_state(encoder: str, chain: list, normalize_first: bool) -> None:
    normalize = "\nx = x / x.norm(dim=-1, keepdim=True)" if normalize_first else ""
    source = f"x = {encoder}{normalize}\ny = x{''.join(chain)}\ns = y @ w\n"
    expected = [] if normalize_first else ["CLN001"]
    assert [f.code for f in analyze_source(source)] == expected, source
