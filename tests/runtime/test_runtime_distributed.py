"""assert_mode across process boundaries: a two-process gloo contrastive step, ClipLoss style."""

from __future__ import annotations

import json

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

import runtime_distributed_worker

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not built in")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> list[dict]:
    """Both ranks run a correct step, then a step where rank 1 forgets to normalize."""
    directory = tmp_path_factory.mktemp("dist")
    mp.start_processes(runtime_distributed_worker.run_rank, args=(2, str(directory / "init"), str(directory), 1),
                       nprocs=2, join=True, start_method="spawn")
    return [json.loads((directory / f"rank{rank}.json").read_text()) for rank in range(2)]


def test_correct_contrastive_step_passes_on_every_rank(outcomes) -> None:
    losses = [rank["correct"].get("loss") for rank in outcomes]
    assert all(isinstance(loss, float) for loss in losses), outcomes
    assert losses[0] == pytest.approx(losses[1])  # the same global batch on both ranks


def test_rank_that_skips_normalization_fails_locally(outcomes) -> None:
    error = outcomes[1]["buggy"].get("error", "")
    assert "operands of `matmul` are not L2-normalized" in error  # both sides raw on that rank
    assert "get_image_features" in error and "ops since: get_image_features -> cat" in error


def test_raw_rows_gathered_from_another_rank_are_caught_numerically(outcomes) -> None:
    """Rank 0 normalized its own features; the raw rows came from rank 1 through all_gather."""
    error = outcomes[0]["buggy"].get("error", "")
    assert "ops since: get_image_features -> F.normalize(dim=-1) -> cat" in error
    assert "2 of 4 row(s) off" in error
