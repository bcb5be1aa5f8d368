"""Run the real front ends, warm and without a cache, in one process (for the property test).

    python cache_driver.py PROJECT REQUEST_JSON

The request may name an edit to make during a first, cached run: ``{"during": {"front_end":
"flake8" or "clip-lint", "after_reading": PATH, "files": {PATH: TEXT or null}}}``; the edit is
written as soon as that run has read ``after_reading``, as an editor's save would land. Then
each front end runs from the cache and without it, each run a new one (``new_run``), and the
outputs are printed as JSON: ``{"clip-lint": [warm, uncached], "flake8": [warm, uncached]}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Callable, Dict, List, Optional

from flake8.main.cli import main as flake8_main

from clip_lint.frontends.cli import main as clip_lint_main
from clip_lint.project import reading
from clip_lint.project.modules import new_run

NO_CACHE = {"clip-lint": "--no-cache", "flake8": "--clip-no-cache"}


def front_end_run(front_end: str, project: str, cached: bool) -> str:
    """One run of a front end over the project's ``pkg``: its report."""
    new_run()
    handle, report = tempfile.mkstemp(suffix=".txt")
    os.close(handle)
    flags = [] if cached else [NO_CACHE[front_end]]
    if front_end == "clip-lint":
        clip_lint_main(["-q", "-j", "1", "--color", "never", "--output-file", report, *flags, "pkg"])
    else:
        flake8_main(["--select", "CLN", "-j", "1", "--output-file", report, *flags, "pkg"])
    with open(report, encoding="utf-8") as stream:
        output = stream.read()
    os.unlink(report)
    return output


def write(files: Dict[str, Optional[str]]) -> None:
    for path, text in files.items():
        if text is None:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)
            continue
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)


def edit_during_a_run(during: Dict, project: str) -> None:
    """A cached run of one front end, during which the edit is saved right after a read."""
    trigger = os.path.realpath(during["after_reading"])
    original: Callable[[str], Optional[bytes]] = reading.read_regular_file
    done: List[bool] = []

    def read_then_save(path: str) -> Optional[bytes]:
        data = original(path)
        if not done and os.path.realpath(path) == trigger:
            done.append(True)
            write(during["files"])
        return data

    reading.read_regular_file = read_then_save
    try:
        front_end_run(during["front_end"], project, cached=True)
    finally:
        reading.read_regular_file = original
    if not done:
        write(during["files"])  # the run never read it: the edit still lands, after the run


def main() -> int:
    project, request = sys.argv[1], json.loads(sys.argv[2])
    os.chdir(project)
    if request.get("during"):
        edit_during_a_run(request["during"], project)
    outputs = {
        front_end: [front_end_run(front_end, project, cached=True), front_end_run(front_end, project, cached=False)]
        for front_end in ("clip-lint", "flake8")
    }
    json.dump(outputs, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
