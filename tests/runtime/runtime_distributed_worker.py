"""One rank of a two-process contrastive step in open_clip's ClipLoss style (gloo, CPU).

Run by test_runtime_distributed.py through torch.multiprocessing; each rank writes its outcome as JSON.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
import transformers

import runtime_check


def _tiny_clip() -> transformers.CLIPModel:
    torch.manual_seed(0)  # every rank holds the same weights
    layer = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=99, max_position_embeddings=16, bos_token_id=0, eos_token_id=98, **layer),
        vision_config=dict(image_size=32, patch_size=8, **layer),
        projection_dim=24,
    )
    return transformers.CLIPModel(config)


def _gather(features: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """open_clip's gather_features without grad: remote shards are plain, the local one is ours."""
    gathered = [torch.zeros_like(features) for _ in range(world)]
    dist.all_gather(gathered, features.detach())
    gathered[rank] = features
    return torch.cat(gathered, dim=0)


def _step(model, rank: int, world: int, normalize: bool) -> float:
    generator = torch.Generator().manual_seed(rank)
    pixels = torch.randn(2, 3, 32, 32, generator=generator)
    ids = torch.randint(1, 97, (2, 16), generator=generator)
    ids[:, -1] = 98
    image = model.get_image_features(pixel_values=pixels).pooler_output
    text = model.get_text_features(input_ids=ids).pooler_output
    if normalize:
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    all_image, all_text = _gather(image, rank, world), _gather(text, rank, world)
    scale = model.logit_scale.exp()
    logits_per_image = scale * all_image @ all_text.T
    logits_per_text = logits_per_image.T
    labels = torch.arange(all_image.shape[0])
    loss = (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2
    loss.backward()
    return float(loss)


def _outcome(model, rank: int, world: int, normalize: bool) -> dict:
    try:
        with runtime_check.assert_mode():
            return {"loss": _step(model, rank, world, normalize)}
    except runtime_check.UnnormalizedFeaturesError as error:
        return {"error": str(error)}


def run_rank(rank: int, world: int, init_file: str, out_dir: str, buggy_rank: int) -> None:
    torch.set_num_threads(1)
    # a rank that dies must not leave the other waiting forever in a collective
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=60))
    try:
        model = _tiny_clip()
        correct = _outcome(model, rank, world, normalize=True)
        dist.barrier()
        buggy = _outcome(model, rank, world, normalize=rank != buggy_rank)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    result = {"correct": correct, "buggy": buggy}
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
