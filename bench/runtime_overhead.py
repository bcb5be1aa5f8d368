"""Overhead of runtime_check.guard() on a zero-shot classification step, guarded vs unguarded.

The step encodes a batch of images with a random-weight HF CLIPModel, normalizes the features,
takes logits against 1000 normalized text features and a softmax. Guarded and unguarded steps
are interleaved (ABBA) on the same model, and the ratio of the medians is printed per batch size,
for a normalization the checker recognizes (`x / x.norm(dim=-1, keepdim=True)`: no check runs)
and for one it settles numerically (transformers' pow/sum/pow idiom: the full check runs).

    python bench/runtime_overhead.py                  # CPU, and CUDA if present
    python bench/runtime_overhead.py --device cuda --repeats 100
    git archive <commit> runtime_check | tar -x -C /tmp/before
    python bench/runtime_overhead.py --against /tmp/before   # also guarded by that runtime_check

With `--against`, a third variant is interleaved in the same process (U G A A G U): the model
guarded by another tree's runtime_check, loaded under another module name, so that a change is
timed before and after under the same load.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
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
    against_ms: float | None = None  # guarded by the --against tree
    against_min_ms: float | None = None

    @property
    def ratio(self) -> float:
        return self.guarded_ms / self.unguarded_ms

    @property
    def min_ratio(self) -> float:
        return self.guarded_min_ms / self.unguarded_min_ms

    def against_ratios(self) -> tuple[float, float]:
        return self.against_ms / self.unguarded_ms, self.against_min_ms / self.unguarded_min_ms


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


# `--clock cpu` reads this thread's CPU time instead of the wall clock: on a shared machine the
# other processes' load then stays out of the numbers. Valid on CPU with `--threads 1` only (the
# compute must run on the timing thread).
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
clock = CLOCKS["wall"]


def timed(step: Callable[[], torch.Tensor], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = clock()
    step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (clock() - start) * 1e3


def load_checker(tree: str) -> ModuleType:
    """Another checkout's runtime_check, imported as `runtime_check_against` (its imports are relative)."""
    package = Path(tree).resolve() / "runtime_check"
    spec = importlib.util.spec_from_file_location("runtime_check_against", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure(model, device: str, batch: int, normalizer: str, repeats: int, warmup: int,
            against: ModuleType | None = None) -> Result:
    dtype = next(model.parameters()).dtype
    size = model.config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
    text = torch.nn.functional.normalize(
        torch.randn(TEXT_CLASSES, model.config.projection_dim, device=device, dtype=dtype), dim=-1)
    normalize = NORMALIZERS[normalizer]

    def step():
        return zero_shot_step(model, pixels, text, normalize)

    checkers = {"unguarded": None, "guarded": runtime_check}
    if against is not None:
        checkers["against"] = against
    order = list(checkers) + list(reversed(checkers))  # ABBA (ABCCBA) against drift
    times: dict[str, list[float]] = {variant: [] for variant in checkers}
    current = None
    for index in range(warmup + repeats):
        for variant in order:
            if current is not None:
                current.unguard(model)
            current = checkers[variant]
            if current is not None:
                current.guard(model)
            elapsed = timed(step, device)
            if index >= warmup:
                times[variant].append(elapsed)
    for checker in checkers.values():
        if checker is not None:
            checker.unguard(model)
            checker.verify()  # the correct step must have left no violation behind
    result = Result(device, batch, normalizer, statistics.median(times["unguarded"]),
                    statistics.median(times["guarded"]), min(times["unguarded"]), min(times["guarded"]))
    if against is not None:
        result.against_ms, result.against_min_ms = statistics.median(times["against"]), min(times["against"])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--repeats", type=int, default=None, help="ABBA rounds per point")
    parser.add_argument("--config", choices=sorted(CONFIGS), default=None)
    parser.add_argument("--threads", type=int, default=None, help="CPU intra-op threads")
    parser.add_argument("--against", metavar="TREE", default=None,
                        help="also time the model guarded by TREE/runtime_check, interleaved")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="cpu: this thread's CPU time (with --device cpu --threads 1, on a busy machine)")
    args = parser.parse_args(argv)
    if args.clock == "cpu" and (args.device != "cpu" or args.threads != 1):
        parser.error("--clock cpu needs --device cpu --threads 1")
    global clock
    clock = CLOCKS[args.clock]
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"CPU threads {torch.get_num_threads()}, clock {args.clock}")
    for device in devices:
        run_device(device, args)


def run_device(device: str, args: argparse.Namespace) -> None:
    config = args.config or ("vit-b-32" if device == "cuda" else "small")
    dtype = torch.float16 if device == "cuda" else torch.float32
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"\n{name}: HF CLIPModel {config}, {dtype}, {TEXT_CLASSES} text classes")
    model = build_model(config, device, dtype)
    against = load_checker(args.against) if args.against else None
    for batch in args.batches:
        repeats = args.repeats or (50 if device == "cuda" else (20 if batch == 1 else 5))
        for normalizer in NORMALIZERS:
            result = measure(model, device, batch, normalizer, repeats, warmup=3 if device == "cpu" else 10,
                             against=against)
            print(f"  batch {batch:4d}  {normalizer:28s} unguarded {result.unguarded_ms:9.3f} ms  "
                  f"guarded {result.guarded_ms:9.3f} ms  ratio {result.ratio:.4f}  "
                  f"(of minimums {result.min_ratio:.4f})", flush=True)
            if against is not None:
                ratio, min_ratio = result.against_ratios()
                print(f"  {'':10s}  {'guarded by ' + args.against:28s} {'':25s}guarded {result.against_ms:9.3f} ms  "
                      f"ratio {ratio:.4f}  (of minimums {min_ratio:.4f})", flush=True)


if __name__ == "__main__":
    main()
