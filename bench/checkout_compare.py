"""This checkout's ``clip-lint`` against another checkout's, on real trees. Run by hand.

    python bench/checkout_compare.py --baseline /path/to/other/checkout TREE [TREE ...]
        [--runs 5] [--jobs 1] [--flake8]

Each round runs both checkouts once per tree, alternating which goes first; it prints, per
tree, the medians of the CPU seconds (the command and every process it waited for) and of the
largest resident memory, the ratio of this checkout to the baseline, and whether the findings
of both are the same. Both run with ``--no-cache --exit-zero`` (with ``--flake8``: ``flake8
--select CLN --clip-no-cache`` instead), from the same Python, with ``PYTHONPATH`` set to the
checkout: compile both first (``python -m compileall -q clip_lint``) so that neither pays for it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent


def run(checkout: Path, tree: str, jobs: int, flake8: bool) -> Tuple[float, float, str]:
    """(CPU seconds, max RSS in MB, findings digest) of one run."""
    if flake8:
        command = [sys.executable, "-m", "flake8", "--select", "CLN", "--clip-no-cache", "-j", str(jobs), tree]
    else:
        command = [sys.executable, "-m", "clip_lint.cli", "--no-cache", "--exit-zero", "-j", str(jobs), tree]
    env = dict(os.environ, PYTHONPATH=str(checkout))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.DEVNULL, text=True, env=env, cwd=checkout)
        _, _, usage = os.wait4(process.pid, 0)  # this run's own usage, with the processes it waited for
        process.returncode = 0
        output.seek(0)
        lines = sorted(line for line in output.read().splitlines() if not line.startswith("Checked "))
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16] + f" ({len(lines)} lines)"
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--baseline", required=True, type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--flake8", action="store_true")
    args = parser.parse_args()
    checkouts = {"this": ROOT, "baseline": args.baseline.resolve()}
    print(f"machine: {os.cpu_count()} cores; this = {ROOT}, baseline = {checkouts['baseline']}")
    for tree in args.trees:
        samples: Dict[str, List[Tuple[float, float, str]]] = {name: [] for name in checkouts}
        for round_number in range(args.runs):
            order = list(checkouts) if round_number % 2 == 0 else list(reversed(checkouts))
            for name in order:
                samples[name].append(run(checkouts[name], tree, args.jobs, args.flake8))
        cpu = {name: statistics.median(s[0] for s in found) for name, found in samples.items()}
        rss = {name: statistics.median(s[1] for s in found) for name, found in samples.items()}
        digests = {name: {s[2] for s in found} for name, found in samples.items()}
        print(f"{tree}: medians of {args.runs} interleaved runs, -j {args.jobs}")
        for name in checkouts:
            print(f"  {name:9} CPU {cpu[name]:7.2f} s   max RSS {rss[name]:6.0f} MB   findings {sorted(digests[name])}")
        print(f"  this / baseline: CPU {cpu['this'] / cpu['baseline']:.2f}x; "
              f"findings {'the same' if digests['this'] == digests['baseline'] else 'DIFFER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
