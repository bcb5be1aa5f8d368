"""Rank changes: each row of the table in facts.py (and indexing, reductions, joins) gives the
rank, the feature axis and the size-1 axes that a no-axis norm is judged by."""

from __future__ import annotations

import libcst as cst
import pytest

from clip_lint.engine import Analyzer
from clip_lint.engine import shapes

BATCH = "x = model.encode_image(images)\n"  # [B, D]
ROW = "x = model.encode_image(images).mean(dim=0, keepdim=True)\n"  # [1, D]


def shape_of(source: str) -> tuple:
    analyzer = Analyzer(cst.parse_module("import numpy as np\nimport torch\n" + source))
    analyzer.run()
    value = analyzer.module_frame.env["y"]
    assert value.is_feature, source
    return value.rank, value.feature_axis, shapes.holds_one_vector(value.shape)


@pytest.mark.parametrize(
    "start, expression, expected",
    [
        (BATCH, "x", (2, -1, False)),
        (BATCH, "x.mean(dim=0, keepdim=True)", (2, -1, True)),
        (BATCH, "x.sum(0, keepdims=True)", (2, -1, True)),
        (BATCH, "torch.mean(x, dim=0, keepdim=True)", (2, -1, True)),
        (BATCH, "x.numpy().mean(axis=0, keepdims=True)", (2, -1, True)),
        (BATCH, "x.mean(dim=0)", (1, -1, True)),
        (BATCH, "x[0]", (1, -1, True)),
        (BATCH, "x[None]", (3, -1, False)),
        (BATCH, "x[:, None]", (3, -1, False)),
        (BATCH, "x[..., None]", (3, -2, False)),
        (BATCH, "x[np.newaxis]", (3, -1, False)),
        (BATCH, "x[:1]", (2, -1, True)),
        (BATCH, "x[-1:]", (2, -1, True)),
        (BATCH, "x[2:3].T", (2, -2, True)),
        (BATCH, "x[0][None]", (2, -1, True)),
        (BATCH, "x[0][:, None]", (2, -2, True)),
        (BATCH, "x[0].unsqueeze(0)", (2, -1, True)),
        (BATCH, "x[0].unsqueeze(-1)", (2, -2, True)),
        (BATCH, "torch.unsqueeze(x[0], 0)", (2, -1, True)),
        (BATCH, "np.expand_dims(x.numpy()[0], axis=0)", (2, -1, True)),
        (BATCH, "np.atleast_2d(x.numpy()[0])", (2, -1, True)),
        (BATCH, "x.unsqueeze(1)", (3, -1, False)),
        (BATCH, "x.squeeze(0)", (None, -1, False)),
        (ROW, "x.squeeze(0)", (1, -1, True)),
        (ROW, "x.squeeze()", (1, -1, True)),
        (ROW, "torch.squeeze(x, 0)", (1, -1, True)),
        (ROW, "x.expand(8, -1)", (2, -1, False)),
        (ROW, "x.expand(1, -1)", (2, -1, True)),
        (ROW, "x.expand(batch_size, 512)", (2, -1, False)),
        (ROW, "x.expand(4, 1, -1)", (3, -1, False)),
        (ROW, "x.repeat(3, 1)", (2, -1, False)),
        (ROW, "x.repeat(1, 1)", (2, -1, True)),
        (ROW, "x.numpy().tile((2, 1))", (2, -1, False)),
        (ROW, "np.tile(x.numpy(), (1, 1))", (2, -1, True)),
        (ROW, "torch.broadcast_to(x, (n, 512))", (2, -1, False)),
        (ROW, "x.view(1, -1)", (None, -1, False)),
        (ROW, "x.T", (2, -2, True)),
        (ROW, "torch.cat([x, x], dim=0)", (2, -1, False)),
        (ROW, "torch.stack([x[0], x[0]])", (2, -1, False)),
    ],
)
def test_rank_changes(start: str, expression: str, expected: tuple) -> None:
    assert shape_of(f"{start}y = {expression}\n") == expected


def test_a_mean_over_a_size_one_axis_of_unit_features_stays_unit() -> None:
    analyzer = Analyzer(cst.parse_module("x = F.normalize(model.encode_image(i), dim=-1)[:1]\ny = x.mean(dim=0)\n"))
    analyzer.run()
    assert analyzer.module_frame.env["y"].kind.value == "unit"
