"""docs/formats.md: each format's example is the real output of the command shown above it, on the
file the page shows, byte for byte (this repository's folder written as /path/to/clip-lint), and
the SARIF and JSON examples validate against their schemas."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import List, Tuple

import jsonschema
import pytest

from cli_helpers import REPO, run_cli, write

DOC = REPO / "docs" / "formats.md"
FILE = re.compile(r"<!-- file: (?P<name>\S+) -->\n```\w*\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
OUTPUT = re.compile(r"<!-- output: (?P<command>[^|>]+?)(?: \| (?P<part>\S+))? -->\n```\w*\n(?P<body>.*?)^```",
                    re.DOTALL | re.MULTILINE)  # fmt: skip
CHECKOUT = "/path/to/clip-lint"


def examples() -> List[Tuple[str, str, str]]:
    return [(m["command"], m["part"] or "", m["body"]) for m in OUTPUT.finditer(DOC.read_text(encoding="utf-8"))]


def part_of(data: object, path: str) -> object:
    for step in path.split("."):
        data = data[int(step)] if isinstance(data, list) else data[step]  # type: ignore[index]
    return data


def test_the_page_has_an_example_of_every_format() -> None:
    commands = " ".join(command for command, _, _ in examples())
    for name in ("json", "sarif", "github", "junit"):
        assert f"--format {name}" in commands
    assert any(command == "clip-lint search.py" for command, _, _ in examples())


@pytest.mark.parametrize("command, part, expected", examples(), ids=[c + p for c, p, _ in examples()])
def test_each_example_is_the_real_output(tmp_path: Path, command: str, part: str, expected: str) -> None:
    for match in FILE.finditer(DOC.read_text(encoding="utf-8")):
        write(tmp_path, match["name"], match["body"])
    result = run_cli(*shlex.split(command)[1:], cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    actual = result.stdout.replace(REPO.as_uri(), "file://" + CHECKOUT)
    if "--format sarif" in command:
        report = json.loads(result.stdout)
        schema = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
        jsonschema.validate(report, schema, cls=jsonschema.Draft4Validator)
        actual = json.dumps(part_of(json.loads(actual), part), indent=2) + "\n"
    elif part:
        actual = json.dumps(part_of(json.loads(actual), part), indent=2) + "\n"
    if "--format json" in command and "--statistics" not in command:
        schema = json.loads((REPO / "docs" / "clip-lint.schema.json").read_text(encoding="utf-8"))
        jsonschema.validate(json.loads(result.stdout), schema)
    assert actual == expected
