"""How much clip-lint adds to flake8, and how fast the clip-lint command is. Run by hand.

    python bench/lint_speed.py [--runs 3] [--jobs 1] [--skip-site] [--skip-cli]

Corpora: the installed source of torch, transformers and open_clip (site-packages), and the
fixtures copied 50 times (every file passes the gate: the worst case). Every timing is the
median of interleaved runs; every ratio is against a baseline taken in the same run.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import libcst as cst

ROOT = Path(__file__).resolve().parent.parent
RUNNER = [sys.executable, str(ROOT / "bench" / "flake8_runner.py")]
PACKAGES = ("torch", "transformers", "open_clip")


def site_corpus() -> List[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    return [site / name for name in PACKAGES if (site / name).is_dir()]


def fixture_corpus(copies: int, into: Path) -> List[Path]:
    for index in range(copies):
        target = into / f"copy_{index:02d}"
        target.mkdir(parents=True)
        for source in (ROOT / "fixtures").glob("*.py"):
            shutil.copy(source, target / source.name)
    return [into]


def timed(command: Sequence[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def interleaved(commands: Dict[str, Callable[[], float]], runs: int) -> Dict[str, float]:
    samples: Dict[str, List[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, run in commands.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: Dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    for name, seconds in medians.items():
        print(f"  {name:<44} {seconds:8.2f} s   {seconds / medians[baseline]:6.3f}x {baseline}")


def flake8_overhead(paths: List[Path], runs: int, jobs: int, title: str) -> None:
    common = ["--isolated", "--select", "E,F,W,CLN", f"--jobs={jobs}", *map(str, paths)]
    medians = interleaved(
        {
            "flake8 alone (E,F,W)": lambda: timed([*RUNNER, "--without-clip-lint", *common]),
            "flake8 + clip-lint (E,F,W,CLN)": lambda: timed([*RUNNER, *common]),
        },
        runs,
    )
    report(title, medians, "flake8 alone (E,F,W)")


def python_files(paths: List[Path]) -> List[Path]:
    return [file for path in paths for file in sorted(path.rglob("*.py"))]


def engine_vs_parse(paths: List[Path], runs: int, title: str) -> None:
    """In-process: the analysis of gated files against libcst's bare parse of the same files."""
    from clip_lint.prefilter.gate import passes_gate
    from clip_lint.project.checking import analyze_source

    sources = []
    for file in python_files(paths):
        text = file.read_text(encoding="utf-8", errors="replace")
        if passes_gate(text):
            try:
                sources.append((text, ast.parse(text)))
            except (SyntaxError, ValueError, RecursionError):
                continue

    def bare_parse() -> float:
        start = time.perf_counter()
        for text, _ in sources:
            cst.parse_module(text)
        return time.perf_counter() - start

    def analysis() -> float:
        start = time.perf_counter()
        for text, tree in sources:
            analyze_source(text, tree=tree)
        return time.perf_counter() - start

    lines = sum(text.count("\n") for text, _ in sources)
    medians = interleaved(
        {"libcst parse only": bare_parse, "clip-lint analysis (gate+slice+parse+flow)": analysis}, runs
    )
    report(f"{title}: {len(sources)} gated files, {lines} lines", medians, "libcst parse only")


def cli_speed(paths: List[Path], runs: int) -> None:
    clip_lint = shutil.which("clip-lint", path=str(Path(sys.executable).parent))
    if clip_lint is None:
        print("\nclip-lint command: not installed, skipped")
        return
    targets = list(map(str, paths))
    commands: Dict[str, Callable[[], float]] = {
        "flake8 --select CLN (default jobs)": lambda: timed([*RUNNER, "--isolated", "--select", "CLN", *targets]),
        "clip-lint -j 1": lambda: timed([clip_lint, "-j", "1", "--format", "json", *targets]),
        "clip-lint (default -j)": lambda: timed([clip_lint, "--format", "json", *targets]),
    }
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff:
        commands["ruff check --select E9,F63"] = lambda: timed(
            [ruff, "check", "--no-cache", "--isolated", "--select", "E9,F63", "--exit-zero", *targets]
        )
    else:
        print("\nruff not installed (pip install ruff): its comparison is skipped")
    medians = interleaved(commands, runs)
    report("clip-lint command on the site-packages corpus", medians, "flake8 --select CLN (default jobs)")
    if ruff:
        report("  the same, against ruff", medians, "ruff check --select E9,F63")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="flake8 --jobs for the overhead runs")
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    site = site_corpus()
    files = python_files(site)
    print(f"site-packages corpus: {', '.join(p.name for p in site)}: {len(files)} .py files")
    with tempfile.TemporaryDirectory() as scratch:
        fixtures = fixture_corpus(args.copies, Path(scratch))
        engine_vs_parse(fixtures, args.runs, f"engine vs bare parse, fixtures x{args.copies}")
        flake8_overhead(fixtures, args.runs, args.jobs, f"flake8 overhead, fixtures x{args.copies} (worst case)")
        if not args.skip_site:
            engine_vs_parse(site, args.runs, "engine vs bare parse, site-packages")
            flake8_overhead(site, args.runs, args.jobs, "flake8 overhead, site-packages corpus")
            if not args.skip_cli:
                cli_speed(site, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
