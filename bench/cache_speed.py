"""What the cache saves: flake8 with the plugin (no cache, cold, warm) against flake8 alone,
and the clip-lint command warm against cold, on real source trees. Run by hand.

    python bench/cache_speed.py [--runs 5] [TREE ...]      (default: /work/corpora/{open_clip,lavis})

Get the trees with ``pip download --no-deps open_clip_torch==3.3.0 salesforce-lavis -d DL``
and unzip each into its own folder. flake8 runs single-process (``--jobs=1``), as the
issue's numbers do. "Cold" is an empty cache folder, so it includes writing every entry;
"warm" is a folder filled by an earlier run. Every cache folder is a temporary one: the
trees are never written to. Timings are medians of interleaved runs, ratios against a
baseline taken in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lint_speed import RUNNER, interleaved, python_files, report, timed  # noqa: E402

DEFAULT_TREES = [Path("/work/corpora/open_clip"), Path("/work/corpora/lavis")]


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


def flake8_cache(tree: Path, runs: int, scratch: Path) -> None:
    common = ["--isolated", "--select", "E,F,W,CLN", "--jobs=1", str(tree)]
    folders = Folders(scratch / "flake8")
    warm = str(scratch / "flake8-warm")
    timed([*RUNNER, "--clip-cache-dir", warm, *common])
    commands: Dict[str, Callable[[], float]] = {
        "flake8 alone (E,F,W)": lambda: timed([*RUNNER, "--without-clip-lint", *common]),
        "flake8 + clip-lint, --clip-no-cache": lambda: timed([*RUNNER, "--clip-no-cache", *common]),
        "flake8 + clip-lint, cold cache": lambda: timed([*RUNNER, "--clip-cache-dir", folders.fresh(), *common]),
        "flake8 + clip-lint, warm cache": lambda: timed([*RUNNER, "--clip-cache-dir", warm, *common]),
    }
    report(f"flake8 -j1 on {tree.name}", interleaved(commands, runs), "flake8 alone (E,F,W)")


def clip_lint_cache(tree: Path, runs: int, scratch: Path, jobs: List[str]) -> None:
    command = shutil.which("clip-lint", path=str(Path(sys.executable).parent))
    if command is None:
        print("\nclip-lint command: not installed, skipped")
        return
    common = [*jobs, "--format", "json", "--exit-zero", str(tree)]
    folders = Folders(scratch / "clip-lint")
    warm = str(scratch / "clip-lint-warm")
    timed([command, "--cache-dir", warm, *common])
    commands: Dict[str, Callable[[], float]] = {
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
    args = parser.parse_args()
    for tree in args.trees:
        files = python_files([tree])
        lines = sum(file.read_bytes().count(b"\n") for file in files)
        print(f"\n{tree}: {len(files)} .py files, {lines} lines")
        with tempfile.TemporaryDirectory() as scratch:
            flake8_cache(tree, args.runs, Path(scratch))
            clip_lint_cache(tree, args.runs, Path(scratch), ["-j", "1"])
            clip_lint_cache(tree, args.runs, Path(scratch), [])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
