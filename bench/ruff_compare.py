"""clip-lint next to ruff, and flake8 with the plugin next to flake8 alone, on real trees. Run by hand.

    python bench/ruff_compare.py /work/corpora/open_clip /work/corpora/lavis [--runs 3] [--jobs 2]
        [--skip-flake8] [--skip-hashes]

For each tree it prints, from medians of interleaved runs (every command once per round, the
rounds repeated), the CPU seconds (user + sys of the command and every process it waited for)
and the wall seconds of:

- ``ruff check --no-cache --isolated`` (the baseline of clip-lint's ratios);
- ``clip-lint --exit-zero`` at ``-j 1`` and at ``-j N`` (``--no-cache`` where the command has it);
- ``flake8 --select E,F,W`` alone and with the plugin (``E,F,W,CLN``, ``--clip-no-cache``), at
  ``-j 1`` and ``-j N``. (Before November 2026's second round the plugin ran with its default
  cache, so its rows were warm-cache numbers after the first round.)

Each ratio is against a baseline taken in the same rounds. It also prints the largest resident
memory of any one process of each command (max RSS; a ``-j N`` run has N such processes) and the
machine's core count.

Speed must never change a finding. The bench hashes the findings of ``clip-lint`` (and of
``flake8 --select CLN``) as shipped, then again with each optimization turned off through
``CLIP_LINT_SPEEDUPS_OFF`` (see ``clip_lint/prefilter/speedups.py``), and says whether the hashes agree.

The funnel line shows where the files go: how many pass the substring gate, how many of those
the ``ast`` pre-filter (``clip_lint/prefilter/ast_filter.py``) proves can't hold a finding, how many the
slicer drops, and how many reach the libcst parse.

What profiles of ``clip-lint -j 1`` showed (November 2026, 2 shared cores; diffusers 0.42.1,
LAVIS 1.0.2 and open_clip 3.3.0 sdists, 1,107 / 143 / 42 ``.py``):

- Before the ``ast`` pre-filter, on diffusers: 163 files pass the substring gate (its IP-Adapter
  code says ``image_embeds`` and ``encode_image`` everywhere) and 77 survive the slicer. Of the
  10.5 s profiled, libcst parsing took 4.9 s, the flow analysis 4.1 s (large pipeline classes,
  methods inlined into each other), ``ast.parse`` 0.8 s, and reading, decoding and gating all
  files 0.3 s. None of the 77 holds a finding: the encoder outputs go to the UNet, never to a
  similarity op or a normalization.
- After it, the pre-filter keeps 5 of the 163 (none with a finding), and a 1.6 s run splits
  into: ``ast.parse`` of the gated files 0.6-0.9 s (now the largest part, and needed anyway: a
  gated file with a syntax error must still report CLN900), the pre-filter 0.35 s, importing
  libcst and the engine 0.17 s, Python and the command's own imports 0.1 s, reading, decoding
  and gating 0.08 s, and libcst parsing plus the engine on the 5 modules 0.12 s. The garbage
  collector's young-generation scans had cost about 15% on top (``speedups.fewer_collections``).
- On open_clip and LAVIS the run is mostly start-up: Python and the command's imports about
  0.1 s, libcst's import 0.15 s, against ruff's whole run of 0.05-0.08 s. Each tree holds a
  module that normalizes correctly before comparing (LAVIS's ``clip_models/model.py``, open_clip's
  ``model.py``), and libcst is needed to know that it is correct; the analysis itself takes
  0.05-0.08 s. open_clip also has a real finding (``tests/test_inference_simple.py``).
- With ``-j N``, workers are forked after the command's imports; libcst is imported by each
  worker that meets a module to analyse (open_clip: both workers, +0.09 s; LAVIS: one, and 0.04 s
  less than importing it in the parent before forking; diffusers: the same either way).

With the project layer on (cache off), profiles of ``clip-lint -j 1`` in one process showed
(later in November 2026, same machine):

- Before: open_clip 0.92 s, 13 files analysed with the project layer, 14 libcst parses of
  whole modules (0.39 s, five of them other modules followed for one definition each) and 122
  ``ast`` parses (0.26 s); on diffusers the gate alone took 20 s, 8.8 s of it parsing every
  module of each re-export chain (514 modules) to find the import that binds a name, and one
  process held every module's ``ast`` (749 MB).
- What changed: other modules are parsed one definition (or method) at a time
  (``LoadedModule.skeleton``/``definition``/``method``); re-exports are read from import lines;
  the gate asks only whether an import may hand features over (class field declarations no
  longer count), and modules handed only project code go through the ``ast`` pre-filter with
  that code as a sink and pass-through; ``ast`` trees live in a 16-module LRU.
- After: open_clip 0.47 s in one process (8 analyses, 0.19 s of them; importing libcst 0.12 s);
  LAVIS 0.58 s (5 analyses, 0.13 s); diffusers 36 s (171 analyses, 6 s; ``ast`` parses of the
  modules the gate must read, about 14 s; libcst parses 12 s), 190 MB.
- End of November 2026, diffusers in one process, timed per stage: 38.6 s at the start, of it
  libcst parses 13.1 s (171 checked modules, kept almost whole by the slicer, 10 s), ``ast``
  parses 12.3 s (the modules the gate reads, re-read after the LRU let them go, and each checked
  module), the gate's own work 4.9 s and the engine 4.7 s. Most modules got there for no reason
  of their own: 724 modules without an encoder word passed the gate's text test on a
  decorator's ``@``; a module that imports anything the gate says may hand features over
  skipped the pre-filter; and a class counted as handing features over when any class of its
  module had a ``forward`` (or an ``__init__``) that did, or when it tested
  ``isinstance(x, CLIPTextModel)``. With those fixed: 17.4 s (libcst 4.3 s for 53 analyses,
  ``ast`` 6.2 s, the gate 2.3 s, the engine 1.7 s). Growing the LRU to every module saves 5 s
  and costs 750 MB; 64 modules save nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLAKE8_RUNNER = [sys.executable, str(ROOT / "bench" / "flake8_runner.py")]
SPEEDUPS_VARIABLE = "CLIP_LINT_SPEEDUPS_OFF"


@dataclass
class Sample:
    cpu: float
    wall: float
    max_rss_mb: float


@dataclass
class Timings:
    samples: Dict[str, List[Sample]] = field(default_factory=dict)

    def add(self, name: str, sample: Sample) -> None:
        self.samples.setdefault(name, []).append(sample)

    def median(self, name: str, what: str) -> float:
        return statistics.median(getattr(sample, what) for sample in self.samples[name])


def run_measured(command: Sequence[str], env: Optional[Dict[str, str]] = None, stdout=subprocess.DEVNULL) -> Sample:
    """Run ``command``; its CPU seconds include every descendant it waited for (wait4's rusage)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env)
    # wait4 reaps the child; read stderr first so that a chatty command can't block on the pipe.
    error = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:5])} ... failed ({process.returncode}):\n{error.decode()[-2000:]}")
    return Sample(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)


def tool(name: str) -> Optional[str]:
    return shutil.which(name, path=str(BIN)) or shutil.which(name)


def clip_lint_command(jobs: int, tree: Path, *extra: str) -> List[str]:
    command = [tool("clip-lint") or "clip-lint", "--exit-zero", "-j", str(jobs), *extra]
    if "--no-cache" in subprocess.run(command[:1] + ["--help"], capture_output=True, text=True).stdout:
        command.append("--no-cache")  # the project layer's cache: the targets are cold runs
    return [*command, str(tree)]


def flake8_command(tree: Path, jobs: int, with_plugin: bool, select: str = "E,F,W") -> List[str]:
    codes = select + (",CLN" if with_plugin and "CLN" not in select else "")
    # The plugin's cache stays off, as the command's: every round is a cold run.
    flags = ["--clip-no-cache"] if with_plugin else ["--without-clip-lint"]
    return [*FLAKE8_RUNNER, *flags, "--isolated", "--exit-zero", f"--select={codes}", f"--jobs={jobs}", str(tree)]


def commands_for(tree: Path, jobs: Sequence[int], flake8: bool) -> Dict[str, List[str]]:
    ruff = tool("ruff")
    if ruff is None:
        raise SystemExit("ruff is not installed (pip install ruff)")
    commands = {"ruff check --no-cache --isolated": [ruff, "check", "--no-cache", "--isolated", "--exit-zero",
                                                     "--quiet", str(tree)]}
    for count in jobs:
        commands[f"clip-lint -j {count}"] = clip_lint_command(count, tree)
    if flake8:
        for count in jobs:
            commands[f"flake8 alone -j {count}"] = flake8_command(tree, count, with_plugin=False)
            commands[f"flake8 + clip-lint -j {count}"] = flake8_command(tree, count, with_plugin=True)
    return commands


def interleaved(commands: Dict[str, List[str]], runs: int) -> Timings:
    timings = Timings()
    run_measured(next(iter(commands.values())))  # a warm-up round for the disk cache, not counted
    for _ in range(runs):
        for name, command in commands.items():
            timings.add(name, run_measured(command))
    return timings


def print_timings(timings: Timings, baselines: Dict[str, str]) -> None:
    print(f"  {'command':<34} {'CPU s':>7} {'wall s':>7} {'max RSS':>9}   ratio (CPU) against")
    for name in timings.samples:
        cpu, wall, rss = (timings.median(name, what) for what in ("cpu", "wall", "max_rss_mb"))
        baseline = baselines.get(name)
        ratio = ""
        if baseline and baseline in timings.samples:
            ratio = f"{cpu / timings.median(baseline, 'cpu'):6.2f}x {baseline}"
        print(f"  {name:<34} {cpu:7.2f} {wall:7.2f} {rss:7.0f} MB   {ratio}")


def baselines_for(names: Sequence[str]) -> Dict[str, str]:
    result = {}
    for name in names:
        if name.startswith("clip-lint"):
            result[name] = "ruff check --no-cache --isolated"
        elif name.startswith("flake8 + clip-lint"):
            result[name] = "flake8 alone" + name[len("flake8 + clip-lint"):]
    return result


# --- findings hashes -------------------------------------------------------------------------


def findings_hash(lines: Sequence[str]) -> Tuple[str, int]:
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]
    return digest, len(lines)


def clip_lint_findings(tree: Path, jobs: int, switched_off: str) -> Tuple[str, int]:
    env = dict(os.environ, **{SPEEDUPS_VARIABLE: switched_off})
    with tempfile.TemporaryFile() as output:
        run_measured(clip_lint_command(jobs, tree, "--format", "json"), env=env, stdout=output)
        output.seek(0)
        report = json.load(output)
    lines = [
        "\t".join(
            [os.path.relpath(item["path"], tree), str(item["line"]), str(item["column"]), str(item.get("cell")),
             item["code"], item["message"]]
        )
        for item in report["findings"]
    ]
    return findings_hash(lines)


def flake8_findings(tree: Path, jobs: int, switched_off: str) -> Tuple[str, int]:
    env = dict(os.environ, **{SPEEDUPS_VARIABLE: switched_off})
    command = flake8_command(tree, jobs, with_plugin=True, select="CLN")
    command.insert(-1, "--format=%(path)s\t%(row)d\t%(col)d\t%(code)s\t%(text)s")
    with tempfile.TemporaryFile() as output:
        run_measured(command, env=env, stdout=output)
        output.seek(0)
        text = output.read().decode()
    lines = [os.path.relpath(line.split("\t", 1)[0], tree) + "\t" + line.split("\t", 1)[1]
             for line in text.splitlines() if "\t" in line]
    return findings_hash(lines)


def print_hashes(tree: Path, jobs: int, flake8: bool) -> bool:
    try:
        from clip_lint.prefilter.speedups import OPTIMIZATIONS
    except ImportError:  # a checkout from before the switches
        OPTIMIZATIONS = ()
    variants = [("as shipped", "")] + [(f"without {name}", name) for name in OPTIMIZATIONS]
    if len(OPTIMIZATIONS) > 1:
        variants.append(("without all", ",".join(OPTIMIZATIONS)))
    runners: List[Tuple[str, Callable[[Path, int, str], Tuple[str, int]]]] = [("clip-lint", clip_lint_findings)]
    if flake8:
        runners.append(("flake8 --select CLN", flake8_findings))
    agree = True
    for label, runner in runners:
        hashes = []
        for variant, switched_off in variants:
            digest, count = runner(tree, jobs, switched_off)
            hashes.append(digest)
            print(f"  findings of {label:<20} {variant:<22} {digest}  ({count} findings)")
        if len(set(hashes)) != 1:
            agree = False
            print(f"  !! {label}: an optimization changed the findings")
    return agree


# --- where the files go ----------------------------------------------------------------------


def funnel(tree: Path) -> str:
    """Counts of .py files at each stage before libcst, as the engine sees them (in-process)."""
    import ast

    from clip_lint.prefilter.slicing import slice_source

    from clip_lint.prefilter.ast_filter import may_report
    from clip_lint.prefilter.gate import passes_gate

    counts = {"files": 0, "gated": 0, "ast": 0, "prefilter": 0, "sliced": 0}
    lines = 0
    for path in sorted(tree.rglob("*.py")):
        counts["files"] += 1
        source = path.read_text(encoding="utf-8", errors="replace")
        lines += source.count("\n")
        if not passes_gate(source):
            continue
        counts["gated"] += 1
        try:
            module = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError):
            continue  # libcst gets a try: not counted below
        counts["ast"] += 1
        if not may_report(module):
            continue
        counts["prefilter"] += 1
        if slice_source(source, module) is not None:
            counts["sliced"] += 1
    return (
        f"{counts['files']} .py files ({lines:,} lines): {counts['gated']} pass the gate, "
        f"{counts['prefilter']} of {counts['ast']} parsed by ast pass the pre-filter, "
        f"{counts['sliced']} reach libcst after slicing"
    )


def describe(tree: Path) -> str:
    kinds = {suffix: sum(1 for _ in tree.rglob(f"*{suffix}")) for suffix in (".py", ".ipynb", ".md")}
    return ", ".join(f"{count} {suffix}" for suffix, count in kinds.items())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the -j N runs (default: cores)")
    parser.add_argument("--skip-flake8", action="store_true", help="time and hash clip-lint and ruff only")
    parser.add_argument("--skip-hashes", action="store_true")
    parser.add_argument("--skip-timings", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or str(ROOT))
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {os.cpu_count()} cores ({affinity} usable), Python {sys.version.split()[0]}")
    jobs = sorted({1, args.jobs})
    agree = True
    for tree in args.trees:
        tree = tree.resolve()
        print(f"\n{tree.name}: {describe(tree)}")
        print(f"  funnel: {funnel(tree)}")
        if not args.skip_timings:
            timings = interleaved(commands_for(tree, jobs, not args.skip_flake8), args.runs)
            print(f"  medians of {args.runs} interleaved runs:")
            print_timings(timings, baselines_for(list(timings.samples)))
        if not args.skip_hashes:
            agree = print_hashes(tree, args.jobs, not args.skip_flake8) and agree
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
