"""The engine's abstract states, checked directly on small programs."""

from __future__ import annotations

import libcst as cst
import pytest

from clip_lint.engine import Analyzer, einsum_contracts_last
from clip_lint.project.checking import analyze_source
from clip_lint.engine.values import BOTTOM, UNKNOWN, Kind, Value, merge


def states(source: str) -> dict:
    analyzer = Analyzer(cst.parse_module(source))
    analyzer.run()
    return analyzer.module_frame.env


def kind_of(source: str, name: str) -> Kind:
    return states(source)[name].kind


def codes(source: str) -> list:
    return [f.code for f in analyze_source(source)]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = model.encode_image(i)", Kind.RAW),
        ("x = model.encode_text(t, normalize=True)", Kind.UNIT),
        ("x = model.encode_image(i); x = x / x.norm(dim=-1, keepdim=True)", Kind.UNIT),
        ("x = model.encode_image(i); x /= x.norm(p=2, dim=1, keepdim=True)", Kind.UNIT),
        ("x = F.normalize(model.encode_image(i), dim=-1)", Kind.UNIT),
        ("x = F.normalize(model.encode_image(i))", Kind.UNIT),
        ("x = model.encode_image(i); faiss.normalize_L2(x)", Kind.UNIT),
        ("x = model.encode_image(i); x = x / x.norm(dim=0, keepdim=True)", Kind.REPORTED),
        ("x = model.encode_image(i); x = x / x.norm(dim=-1)", Kind.REPORTED),
        ("x = F.normalize(model.encode_text(t)).mean(dim=0)", Kind.POOLED),
        ("x = model.encode_text(t).mean(dim=0)", Kind.RAW),
        ("x = model.encode_text(t).sum(dim=-1)", Kind.UNKNOWN),
        ("x = 100.0 * model.encode_image(i)", Kind.RAW),
        ("x = model.get_image_features(**inputs).pooler_output", Kind.RAW),
        ("x = model.encode_image(i); y = x / torch.sqrt((x ** 2).sum(dim=-1, keepdim=True))", Kind.RAW),
        ("x = my_l2_norm(model.encode_image(i))", Kind.UNIT),
        ("x = some_function(model.encode_image(i))", Kind.UNKNOWN),
        ("x = model(pixel_values=p).image_embeds", Kind.UNKNOWN),
    ],
)
def test_final_state(source: str, expected: Kind) -> None:
    assert kind_of(source, "x") is expected


def test_spelled_out_norm_normalizes() -> None:
    env = states("x = model.encode_image(i)\ny = x / torch.sqrt((x ** 2).sum(dim=-1, keepdim=True))")
    assert env["y"].kind is Kind.UNIT


@pytest.mark.parametrize(
    "chain",
    [".float()", ".half().float()", ".cpu().numpy()", ".T", ".t()", ".detach().clone()", ".to(device)"],
)
def test_passthrough_chains_keep_raw_and_rank(chain: str) -> None:
    value = states(f"x = model.encode_image(i){chain}")["x"]
    assert value.kind is Kind.RAW and value.rank == 2


def test_rank_follows_indexing_and_reduction() -> None:
    env = states(
        "a = model.encode_image(i)[0]\n"
        "b = model.encode_image(i).mean(dim=0)\n"
        "c = torch.stack([model.encode_text(t) for t in prompts])\n"
        "d = model.encode_image(i)[None]\n"
    )
    assert (env["a"].rank, env["b"].rank, env["c"].rank, env["d"].rank) == (1, 1, 3, 3)


def test_no_axis_norm_is_right_for_a_single_vector_and_wrong_for_a_batch() -> None:
    assert codes("v = model.encode_image(i)[0]\nv = v / v.norm()\ns = v @ w") == []
    assert codes("v = model.encode_image(i)\nv = v / v.norm()\ns = v @ w.T") == ["CLN002"]


def test_numpy_conversion_sets_the_library() -> None:
    assert states("x = model.encode_image(i).cpu().numpy()")["x"].library == "numpy"


def test_containers_filled_in_loops_carry_the_element_state() -> None:
    env = states(
        "feats = []\n"
        "for batch in loader:\n"
        "    feats.append(model.encode_image(batch))\n"
        "all_feats = torch.cat(feats)\n"
    )
    assert env["feats"].kind is Kind.CONTAINER and env["all_feats"].kind is Kind.RAW


def test_branches_that_disagree_merge_to_either_which_is_silent() -> None:
    source = "x = model.encode_image(i)\nif flag:\n    x = x / x.norm(dim=-1, keepdim=True)\n"
    assert states(source)["x"].kind is Kind.EITHER
    assert codes(source + "s = x @ x.T\n") == []


def test_a_normalization_after_disagreeing_branches_normalizes_every_path() -> None:
    source = "x = model.encode_image(i)\nif flag:\n    x = x / x.norm(dim=-1, keepdim=True)\nx = F.normalize(x, dim=-1)\n"
    assert states(source)["x"].kind is Kind.UNIT


def test_branches_that_agree_keep_the_state() -> None:
    env = states("if flag:\n    x = model.encode_image(i)\nelse:\n    x = model.encode_image(j)\n")
    assert env["x"].kind is Kind.RAW


def test_function_summaries() -> None:
    env = states(
        "def embed(m, i):\n    return m.encode_image(i)\n"
        "def unit(v):\n    return v / v.norm(dim=-1, keepdim=True)\n"
        "a = embed(model, images)\n"
        "b = unit(a)\n"
    )
    assert env["a"].kind is Kind.RAW and env["b"].kind is Kind.UNIT


def test_helper_that_compares_is_reported_at_the_call() -> None:
    source = (
        "def similarity(a, b):\n    return a @ b.T\n"
        "img = model.encode_image(i)\n"
        "txt = F.normalize(model.encode_text(t), dim=-1)\n"
        "s = similarity(img, txt)\n"
    )
    (finding,) = analyze_source(source)
    assert (finding.code, finding.line) == ("CLN001", 5)
    assert "similarity()" in finding.message


def test_self_attribute_flows_between_methods() -> None:
    source = (
        "class Classifier:\n"
        "    def __init__(self, model, tokens):\n"
        "        self.text_features = model.encode_text(tokens)\n"
        "    def __call__(self, images):\n"
        "        return self.model.encode_image(images, normalize=True) @ self.text_features.T\n"
    )
    assert [(f.code, f.line) for f in analyze_source(source)] == [("CLN001", 5)]


def test_parameter_operand_is_a_linear_head() -> None:
    source = (
        "class Head(nn.Module):\n"
        "    def __init__(self):\n"
        "        self.proj = nn.Parameter(torch.randn(512, 10))\n"
        "    def forward(self, images):\n"
        "        return self.model.encode_image(images) @ self.proj\n"
    )
    assert analyze_source(source) == []


def test_one_bug_one_finding() -> None:
    source = "x = model.encode_image(i)\nx = x / x.norm(dim=0, keepdim=True)\ns = x @ x.T\n"
    assert codes(source) == ["CLN002"]


@pytest.mark.parametrize(
    "equation, expected",
    [("bd,nd->bn", [True, True]), ("bd,bd->bd", [False, False]), ("bd,nd", [True, True]), ("ij,j->i", [True, True])],
)
def test_einsum_contraction(equation: str, expected: list) -> None:
    assert einsum_contracts_last(equation) == expected


def test_merge_lattice() -> None:
    raw = Value(Kind.RAW, rank=2)
    unit = Value(Kind.UNIT, rank=2)
    assert merge(BOTTOM, raw) is raw and merge(raw, BOTTOM) is raw
    assert merge(raw, unit).kind is Kind.EITHER and merge(unit, raw).kind is Kind.EITHER
    assert merge(raw, UNKNOWN) == UNKNOWN
    assert merge(raw, raw.but(rank=1)).rank is None
    assert merge(raw, Value(Kind.REPORTED)).kind is Kind.REPORTED


def test_gate_skips_files_without_encoder_words() -> None:
    assert analyze_source("x = a @ b\n") == []
    assert analyze_source("def broken(:\n") == []  # gated out before parsing


def test_code_too_deep_to_analyse_is_one_cln900_finding() -> None:
    # ast (and so flake8) accepts a 1,200-term sum; the analysis must not leak a RecursionError.
    source = "x = model.encode_image(i)\ny = " + " + ".join(["x"] * 1200) + "\ns = y @ w\n"
    import ast

    ast.parse(source)
    findings = analyze_source(source)
    assert [f.code for f in findings] == ["CLN900"]
    assert "could not analyse" in findings[0].message


def test_a_syntax_error_is_one_cln900_finding_with_pythons_reason_and_position() -> None:
    findings = analyze_source("x = model.encode_image(i)\nf(**{}, *a)\ns = x @ x.T\n")
    assert [(f.code, f.line, f.col) for f in findings] == [("CLN900", 2, 8)]
    assert "Python cannot parse it: iterable argument unpacking follows keyword argument unpacking" in (
        findings[0].message
    )


def test_a_nul_byte_is_reported_where_it_is_and_no_other_position_is_quoted() -> None:
    findings = analyze_source("import torch\nx = 1\0\n# encode_image @\n")
    assert [(f.code, f.line, f.col) for f in findings] == [("CLN900", 2, 5)]
    assert "libcst cannot parse it" in findings[0].message
    assert "error at" not in findings[0].message


def test_extra_encoders_and_normalizers() -> None:
    from clip_lint.options import AnalysisOptions

    options = AnalysisOptions(extra_encoders=("embed_images",), extra_normalizers=("unitize",))
    assert [f.code for f in analyze_source("x = m.embed_images(i)\ns = x @ x.T\n", options)] == ["CLN001"]
    assert analyze_source("x = unitize(m.embed_images(i))\ns = x @ x.T\n", options) == []


def test_stacking_along_dim_1_puts_features_on_axis_0() -> None:
    prefix = (
        "weights = []\n"
        "for tokens in prompts:\n"
        "    e = F.normalize(model.encode_text(tokens), dim=-1).mean(dim=0)\n"
        "    weights.append(e / e.norm())\n"
        "classifier = torch.stack(weights, dim=1)\n"
    )
    env = states(prefix)
    assert (env["classifier"].kind, env["classifier"].rank, env["classifier"].feature_axis) == (Kind.UNIT, 2, -2)
    assert codes(prefix + "c = classifier / classifier.norm(dim=0, keepdim=True)\n") == []
    assert codes(prefix + "c = classifier / classifier.norm(dim=-1, keepdim=True)\n") == ["CLN002"]


def test_fix_normalizes_along_the_feature_axis_of_the_bound_value() -> None:
    from clip_lint.sources.textedits import apply_edits

    source = (
        "prompts = F.normalize(model.encode_text(tokens), dim=-1)\n"
        "classifier = torch.stack([prompts.mean(dim=0), prompts.sum(dim=0)], dim=1)\n"
        "logits = image_features @ classifier\n"
    )
    (finding,) = analyze_source(source)
    assert finding.code == "CLN004"
    fixed = apply_edits(source, finding.fix.edits)
    assert "classifier = classifier / classifier.norm(dim=0, keepdim=True)" in fixed  # a [D, K] bank: dim=0
    assert analyze_source(fixed) == []


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("model.encode_image(i)[:, 0]", (Kind.UNKNOWN, None, -1)),
        ("model.encode_image(i).T", (Kind.RAW, 2, -2)),
        ("model.encode_image(i).t().t()", (Kind.RAW, 2, -1)),
        ("model.encode_image(i).transpose(0, 1)", (Kind.RAW, 2, -2)),
        ("model.encode_image(i).unsqueeze(1)", (Kind.RAW, 3, -1)),
        ("model.encode_image(i)[:, None]", (Kind.RAW, 3, -1)),
        ("model.encode_image(i)[None].mean(dim=1)", (Kind.RAW, 2, -1)),
    ],
)
def test_shapes_follow_indexing_and_transposes(expression: str, expected: tuple) -> None:
    value = states(f"x = {expression}")["x"]
    assert (value.kind, value.rank, value.feature_axis) == expected


@pytest.mark.parametrize(
    "normalization, code",
    [
        ("x / x.pow(2).sum(dim=0, keepdim=True).sqrt()", "CLN002"),
        ("x / x.pow(2).sum(dim=-1).sqrt()", "CLN003"),
        ("x / torch.linalg.vector_norm(x, dim=0, keepdim=True)", "CLN002"),
        ("F.normalize(x, dim=0)", "CLN002"),
        ("x / np.linalg.norm(x, axis=1)", "CLN003"),
    ],
)
def test_axis_fixes_make_the_code_clean(normalization: str, code: str) -> None:
    from clip_lint.sources.textedits import apply_edits

    source = f"x = model.encode_image(i)\nx = {normalization}\ns = x @ x.T\n"
    (finding,) = analyze_source(source)
    assert finding.code == code and finding.fix is not None
    assert analyze_source(apply_edits(source, finding.fix.edits)) == []
