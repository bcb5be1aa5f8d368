"""``clip-lint --fix`` on large generated modules: max RSS, CPU seconds, what it did. Run by hand.

    python bench/fix_memory.py [--sizes 1,10] [--relevant 0.75,0.05] [--baseline OTHER_CHECKOUT]

Each module comes from ``bench/big_module.py`` (``--relevant``: the share of it that compares
CLIP features; the rest is code the slicer blanks). Every run fixes a fresh copy in a temporary
folder, with the cache off, and reports the largest resident memory of the command (``wait4``'s
``ru_maxrss``), its CPU seconds, and its summary line: how many findings it fixed, or that it
skipped the file as too large for the memory budget (``CLIP_LINT_MEMORY_BUDGET_MB``). With
``--baseline`` the same modules are fixed by another checkout too, and the fixed texts are
compared (a fix must never change with a speed-up).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from big_module import generate  # noqa: E402


def fix_once(source: Path, checkout: Path, scratch: Path) -> Tuple[float, float, float, str, str]:
    """Fix a copy of ``source`` with ``checkout``: max RSS (MB), CPU and wall seconds, summary, digest."""
    target = scratch / source.name
    target.write_bytes(source.read_bytes())
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(checkout)
    command = [sys.executable, "-m", "clip_lint.cli", "--no-cache", "--fix", "--exit-zero", str(target)]
    start = time.perf_counter()
    # run from the scratch folder: ``python -m`` puts the working folder ahead of PYTHONPATH
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=scratch)
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.strip()]
    summary = " | ".join(line[:200] for line in lines if "CLN900" in line or line.startswith(("Fixed", "Checked")))
    if code not in (0, 1):
        summary = f"exit {code} " + summary
    digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, wall, summary or output[-300:], digest


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10", help="module sizes in MB, comma-separated")
    parser.add_argument("--relevant", default="0.75,0.05", help="shares of CLIP code, comma-separated")
    parser.add_argument("--baseline", type=Path, help="another checkout, run on the same modules")
    args = parser.parse_args(argv)
    sizes = [float(item) for item in args.sizes.split(",")]
    shares = [float(item) for item in args.relevant.split(",")]
    checkouts: List[Tuple[str, Path]] = [("this", ROOT)] + ([("baseline", args.baseline)] if args.baseline else [])
    budget = os.environ.get("CLIP_LINT_MEMORY_BUDGET_MB", "default")
    print(f"load average {os.getloadavg()[0]:.2f}; memory budget: {budget}")
    print(f"{'module':<22} {'checkout':<9} {'max RSS':>9} {'CPU s':>7} {'wall s':>7}  fixed text   what it did")
    with tempfile.TemporaryDirectory(prefix="fix-memory-") as folder:
        scratch = Path(folder)
        for size in sizes:
            for share in shares:
                source = scratch / f"big_{size:g}mb_{share:g}.py"
                source.write_text(generate(size, relevant=share), encoding="utf-8")
                for label, checkout in checkouts:
                    work = scratch / label
                    work.mkdir(exist_ok=True)
                    rss, cpu, wall, summary, digest = fix_once(source, checkout, work)
                    name = f"{size:g} MB, {share:.0%} CLIP"
                    print(f"{name:<22} {label:<9} {rss:7.0f} MB {cpu:7.1f} {wall:7.1f}  {digest}  {summary}",
                          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
