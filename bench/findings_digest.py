"""Digests of clip-lint's full output on every fixture, fixture project and corpus. Run by hand.

    python bench/findings_digest.py [--checkout PATH] [--corpus DIR ...] [--json-out FILE]

Each target is checked by both front ends, with no cache: the ``clip-lint`` command
(``--format json``, so that messages, columns and fixes are all in the digest) and
``flake8 --select CLN``. A fixture project is checked from its own root, as a user would.
It prints one line per target and front end: the number of findings and a SHA-256 prefix of
the sorted output. Two checkouts (say, before and after a refactoring) agree on their findings
when every line agrees; ``--json-out`` keeps the lines for a later ``diff``.

``--checkout`` runs another checkout's code (by ``PYTHONPATH``) from this same Python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent


def targets(checkout: Path, corpora: List[Path]) -> List[Tuple[str, Path, str]]:
    """(name, working directory, path argument) of everything to check."""
    fixtures = checkout / "fixtures"
    found = [("fixtures", fixtures, ".")]
    projects = sorted(p for p in (fixtures / "projects").iterdir() if p.is_dir())
    found += [(f"project:{p.name}", p, ".") for p in projects]
    found += [("examples", checkout / "examples", ".")]
    found += [(f"corpus:{c.name}", c, ".") for c in corpora]
    return found


def run(command: List[str], cwd: Path, checkout: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if "Traceback" in result.stderr:
        raise SystemExit(f"{' '.join(command)} in {cwd} crashed:\n{result.stderr}")
    return result.stdout


def clip_lint_lines(cwd: Path, target: str, checkout: Path) -> List[str]:
    command = [sys.executable, "-m", "clip_lint.cli", "--no-cache", "--exit-zero", "--format", "json", target]
    report = json.loads(run(command, cwd, checkout))
    summary = json.dumps(report["summary"], sort_keys=True)
    lines = [summary] + sorted(json.dumps(item, sort_keys=True) for item in report["findings"])
    # rule URLs are file:// links into the checkout: two checkouts agree when all else does
    return [line.replace(str(checkout), "<checkout>") for line in lines]


def flake8_lines(cwd: Path, target: str, checkout: Path) -> List[str]:
    command = [sys.executable, "-m", "flake8", "--select", "CLN", "--clip-no-cache", "--exit-zero", target]
    if cwd.name != "fixtures":
        command.insert(3, "--isolated")
    else:
        command += ["--clip-encoders", "embed_images"]
    return sorted(run(command, cwd, checkout).splitlines())


def digest(lines: List[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--corpus", type=Path, action="append", default=[])
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    kept: Dict[str, List[str]] = {}
    for name, cwd, target in targets(checkout, [c.resolve() for c in args.corpus]):
        for front, lines in (("clip-lint", clip_lint_lines(cwd, target, checkout)),
                             ("flake8", flake8_lines(cwd, target, checkout))):
            kept[f"{name} {front}"] = lines
            print(f"{name:32} {front:9} {len(lines):5} lines  {digest(lines)}", flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(kept, indent=1, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
