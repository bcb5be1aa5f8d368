"""The README and docs/: every ``clip-lint`` command in their bash blocks runs as documented, every
relative link leads to a file, the README stays short, and the pre-commit hooks it shows are the
ones .pre-commit-hooks.yaml defines."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import List, Tuple

import jsonschema
import pytest

from cli_helpers import REPO, run_cli

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").rglob("*.md"))
PAGES = [README, *DOCS]
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def documented_commands() -> List[Tuple[str, str]]:
    """(page, command) for every ``clip-lint`` command line in a bash block of the README or docs/."""
    commands = []
    for page in PAGES:
        for block in BASH_BLOCK.findall(page.read_text(encoding="utf-8")):
            for line in block.splitlines():
                command = line.split("  #", 1)[0].split(" # ", 1)[0].strip()
                if command.startswith("clip-lint"):
                    commands.append((str(page.relative_to(REPO)), command))
    return commands


def test_the_readme_opens_with_the_two_commands_ci_runs() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert lines[:2] == ["# clip-lint", ""] and lines[2] == "```bash"
    first, second = lines[3], lines[4]
    assert f"bash -c '{first}'" in ci
    assert second.replace(".venv/bin/python -m pytest", "") in ci and ci.rstrip().endswith(second)
    assert lines[5] == "```"


def test_the_readme_is_at_most_300_lines_and_links_every_doc() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    linked = {match["target"].split("#")[0] for match in LINK.finditer(text)}
    for page in DOCS:
        relative = str(page.relative_to(REPO))
        if page.parent.name == "rules":
            assert "docs/rules/README.md" in linked
        else:
            assert relative in linked, f"the README does not link {relative}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file(page: Path) -> None:
    for match in LINK.finditer(page.read_text(encoding="utf-8")):
        target = match["target"]
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        assert (page.parent / path).exists(), f"{page.name}: {target}"
        if anchor and path.endswith(".md"):
            headings = re.findall(r"^#+ (.*)$", (page.parent / path).read_text(encoding="utf-8"), re.MULTILINE)
            slugs = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}
            assert anchor in slugs, f"{page.name}: {target}"


def test_the_docs_show_every_format() -> None:
    commands = " ".join(command for _, command in documented_commands())
    for name in ("json", "sarif", "junit", "github"):
        assert f"--format {name}" in commands or f"--format {name}" in (REPO / "docs" / "formats.md").read_text()


@pytest.mark.parametrize("page, command", documented_commands())
def test_documented_command_runs(tmp_path: Path, page: str, command: str) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "examples", tmp_path / "src")
    words = shlex.split(command.split(" > ", 1)[0])
    if words[1:2] == ["server"]:  # an editor's session, start to end: the answer to initialize, status 0
        result = run_cli(*words[1:], cwd=tmp_path, input=lsp_session_start_to_end())
        assert result.returncode == 0 and '"serverInfo": {"name": "clip-lint"' in result.stdout, result.stderr
        return
    result = run_cli(*words[1:], cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    if words[1:2] == ["rules"]:
        assert "CLN001" in result.stdout
    elif "--format json" in command and "--output-file" not in command:
        assert json.loads(result.stdout)["findings"]
    if "--format sarif" in command:
        schema = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
        jsonschema.validate(json.loads(result.stdout), schema, cls=jsonschema.Draft4Validator)
    if "--format junit" in command and "--output-file" not in command:
        assert result.stdout.startswith("<?xml")
    if "--explain" in command:
        assert result.stdout.startswith("# CLN")
    if "--show-files" in command:
        assert result.stdout.splitlines() and all((tmp_path / line).is_file() for line in result.stdout.splitlines())
    if "--show-settings" in command:
        assert result.stdout.startswith("Settings for ")
    if words[1:2] == ["-v"]:
        assert "clip-lint: 4 files to check" in result.stderr


def lsp_session_start_to_end() -> bytes:
    """initialize, initialized, shutdown and exit, framed as an LSP client sends them."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None},
        {"jsonrpc": "2.0", "method": "exit", "params": None},
    ]
    bodies = [json.dumps(message).encode() for message in messages]
    return b"".join(b"Content-Length: %d\r\n\r\n%s" % (len(body), body) for body in bodies)


def test_the_readmes_flake8_command_reports_the_cln_codes(tmp_path: Path) -> None:
    import subprocess
    import sys

    lines = [line.split("#", 1)[0].strip() for block in BASH_BLOCK.findall(README.read_text(encoding="utf-8"))
             for line in block.splitlines()]  # fmt: skip
    (command,) = [line for line in lines if line.startswith("flake8 ")]
    shutil.copytree(REPO / "examples", tmp_path / "src")
    done = subprocess.run([sys.executable, "-m", *shlex.split(command)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert {line.split()[1] for line in done.stdout.splitlines()} == {"CLN001", "CLN002", "CLN003", "CLN004"}


def test_the_readmes_sample_report_is_the_real_one() -> None:
    text = README.read_text(encoding="utf-8")
    sample = re.search(r"```\n(examples/zero_shot_open_clip\.py:.*?)```", text, re.DOTALL).group(1)
    real = run_cli("examples/", cwd=REPO).stdout.splitlines()
    for line in sample.splitlines():
        assert line in real


def test_documented_hook_ids_exist() -> None:
    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    readme = README.read_text(encoding="utf-8")
    assert [hook["id"] for hook in hooks] == ["clip-lint", "clip-lint-fix"]
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "pyi", "jupyter", "markdown"]
        assert f"- id: {hook['id']}" in readme
        assert hook["require_serial"] is True  # one clip-lint, whose own pool runs in parallel
    assert "--fix" in hooks[1]["entry"] and "--fix" not in hooks[0]["entry"]
    assert "additional_dependencies: [\"clip-lint @ git+file://" in readme
