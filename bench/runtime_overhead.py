"""Overhead of runtime_check.guard() on a zero-shot classification step, guarded vs unguarded.

The step encodes a batch of images with a random-weight HF CLIPModel, normalizes the features,
takes logits against 1000 normalized text features and a softmax. Guarded and unguarded steps
are interleaved (ABBA) on the same model, and the ratio of the medians is printed per batch size,
for a normalization the checker recognizes (`x / x.norm(dim=-1, keepdim=True)`: no check runs)
and for one it settles numerically (transformers' pow/sum/pow idiom: the full check runs).

    python bench/runtime_overhead.py                  # CPU, and CUDA if present
    python bench/runtime_overhead.py --device cuda --repeats 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import runtime_check  # noqa: E402

# ViT-B/32 is the model of the measured facts; the CPU default is smaller so that batch 256 fits
# in a few minutes on two cores. Both are built from configs with random weights.
CONFIGS = {
    "vit-b-32": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                     image_size=224, patch_size=32, projection_dim=512),
    "small": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                  image_size=224, patch_size=32, projection_dim=512),
}
TEXT_CLASSES = 1000


@dataclass
class Result:
    device: str
    batch: int
    normalizer: str
    unguarded_ms: float
    guarded_ms: float

    unguarded_min_ms: float = 0.0
    guarded_min_ms: float = 0.0

    @property
    def ratio(self) -> float:
        return self.guarded_ms / self.unguarded_ms

    @property
    def min_ratio(self) -> float:
        return self.guarded_min_ms / self.unguarded_min_ms


def build_model(config_name: str, device: str, dtype: torch.dtype) -> transformers.CLIPModel:
    vision = dict(CONFIGS[config_name])
    projection = vision.pop("projection_dim")
    text = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=1, num_attention_heads=8)
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection)
    torch.manual_seed(0)
    return transformers.CLIPModel(config).eval().to(device=device, dtype=dtype)


def norm_division(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def pow_idiom(x: torch.Tensor) -> torch.Tensor:
    return x / x.pow(2).sum(dim=-1, keepdim=True).pow(0.5)


NORMALIZERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "x / x.norm() (recognized)": norm_division,
    "pow idiom (numeric check)": pow_idiom,
}


def zero_shot_step(model, pixels, text_features, normalize) -> torch.Tensor:
    with torch.no_grad():
        image = model.get_image_features(pixel_values=pixels).pooler_output
        logits = 100.0 * normalize(image) @ text_features.T
        return logits.softmax(dim=-1)


def timed(step: Callable[[], torch.Tensor], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1e3


def measure(model, device: str, batch: int, normalizer: str, repeats: int, warmup: int) -> Result:
    dtype = next(model.parameters()).dtype
    size = model.config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
    text = torch.nn.functional.normalize(
        torch.randn(TEXT_CLASSES, model.config.projection_dim, device=device, dtype=dtype), dim=-1)
    normalize = NORMALIZERS[normalizer]

    def step():
        return zero_shot_step(model, pixels, text, normalize)

    times = {"guarded": [], "unguarded": []}
    order = ["unguarded", "guarded", "guarded", "unguarded"]  # ABBA against drift
    for index in range(warmup + repeats):
        for variant in order:
            (runtime_check.guard if variant == "guarded" else runtime_check.unguard)(model)
            elapsed = timed(step, device)
            if index >= warmup:
                times[variant].append(elapsed)
    runtime_check.unguard(model)
    runtime_check.verify()  # the correct step must have left no violation behind
    return Result(device, batch, normalizer, statistics.median(times["unguarded"]),
                  statistics.median(times["guarded"]), min(times["unguarded"]), min(times["guarded"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--repeats", type=int, default=None, help="ABBA rounds per point")
    parser.add_argument("--config", choices=sorted(CONFIGS), default=None)
    parser.add_argument("--threads", type=int, default=None, help="CPU intra-op threads")
    args = parser.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"CPU threads {torch.get_num_threads()}")
    for device in devices:
        run_device(device, args)


def run_device(device: str, args: argparse.Namespace) -> None:
    config = args.config or ("vit-b-32" if device == "cuda" else "small")
    dtype = torch.float16 if device == "cuda" else torch.float32
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"\n{name}: HF CLIPModel {config}, {dtype}, {TEXT_CLASSES} text classes")
    model = build_model(config, device, dtype)
    for batch in args.batches:
        repeats = args.repeats or (50 if device == "cuda" else (20 if batch == 1 else 5))
        for normalizer in NORMALIZERS:
            result = measure(model, device, batch, normalizer, repeats, warmup=3 if device == "cpu" else 10)
            print(f"  batch {batch:4d}  {normalizer:28s} unguarded {result.unguarded_ms:9.3f} ms  "
                  f"guarded {result.guarded_ms:9.3f} ms  ratio {result.ratio:.4f}  "
                  f"(of minimums {result.min_ratio:.4f})",
                  flush=True)


if __name__ == "__main__":
    main()
