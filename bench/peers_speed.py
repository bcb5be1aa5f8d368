"""clip-lint next to the tools a flake8 user compares it with, every target of issue 20 in one run. Run by hand.

    python bench/peers_speed.py [--runs 3] [--trees open_clip,lavis,diffusers] [--tools ...]
        [--baseline OTHER_CHECKOUT] [--json-out FILE] [--peers /work/peers]

Each peer runs from a venv of its own under ``--peers`` (default ``/work/peers``):

- ``flake8`` (flake8 7.5.0 alone: the baseline of every flake8 ratio), ``bugbear`` (flake8 with
  flake8-bugbear), ``torchfix`` (flake8 with TorchFix), all as ``flake8 --isolated --exit-zero TREE``
  with flake8's default selection and jobs;
- ``fixit`` (Fixit 2's own ``fixit lint TREE``);
- ``ruff`` (``ruff check --no-cache --isolated --exit-zero TREE``: the baseline of the command's ratios).

clip-lint is this checkout (``PYTHONPATH``), through the flake8 of the venv this script runs in
(``--clip-cache-dir``), and as the ``clip-lint`` command at its default ``-j`` (``--cache-dir``).
"cold" is a fresh, empty cache folder; "warm" is the same folder run again right after. Cache
folders are temporary: the trees are never written to. ``--baseline CHECKOUT`` adds that
checkout's plugin and command, cold and warm, to the same rounds (before/after numbers).

Every command of a tree runs once per round, in the same order, and the rounds repeat
(``--runs``); each figure is the median of its rounds' CPU seconds (user + system of the command
and every process it waited for, from ``os.wait4``), and each ratio is against a baseline taken
in the same rounds. The machine is shared: the load average is printed before and after each
tree, and wall seconds are kept in the JSON, but only CPU seconds are compared.

The output ends with the peers table (the README's Speed section) and the targets table of
issue 20 (now against target). The diffusers tree under /work/corpora is the PyPI sdist: it has
the package's ``.py`` files but not the repository's Markdown and notebooks, so its numbers are
for less than the issue's "full tree" (the script says how many files of each kind it saw).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path("/work/corpora")
TREES = {"open_clip": CORPORA / "open_clip", "lavis": CORPORA / "lavis", "diffusers": CORPORA / "diffusers"}
TREE_TITLES = {"open_clip": "open_clip", "lavis": "LAVIS", "diffusers": "diffusers"}
SDIST_NOTE = (
    "diffusers is the PyPI sdist (0.42.1): the repository's Markdown and notebooks are not in it, "
    "and the full tree cannot be downloaded here"
)
PEERS = ("flake8", "bugbear", "torchfix", "fixit", "ruff")
OURS = ("plugin", "command")
TOOLS = PEERS + OURS
# The targets of issue 20: measure, ratio's numerator, denominator, the most it may be.
TARGETS = (
    ("flake8 + plugin ÷ flake8 alone, cold", "+ clip-lint cold", "flake8 alone", 1.15),
    ("the same, warm cache", "+ clip-lint warm", "flake8 alone", 1.02),
    ("`clip-lint` cold ÷ `ruff check --no-cache`", "clip-lint cold", "ruff", 10.0),
    ("`clip-lint` warm ÷ ruff cold", "clip-lint warm", "ruff", 2.0),
)


@dataclass
class Sample:
    cpu: float
    wall: float
    max_rss_mb: float


@dataclass
class TreeResult:
    name: str
    files: Dict[str, int]
    load_before: Tuple[float, float, float]
    load_after: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    samples: Dict[str, List[Sample]] = field(default_factory=dict)

    def cpu(self, name: str) -> Optional[float]:
        values = self.samples.get(name)
        return statistics.median(sample.cpu for sample in values) if values else None

    def ratio(self, name: str, baseline: str) -> Optional[float]:
        over, under = self.cpu(name), self.cpu(baseline)
        return None if over is None or not under else over / under


def run_measured(command: Sequence[str], env: Optional[Dict[str, str]] = None) -> Sample:
    """Run ``command``: CPU seconds of it and every descendant it waited for (``wait4``'s rusage)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    error = process.stderr.read() if process.stderr else b""  # drained first: a chatty command can't block
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(command[:6])} ... failed ({code}):\n{error.decode(errors='replace')[-2000:]}")
    return Sample(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)


class Scratch:
    """Fresh cache folders under one temporary folder: a cold run gets a new one, its warm run reuses it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.current: Dict[str, Path] = {}

    def fresh(self, key: str) -> Path:
        self.count += 1
        folder = self.root / f"{key}-{self.count}"
        self.current[key] = folder
        return folder

    def last(self, key: str) -> Path:
        return self.current[key]


def peer_commands(tree: Path, peers: Path, tools: Sequence[str]) -> Dict[str, Callable[[], Sample]]:
    """The peers' commands: each from its own venv."""
    flake8_args = ["--isolated", "--exit-zero", str(tree)]
    named = {
        "flake8 alone": ("flake8", [str(peers / "flake8" / "bin" / "flake8"), *flake8_args]),
        "+ bugbear": ("bugbear", [str(peers / "bugbear" / "bin" / "flake8"), *flake8_args]),
        "+ TorchFix": ("torchfix", [str(peers / "torchfix" / "bin" / "flake8"), *flake8_args]),
        "Fixit": ("fixit", [str(peers / "fixit" / "bin" / "fixit"), "lint", str(tree)]),
        "ruff": ("ruff", [str(peers / "ruff" / "bin" / "ruff"), "check", "--no-cache", "--isolated",
                          "--exit-zero", "--quiet", str(tree)]),
    }
    commands: Dict[str, Callable[[], Sample]] = {}
    for label, (tool, command) in named.items():
        if tool in tools:
            if not Path(command[0]).exists():
                raise SystemExit(f"{command[0]} is missing: make the {tool} venv (see this script's docstring)")
            commands[label] = _runner(command, _clean_env())
    return commands


def _clean_env(checkout: Optional[Path] = None) -> Dict[str, str]:
    """The environment without this session's PYTHONPATH (a peer's venv must see only its own packages),
    with ``checkout`` first on the path when given."""
    # PYTHONDONTWRITEBYTECODE would make every Python tool compile its modules on each run, as no user does
    unset = ("PYTHONPATH", "CLIP_LINT_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    return env


def _runner(command: Sequence[str], env: Dict[str, str]) -> Callable[[], Sample]:
    return lambda: run_measured(command, env)


def our_commands(
    tree: Path, checkout: Path, scratch: Scratch, tools: Sequence[str], label: str = ""
) -> Dict[str, Callable[[], Sample]]:
    """The plugin (through this venv's flake8) and the command, cold then warm on the same folder."""
    env = _clean_env(checkout)
    bin_folder = Path(sys.executable).parent
    flake8 = [str(bin_folder / "flake8"), "--isolated", "--exit-zero"]
    command = [str(bin_folder / "clip-lint"), "--exit-zero"]
    key = f"{label or 'this'}-{tree.name}"
    prefix = f"{label} " if label else ""
    commands: Dict[str, Callable[[], Sample]] = {}
    if "plugin" in tools:
        commands[f"{prefix}+ clip-lint cold"] = lambda: run_measured(
            [*flake8, "--clip-cache-dir", str(scratch.fresh(key + "-plugin")), str(tree)], env)
        commands[f"{prefix}+ clip-lint warm"] = lambda: run_measured(
            [*flake8, "--clip-cache-dir", str(scratch.last(key + "-plugin")), str(tree)], env)
    if "command" in tools:
        commands[f"{prefix}clip-lint cold"] = lambda: run_measured(
            [*command, "--cache-dir", str(scratch.fresh(key + "-command")), str(tree)], env)
        commands[f"{prefix}clip-lint warm"] = lambda: run_measured(
            [*command, "--cache-dir", str(scratch.last(key + "-command")), str(tree)], env)
    return commands


def count_files(tree: Path) -> Dict[str, int]:
    return {suffix: sum(1 for _ in tree.rglob(f"*{suffix}")) for suffix in (".py", ".md", ".ipynb")}


def measure_tree(
    name: str, tree: Path, args: argparse.Namespace, scratch: Scratch
) -> TreeResult:
    result = TreeResult(name, count_files(tree), os.getloadavg())
    commands = peer_commands(tree, args.peers, args.tools)
    commands.update(our_commands(tree, ROOT, scratch, args.tools))
    if args.baseline is not None:
        commands.update(our_commands(tree, args.baseline, scratch, args.tools, label="baseline"))
    for label, run in commands.items():
        if "warm" not in label:
            run()  # a warm-up round for the disk cache and the peers' own caches, not counted
            break
    for round_number in range(args.runs):
        for label, run in commands.items():
            result.samples.setdefault(label, []).append(run())
        print(f"  {name}: round {round_number + 1}/{args.runs} done, load {os.getloadavg()[0]:.2f}",
              file=sys.stderr, flush=True)
    result.load_after = os.getloadavg()
    return result


def _seconds(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _times(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}×"


def peers_table(results: Sequence[TreeResult], prefix: str = "") -> str:
    """The README's table: flake8 columns as ratios to flake8 alone, the command and ruff in seconds."""
    lines = [
        "| tree | flake8 alone | + bugbear | + TorchFix | Fixit | + clip-lint cold / warm "
        "| `clip-lint` cold / warm | ruff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tree in results:
        ratio = lambda name: _times(tree.ratio(name, "flake8 alone"))  # noqa: E731
        lines.append(
            f"| {TREE_TITLES.get(tree.name, tree.name)} | {_seconds(tree.cpu('flake8 alone'))} "
            f"| {ratio('+ bugbear')} | {ratio('+ TorchFix')} | {ratio('Fixit')} "
            f"| {ratio(prefix + '+ clip-lint cold')} / {ratio(prefix + '+ clip-lint warm')} "
            f"| {_seconds(tree.cpu(prefix + 'clip-lint cold'))} / {_seconds(tree.cpu(prefix + 'clip-lint warm'))} "
            f"| {_seconds(tree.cpu('ruff'))} |"
        )
    return "\n".join(lines)


def targets_table(results: Sequence[TreeResult], baseline: bool) -> str:
    """Issue 20's targets, each tree's ratio now (and the baseline checkout's, when measured)."""
    names = " / ".join(TREE_TITLES.get(tree.name, tree.name) for tree in results)
    header = f"| measure ({names}) | now |" + (" baseline checkout |" if baseline else "") + " target | holds |"
    lines = [header, "|---|---|" + ("---|" if baseline else "") + "---|---|"]
    for title, over, under, most in TARGETS:
        now = [tree.ratio(over, under) for tree in results]
        row = f"| {title} | {' / '.join(_times(value) for value in now)} |"
        if baseline:
            before = [tree.ratio("baseline " + over, under) for tree in results]
            row += f" {' / '.join(_times(value) for value in before)} |"
        measured = [value for value in now if value is not None]
        holds = "–" if not measured else ("yes" if all(value <= most for value in measured) else "no")
        lines.append(row + f" ≤ {most:g} | {holds} |")
    return "\n".join(lines)


def details(tree: TreeResult) -> str:
    lines = [
        f"\n{tree.name}: " + ", ".join(f"{count} {suffix}" for suffix, count in tree.files.items())
        + f"; load average {tree.load_before[0]:.2f} before, {tree.load_after[0]:.2f} after",
        f"  {'command':<34} {'CPU s':>7} {'wall s':>7} {'max RSS':>9}   CPU samples",
    ]
    for name, samples in tree.samples.items():
        cpu = statistics.median(s.cpu for s in samples)
        wall = statistics.median(s.wall for s in samples)
        rss = max(s.max_rss_mb for s in samples)
        spread = ", ".join(f"{s.cpu:.2f}" for s in samples)
        lines.append(f"  {name:<34} {cpu:7.2f} {wall:7.2f} {rss:6.0f} MB   {spread}")
    return "\n".join(lines)


def parse_arguments(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--trees", default="open_clip,lavis,diffusers",
                        help="comma-separated names from " + ", ".join(TREES) + ", or folders")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, from {', '.join(TOOLS)} (default: all); "
                        "flake8 and ruff are the baselines of the ratios")
    parser.add_argument("--peers", type=Path, default=Path("/work/peers"), help="the peers' venvs")
    parser.add_argument("--baseline", type=Path, help="another checkout, timed in the same rounds")
    parser.add_argument("--json-out", type=Path, help="write every sample here")
    args = parser.parse_args(argv)
    args.tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    return args


def chosen_trees(spec: str) -> List[Tuple[str, Path]]:
    trees = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        path = TREES.get(item, Path(item))
        if not path.is_dir():
            raise SystemExit(f"no such tree: {item}")
        trees.append((item if item in TREES else path.name, path.resolve()))
    return trees


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_arguments(argv)
    trees = chosen_trees(args.trees)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average "
          + " ".join(f"{value:.2f}" for value in os.getloadavg()) + f"; {args.runs} interleaved rounds")
    if any(name == "diffusers" for name, _ in trees):
        print(f"note: {SDIST_NOTE}")
    results = []
    with tempfile.TemporaryDirectory(prefix="peers-speed-") as folder:
        scratch = Scratch(Path(folder))
        for name, path in trees:
            results.append(measure_tree(name, path, args, scratch))
            print(details(results[-1]), flush=True)
            for used in Path(folder).iterdir():  # the cache folders of this tree are done with
                shutil.rmtree(used, ignore_errors=True)
    print("\nCPU seconds, medians of interleaved rounds; flake8 columns are ratios to flake8 alone:\n")
    print(peers_table(results))
    if args.baseline is not None:
        print(f"\nThe same with the baseline checkout ({args.baseline}):\n")
        print(peers_table(results, prefix="baseline "))
    print("\nIssue 20's targets:\n")
    print(targets_table(results, args.baseline is not None))
    if args.json_out is not None:
        payload = {
            "runs": args.runs,
            "cores": os.cpu_count(),
            "baseline": str(args.baseline) if args.baseline else None,
            "note": SDIST_NOTE if any(name == "diffusers" for name, _ in trees) else None,
            "trees": [asdict(tree) for tree in results],
        }
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
