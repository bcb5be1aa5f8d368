"""Host-side cost of one deferred (CUDA-path) unit-norm check, measured on CPU tensors.

On a GPU the numeric path's overhead is host time: dispatching the check's small kernels and the
checker's Python bookkeeping. The same code runs here on small CPU tensors, with the deferred
path forced, so the time per call is mostly that host cost. Printed per scenario: microseconds
per call (median of runs of many calls, time.perf_counter) and the top-level aten ops one call
dispatches (torch.profiler).

    python bench/check_host_time.py                       # this tree
    git archive 2c61337 runtime_check | tar -x -C /tmp/old
    python bench/check_host_time.py --tree /tmp/old       # an older runtime_check, same scenarios

The scenario is bench/runtime_overhead.py's numeric path, `100.0 * pow_idiom(image) @ text.T`:
tracked features scaled by a python number, against untracked unit text features.
- "kernels": the measurement alone (this tree: row norms, extremes, fold into the ledger; older
  trees: their stats kernels and ledger record);
- "`@` guarded" minus "`@` plain": what the checked op costs more, everything included
  (dispatch through the subclass, operand analysis, frame walk, call site, bank gate, ledger).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable


def per_call_us(function: Callable[[], object], calls: int, runs: int) -> float:
    for _ in range(calls // 10):
        function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def aten_ops(function: Callable[[], object]) -> list[str]:
    from torch.profiler import ProfilerActivity, profile

    function()  # warm: the ledger's first use allocates it
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        function()
    return [event.name for event in profiler.events() if event.name.startswith("aten::") and event.cpu_parent is None]


def force_deferred_path(tracking, verdicts) -> None:
    """Make checks on CPU tensors take the CUDA path: no immediate verdict, fold into the ledger."""
    if hasattr(tracking, "IMMEDIATE_DEVICES"):
        tracking.IMMEDIATE_DEVICES.clear()
        return
    # trees before the extremes rewrite: CPU checks passed early and submitted to raise at once
    tracking.passes_now = lambda *args: False

    def submit(self, site, stats, strict):
        with self._lock:
            index = self._site_index.setdefault(site, len(self._sites))
            if index == len(self._sites):
                self._sites.append(site)
            ledger = self._ledgers.get(stats.device)
            if ledger is None:
                ledger = self._ledgers[stats.device] = verdicts._DeviceLedger(stats.device)
            ledger.record(index, stats)

    verdicts.Verdicts.submit = submit


def scenarios(rows: int, dim: int, classes: int) -> dict[str, Callable[[], object]]:
    import torch

    from runtime_check import provenance as provenances, tracking, verdicts
    from runtime_check.settings import CheckSettings

    extra = {"session": provenances.Session()} if hasattr(provenances, "Session") else {}
    provenance = provenances.Provenance("CLIPModel.get_image_features", "bench", CheckSettings(),
                                        ("get_image_features",), frozenset({"float32"}), scale=(("*", 100.0),),
                                        **extra)
    features = torch.randn(rows, dim)
    features = 100.0 * features / features.norm(dim=-1, keepdim=True)
    text = torch.nn.functional.normalize(torch.randn(classes, dim), dim=-1).T
    ledger = verdicts._DeviceLedger(features.device)
    tracked = tracking.track(features, provenance)

    if hasattr(verdicts, "extremes"):
        const = verdicts.constants(features.device)

        def kernels():
            with torch.no_grad():
                ledger.record(0, verdicts.extremes(verdicts.row_norms(features, (-1,)), provenance, const))
    else:
        def kernels():
            ledger.record(0, verdicts.unit_norm_stats(features, (-1,), provenance, 1e-3))

    return {"kernels": kernels, "`@` guarded": lambda: tracked @ text, "`@` plain": lambda: features @ text}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=16,
                        help="untracked text features (few: on CPU their norms would be real work)")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="folder holding the runtime_check package to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.tree))
    import torch

    from runtime_check import tracking, verdicts

    torch.set_num_threads(1)
    force_deferred_path(tracking, verdicts)
    print(f"runtime_check from {Path(tracking.__file__).parent}; torch {torch.__version__}, 1 CPU thread, "
          f"dim {args.dim}, {args.classes} text features")
    for rows in (1, 256):
        times = {}
        for name, function in scenarios(rows, args.dim, args.classes).items():
            ops = aten_ops(function)
            times[name] = micros = per_call_us(function, args.calls, args.runs)
            print(f"  batch {rows:4d}  {name:12s} {micros:7.1f} us per call  {len(ops):2d} aten ops: "
                  f"{', '.join(op.removeprefix('aten::') for op in ops)}", flush=True)
        print(f"  batch {rows:4d}  the check adds {times['`@` guarded'] - times['`@` plain']:.1f} us to `@`",
              flush=True)
    verdicts.VERDICTS.verify()  # the correct flow left no violation behind


if __name__ == "__main__":
    main()
