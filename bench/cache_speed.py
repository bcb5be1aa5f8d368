"""What the cache saves: flake8 with the plugin (no cache, cold, warm) against flake8 alone,
and the clip-lint command warm against cold, on real source trees. Run by hand.

    python bench/cache_speed.py [--runs 5] [--baseline CHECKOUT] [TREE ...]
                                                          (default: /work/corpora/{open_clip,lavis})

Get the trees with ``pip download --no-deps open_clip_torch==3.3.0 salesforce-lavis -d DL``
and unzip each into its own folder. flake8 runs single-process (``--jobs=1``), as the
issue's numbers do. "Cold" is an empty cache folder, so it includes writing every entry;
"warm" is a folder filled by an earlier run. Every cache folder is a temporary one: the
trees are never written to. Timings are medians of interleaved runs, ratios against a
baseline taken in the same run; each is given as wall time and as CPU time (user + system
of the run's processes), which a busy machine disturbs less. ``--baseline CHECKOUT`` adds that
checkout's plugin (by ``PYTHONPATH``), cold and warm, to the same interleaved rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lint_speed import RUNNER, python_files  # noqa: E402

DEFAULT_TREES = [Path("/work/corpora/open_clip"), Path("/work/corpora/lavis")]


def timed(command: Sequence[str], checkout: Optional[Path] = None) -> Tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (with ``checkout`` first on the path)."""
    env = None if checkout is None else dict(os.environ, PYTHONPATH=str(checkout))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(commands: Dict[str, Callable[[], Tuple[float, float]]], runs: int) -> Dict[str, Tuple[float, float]]:
    samples: Dict[str, List[Tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, run in commands.items():
            samples[name].append(run())
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in samples.items()
    }


def report(title: str, medians: Dict[str, Tuple[float, float]], baseline: str) -> None:
    wall0, cpu0 = medians[baseline]
    print(f"\n{title} (ratios against {baseline})")
    print(f"  {'':<40} {'wall':>8} {'ratio':>7}   {'cpu':>8} {'ratio':>7}")
    for name, (wall, cpu) in medians.items():
        print(f"  {name:<40} {wall:7.2f}s {wall / wall0:7.3f}   {cpu:7.2f}s {cpu / cpu0:7.3f}")


class Folders:
    """Fresh empty cache folders for cold runs, one warm folder filled once up front."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        folder = self.scratch / f"cold-{self.count}"
        shutil.rmtree(folder, ignore_errors=True)
        return str(folder)


def flake8_cache(tree: Path, runs: int, scratch: Path, baseline: Optional[Path] = None) -> None:
    common = ["--isolated", "--select", "E,F,W,CLN", "--jobs=1", str(tree)]
    folders = Folders(scratch / "flake8")
    warm = str(scratch / "flake8-warm")
    timed([*RUNNER, "--clip-cache-dir", warm, *common])
    commands: Dict[str, Callable[[], Tuple[float, float]]] = {
        "flake8 alone": lambda: timed([*RUNNER, "--without-clip-lint", *common]),
        "+ clip-lint, --clip-no-cache": lambda: timed([*RUNNER, "--clip-no-cache", *common]),
        "+ clip-lint, cold cache": lambda: timed([*RUNNER, "--clip-cache-dir", folders.fresh(), *common]),
        "+ clip-lint, warm cache": lambda: timed([*RUNNER, "--clip-cache-dir", warm, *common]),
    }
    if baseline is not None:
        base_warm = str(scratch / "flake8-baseline-warm")
        timed([*RUNNER, "--clip-cache-dir", base_warm, *common], baseline)
        commands["+ baseline's clip-lint, cold cache"] = lambda: timed(
            [*RUNNER, "--clip-cache-dir", folders.fresh(), *common], baseline
        )
        commands["+ baseline's clip-lint, warm cache"] = lambda: timed(
            [*RUNNER, "--clip-cache-dir", base_warm, *common], baseline
        )
    report(f"flake8 -j1 on {tree.name}", interleaved(commands, runs), "flake8 alone")


def clip_lint_cache(tree: Path, runs: int, scratch: Path, jobs: List[str]) -> None:
    command = shutil.which("clip-lint", path=str(Path(sys.executable).parent))
    if command is None:
        print("\nclip-lint command: not installed, skipped")
        return
    common = [*jobs, "--format", "json", "--exit-zero", str(tree)]
    folders = Folders(scratch / "clip-lint")
    warm = str(scratch / "clip-lint-warm")
    timed([command, "--cache-dir", warm, *common])
    commands: Dict[str, Callable[[], Tuple[float, float]]] = {
        "clip-lint cold cache": lambda: timed([command, "--cache-dir", folders.fresh(), *common]),
        "clip-lint --no-cache": lambda: timed([command, "--no-cache", *common]),
        "clip-lint warm cache": lambda: timed([command, "--cache-dir", warm, *common]),
    }
    label = " ".join(jobs) or "default -j"
    report(f"clip-lint {label} on {tree.name}", interleaved(commands, runs), "clip-lint cold cache")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="*", type=Path, default=DEFAULT_TREES)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout, timed in the same rounds (flake8 only)")
    args = parser.parse_args()
    for tree in args.trees:
        files = python_files([tree])
        lines = sum(file.read_bytes().count(b"\n") for file in files)
        print(f"\n{tree}: {len(files)} .py files, {lines} lines")
        with tempfile.TemporaryDirectory() as scratch:
            flake8_cache(tree, args.runs, Path(scratch), args.baseline)
            clip_lint_cache(tree, args.runs, Path(scratch), ["-j", "1"])
            clip_lint_cache(tree, args.runs, Path(scratch), [])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
