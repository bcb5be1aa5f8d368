"""The right cause for every failing operand, true norms, and axes followed through reshaping ops."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import runtime_check
from runtime_models import build_open_clip, images, tokens
from runtime_check.provenance import FeatureState
from runtime_check.tracking import provenance_of

HERE = Path(__file__).parent


def _model_and_features(batch: int = 2):
    model = runtime_check.guard(build_open_clip())
    with torch.no_grad():
        return model, model.encode_image(images(batch)), model.encode_text(tokens(3))


def test_every_failing_operand_is_reported_in_one_error_with_its_own_cause() -> None:
    _, image, text = _model_and_features(24)  # batch == feature dim: a missing keepdim broadcasts
    texts = text[torch.arange(24) % 3]
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        (image / image.norm(dim=0, keepdim=True)) @ (texts / texts.norm(dim=-1)).T  # noqa: CLN002 (deliberate)
    message = str(caught.value)
    assert message.startswith("left and right operands of `matmul` are not L2-normalized")
    left, right = message.split("  right operand (contracted dim -2):")
    assert "left operand (contracted dim -1):" in left and "CLN002: it was normalized along dim -2" in left
    assert "CLN003: it was divided by a norm taken without keepdim=True" in right
    assert message.count("fix:") == 1


def test_reported_norms_are_the_true_ones() -> None:
    _, _, text = _model_and_features()
    prompts = F.normalize(text, dim=-1)
    class_embedding = prompts.sum(dim=0) / prompts.shape[0]  # the mean, spelled out
    true_norm = class_embedding.as_subclass(torch.Tensor).norm().item()
    with pytest.raises(runtime_check.UnnormalizedFeaturesError) as caught:
        prompts @ class_embedding  # noqa: CLN004 (deliberate)
    message = str(caught.value)
    reported = float(re.search(r"worst row norm (\S+) \((\S+) with the scalar scale divided out\)", message).group(1))
    assert reported == pytest.approx(true_norm, rel=1e-5)
    assert "CLN004: it is the mean of unit vectors" in message


def test_the_recognized_unit_axis_survives_transposes_reshapes_stack_and_cat() -> None:
    _, image, _ = _model_and_features(4)
    unit = F.normalize(image, dim=-1)
    kept = {
        ".T.T": unit.T.T,
        ".t().t()": unit.t().t(),
        "transpose twice": unit.transpose(0, 1).transpose(1, 0),
        ".mT.mT": unit.mT.mT,
        "permute": unit.unsqueeze(0).permute(0, 1, 2),
        "reshape keeping the last dim": unit.reshape(2, 2, -1),
        "view then flatten": unit.view(2, 2, -1).flatten(0, 1),
        "unsqueeze(1)": unit.unsqueeze(1),
        "squeeze": unit.unsqueeze(0).squeeze(0),
        "stack dim=0": torch.stack([unit, unit]),
        "stack dim=1": torch.stack([unit, unit], dim=1),
        "cat dim=0": torch.cat([unit, unit]),
        "chunk rows": unit.chunk(2)[0],
        "unbind rows": unit.unbind(0)[1],
        "select a row": unit.select(0, 1),
        "index_select rows": unit.index_select(0, torch.tensor([0, 2])),
        "expand": unit[:1].expand(3, -1),
        "repeat rows": unit.repeat(2, 1),
    }
    for name, value in kept.items():
        provenance = provenance_of(value)
        assert provenance.state is FeatureState.UNIT, name
        position = value.ndim + provenance.unit_axis
        assert value.shape[position] == image.shape[-1], name
    lost = {
        "reshape across the feature dim": unit.reshape(-1),
        "cut the feature dim": unit.narrow(1, 0, 8),
        "chunk the feature dim": unit.chunk(2, dim=-1)[0],
        "stack after the feature dim": torch.stack([unit, unit], dim=-1),
        "cat along the feature dim": torch.cat([unit, unit], dim=-1),
    }
    for name, value in lost.items():
        assert provenance_of(value).state is FeatureState.RAW, name
    transposed = F.normalize(image, dim=0).T  # the attempt's axis moves with the transpose  # noqa: CLN002 (deliberate)
    assert provenance_of(transposed).normalized_axis == -1


def test_in_place_writes_after_normalizing_clear_the_unit_mark() -> None:
    _, image, text = _model_and_features()
    unit_text = F.normalize(text, dim=-1)
    for write in (lambda x: x.fill_(0.5), lambda x: x.zero_(), lambda x: x.add_(1.0), lambda x: x.sub_(0.1),
                  lambda x: x.copy_(torch.ones_like(x)), lambda x: x.__setitem__((slice(None), 0), 2.0),
                  lambda x: x.clamp_(max=0.01), lambda x: x.masked_fill_(x > 0, 0.3)):
        unit = F.normalize(image, dim=-1).clone()
        write(unit)
        assert provenance_of(unit).state is FeatureState.RAW
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="then changed by a later op|all zeros"):
            unit @ unit_text.T
    rescaled = F.normalize(image, dim=-1).clone()
    rescaled.mul_(3.0)  # a scale, tracked as one: the row is unit once it is divided out
    rescaled @ unit_text.T


USER_SCRIPT = """
import torch, torch.nn.functional as F, runtime_check
from runtime_models import build_open_clip, images, tokens
model = runtime_check.guard(build_open_clip())
with torch.no_grad():
    image = model.encode_image(images())  # ENCODER-LINE
    text = F.normalize(model.encode_text(tokens()), dim=-1)
try:
    image @ text.T  # SIMILARITY-LINE
except AssertionError as error:
    print(error)
"""


def test_user_code_in_folders_named_like_libraries_is_located(tmp_path: Path) -> None:
    """A clone of open_clip, a project folder called torch: the path is no proof of a library."""
    folders = ["open_clip", "transformers", "torch", "site-packages/clip"]
    scripts = [tmp_path / folder / "my_eval.py" for folder in folders]
    for script in scripts:
        script.parent.mkdir(parents=True)
        script.write_text(USER_SCRIPT)
    driver = tmp_path / "driver.py"  # one interpreter runs all four, as `python FILE` would
    driver.write_text(textwrap.dedent(f"""
        import runpy, sys
        sys.path.insert(0, {str(HERE)!r})
        for path in sys.argv[1:]:
            print("SCRIPT", path)
            runpy.run_path(path, run_name="__main__")
    """))
    output = subprocess.run([sys.executable, str(driver), *map(str, scripts)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300).stdout
    lines = USER_SCRIPT.splitlines()
    similarity = next(i for i, line in enumerate(lines, 1) if "SIMILARITY-LINE" in line)
    encoder = next(i for i, line in enumerate(lines, 1) if "ENCODER-LINE" in line)
    reports = output.split("SCRIPT ")[1:]
    assert len(reports) == len(scripts), output
    for script, report in zip(scripts, reports):
        assert f"  at {script}:{similarity}\n" in report, report
        assert f"called at {script}:{encoder}\n" in report, report
