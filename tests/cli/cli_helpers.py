"""Shared helpers for the clip-lint command tests: run the installed console script for real."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
CLI = Path(sys.executable).with_name("clip-lint")
EXPECTED_LINE = re.compile(r"^(?:cell (?P<cell>\d+):)?line (?P<line>\d+)\s+(?P<code>CLN\d{3})\b")


def write(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``directory/name`` (folders made as needed) and return the path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(
    *args: Union[str, Path],
    cwd: Optional[Path] = None,
    input: Optional[Union[str, bytes]] = None,
    env: Optional[Dict[str, str]] = None,
    prefix: Sequence[str] = (),
) -> "subprocess.CompletedProcess[str]":
    """Run the installed ``clip-lint`` console script and capture its output as text.

    ``prefix`` runs it under another command (``without_file_permissions()``)."""
    assert CLI.exists(), f"{CLI} is missing: install the package (pip install -e .)"
    data = input.encode("utf-8") if isinstance(input, str) else input
    completed = subprocess.run(
        [*prefix, str(CLI), *map(str, args)], cwd=cwd, input=data, capture_output=True, timeout=300, env=env
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def run_json(*args: Union[str, Path], cwd: Optional[Path] = None) -> Tuple[int, dict]:
    """Run with ``--format json`` and parse the report."""
    result = run_cli("--format", "json", *args, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def locations(report: dict) -> List[str]:
    """Each finding as ``cell N:line M CODE`` (notebooks) or ``line M CODE``, sorted."""
    found = []
    for finding in report["findings"]:
        cell = f"cell {finding['cell']}:" if finding["cell"] is not None else ""
        found.append(f"{cell}line {finding['line']} {finding['code']}")
    return sorted(found)


def read_expected(path: Path) -> List[str]:
    """The ``.expected`` file next to a fixture, in the same ``[cell N:]line M CODE`` form."""
    expected = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = EXPECTED_LINE.match(raw.strip())
        if match:
            cell = f"cell {match['cell']}:" if match["cell"] else ""
            expected.append(f"{cell}line {match['line']} {match['code']}")
    return sorted(expected)


BUGGY = '''\
import torch


def similarity(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    return image_features @ text_features.T
'''

CLEAN = '''\
import torch


def similarity(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    return image_features @ text_features.T
'''


def without_file_permissions() -> List[str]:
    """A command prefix under which file permissions apply, even to root (which CI may be)."""
    import os
    import shutil

    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs setpriv (util-linux) to drop the permission-override capabilities"
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]


def notebook(*cells: str) -> str:
    """A Python notebook whose code cells hold ``cells`` (a cell starting with '#md' is Markdown)."""
    def cell(text: str) -> dict:
        if text.startswith("#md"):
            return {"cell_type": "markdown", "metadata": {}, "source": text[3:].splitlines(keepends=True)}
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": text.splitlines(keepends=True)}  # fmt: skip

    return json.dumps({
        "cells": [cell(text) for text in cells],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }, indent=1)  # fmt: skip
