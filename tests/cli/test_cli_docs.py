"""docs/cli.md: every ``clip-lint`` command in its bash blocks runs as documented, and the
pre-commit hooks it shows are the ones .pre-commit-hooks.yaml defines."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import jsonschema
import pytest

from cli_helpers import REPO, run_cli

DOC = REPO / "docs" / "cli.md"
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)


def documented_commands() -> list:
    commands = []
    for block in BASH_BLOCK.findall(DOC.read_text(encoding="utf-8")):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("clip-lint"):
                commands.append(command)
    return commands


def test_the_doc_shows_every_format() -> None:
    commands = " ".join(documented_commands())
    for name in ("json", "sarif", "junit"):
        assert f"--format {name}" in commands
    assert "--format github" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", documented_commands())
def test_documented_command_runs(tmp_path: Path, command: str) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "examples", tmp_path / "src")
    words = shlex.split(command.split(">", 1)[0])
    result = run_cli(*words[1:], cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    if command.startswith("clip-lint rules"):
        assert "CLN001" in result.stdout
    elif "--format json" in command:
        assert json.loads(result.stdout)["findings"]
    if "--format sarif" in command:
        schema = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
        jsonschema.validate(json.loads(result.stdout), schema, cls=jsonschema.Draft4Validator)
    if "--format junit" in command:
        assert result.stdout.startswith("<?xml")
    if "--explain" in command:
        assert result.stdout.startswith("# CLN")


def test_documented_hook_ids_exist() -> None:
    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["clip-lint", "clip-lint-fix"]
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "pyi", "jupyter", "markdown"]
        assert f"- id: {hook['id']}" in DOC.read_text(encoding="utf-8")
        assert hook["require_serial"] is True  # one clip-lint, whose own pool runs in parallel
    assert "--fix" in hooks[1]["entry"] and "--fix" not in hooks[0]["entry"]
    assert "additional_dependencies: [\"clip-lint @ git+file://" in DOC.read_text(encoding="utf-8")
