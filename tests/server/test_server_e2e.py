"""End to end: a real LSP client talks to the installed ``clip-lint server`` over stdio."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
from lsprotocol import types
from conftest import CALLER, HELPER
from lsp_session import FIX_ALL, command_findings, exit_code, server_env, session

pytestmark = pytest.mark.asyncio

NORMALIZED_HELPER = """\
import torch.nn.functional as F


def embed(model, images):
    return F.normalize(model.encode_image(images), dim=-1)
"""


def as_findings(path: Path, diagnostics):
    return sorted(
        (str(path.resolve()), d.range.start.line, d.range.start.character, d.code, d.message) for d in diagnostics
    )


def command_urls(path: Path, cwd: Path) -> Dict[str, str]:
    """Each reported rule's URL in ``clip-lint --format json`` (its rule page)."""
    run = subprocess.run(
        [sys.executable, "-m", "clip_lint.cli", "check", "--output-format", "json", "--no-cache", str(path)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    urls = {finding["code"]: finding["url"] for finding in json.loads(run.stdout)["findings"]}
    assert all(url.startswith("file://") and url.endswith(f"/docs/rules/{code}.md") for code, url in urls.items())
    return urls


def fixed_by_command(path: Path, tmp_path: Path) -> str:
    """The text ``clip-lint --fix`` writes for a copy of ``path`` (in a folder of its own, same config)."""
    copy_root = tmp_path / "fixed-by-command"
    shutil.copytree(path.parent, copy_root, dirs_exist_ok=True)
    copy = copy_root / path.name
    subprocess.run(
        [sys.executable, "-m", "clip_lint.cli", "--fix", "--no-cache", str(copy)],
        cwd=copy_root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return copy.read_text(encoding="utf-8")


def snapshot(root: Path) -> Dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".clip_lint_cache" not in path.parts
    }


async def test_open_publishes_what_the_command_reports(project: Path) -> None:
    async with session(project) as editor:
        caller, single = editor.open("pkg/main.py"), editor.open("single.py")
        caller_found = await editor.diagnostics(caller)
        single_found = await editor.diagnostics(single)
    expected = command_findings([project / "pkg" / "main.py", project / "single.py"], project)
    served = as_findings(project / "pkg" / "main.py", caller_found) + as_findings(project / "single.py", single_found)
    assert sorted(served) == expected and len(expected) == 2
    for diagnostic in caller_found + single_found:
        assert diagnostic.source == "clip-lint"
        assert diagnostic.code == "CLN001"
        assert diagnostic.code_description is not None
        assert diagnostic.code_description.href == command_urls(project / "single.py", project)["CLN001"]
        assert diagnostic.severity == types.DiagnosticSeverity.Warning
    # the range starts at the similarity operator, where the command's column points, and ends with the expression
    (finding,) = caller_found
    line = editor.texts[caller].splitlines()[finding.range.start.line]
    assert finding.range.start.line == finding.range.end.line
    assert line[finding.range.start.character:finding.range.end.character] == "@ text_features.T"


async def test_a_change_is_checked_from_the_unsaved_buffer(project: Path) -> None:
    before = snapshot(project)
    async with session(project) as editor:
        uri = editor.open("single.py")
        assert len(await editor.diagnostics(uri)) == 1
        normalize = "    text_features = text_features / text_features.norm(dim=-1, keepdim=True)\n"
        at_line_3 = types.Range(types.Position(3, 0), types.Position(3, 0))
        assert await editor.diagnostics(uri, editor.change(uri, [types.TextEdit(at_line_3, normalize)])) == []
        removed = types.Range(types.Position(3, 0), types.Position(4, 0))
        back = await editor.diagnostics(uri, editor.change(uri, [types.TextEdit(removed, "")]))
        assert [d.code for d in back] == ["CLN001"]
        # a whole-text change (a client without incremental sync) is read as well
        assert await editor.diagnostics(uri, editor.replace_all(uri, "x = 1\n")) == []
    assert snapshot(project) == before  # the server read the buffer; it wrote nothing


async def test_a_quickfix_is_the_commands_fix_and_leaves_the_file_clean(project: Path, tmp_path: Path) -> None:
    before = snapshot(project)
    async with session(project) as editor:
        uri = editor.open("single.py")
        found = await editor.diagnostics(uri)
        actions = await editor.actions(uri, found, only=[types.CodeActionKind.QuickFix])
        quickfix = next(action for action in actions if action.title.startswith("Normalize"))
        assert quickfix.kind == types.CodeActionKind.QuickFix and quickfix.is_preferred
        assert [d.code for d in quickfix.diagnostics or []] == ["CLN001"]
        version = editor.apply(quickfix)[uri]
        assert await editor.diagnostics(uri, version) == []
        fixed_in_editor = editor.texts[uri]
    assert fixed_in_editor == fixed_by_command(project / "single.py", tmp_path)
    assert snapshot(project) == before  # the edit went to the editor, not to the file


async def test_add_noqa_silences_the_finding(project: Path) -> None:
    async with session(project) as editor:
        uri = editor.open("single.py")
        found = await editor.diagnostics(uri)
        noqa = next(a for a in await editor.actions(uri, found) if a.title == "Add '# noqa: CLN001'")
        assert noqa.kind == types.CodeActionKind.QuickFix
        version = editor.apply(noqa)[uri]
        assert await editor.diagnostics(uri, version) == []
        assert editor.texts[uri].splitlines()[4] == "    return image_features @ text_features.T  # noqa: CLN001"


async def test_fix_all_is_the_commands_fix(project: Path, tmp_path: Path) -> None:
    async with session(project) as editor:
        uri = editor.open("two.py")
        assert len(await editor.diagnostics(uri)) == 2
        actions = await editor.actions(uri, only=["source.fixAll"])  # what an editor asks on save
        assert [(action.kind, action.title) for action in actions] == [(FIX_ALL, "Fix all clip-lint findings")]
        version = editor.apply(actions[0])[uri]
        assert await editor.diagnostics(uri, version) == []
        assert await editor.actions(uri, only=[FIX_ALL]) == []  # nothing left to fix
        fixed_in_editor = editor.texts[uri]
    assert fixed_in_editor == fixed_by_command(project / "two.py", tmp_path)


async def test_a_helper_edit_rechecks_its_open_caller(project: Path) -> None:
    before = snapshot(project)
    async with session(project) as editor:
        caller, helper = editor.open("pkg/main.py"), editor.open("pkg/helpers.py")
        (first,) = await editor.diagnostics(caller)
        assert "'image_features'" in first.message and "'text_features'" in first.message
        mark = editor.mark()
        everything = types.Range(types.Position(0, 0), types.Position(2, 0))
        editor.change(helper, [types.TextEdit(everything, NORMALIZED_HELPER)])  # typed, not saved
        (second,) = await editor.diagnostics(caller, after=mark)
        assert "'image_features'" not in second.message and "'text_features'" in second.message
        mark = editor.mark()
        editor.close(helper)  # closed without saving: the disk's text counts again
        (third,) = await editor.diagnostics(caller, after=mark)
        assert third.message == first.message
    assert snapshot(project) == before


async def test_a_watched_file_change_rechecks_its_open_caller(project: Path) -> None:
    async with session(project) as editor:
        registration = await editor.registration(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
        patterns = [watcher["globPattern"] for watcher in registration.register_options["watchers"]]
        assert "**/*.py" in patterns and "**/pyproject.toml" in patterns
        caller = editor.open("pkg/main.py")
        (first,) = await editor.diagnostics(caller)
        mark = editor.mark()
        (project / "pkg" / "helpers.py").write_text(NORMALIZED_HELPER, encoding="utf-8")  # another tool wrote it
        event = types.FileEvent(uri=editor.uri("pkg/helpers.py"), type=types.FileChangeType.Changed)
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[event]))
        (second,) = await editor.diagnostics(caller, after=mark)
        assert "'image_features'" not in second.message and second.message != first.message


async def test_a_created_helper_module_rechecks_the_open_files_that_looked_for_it(project: Path) -> None:
    """The caller's import resolves to nothing until ``pkg/extra.py`` appears: its check looked for
    that file, so the watcher's "created" event checks it again (and "deleted" once more)."""
    (project / "pkg" / "uses_extra.py").write_text(CALLER.replace("pkg.helpers", "pkg.extra"), encoding="utf-8")
    async with session(project) as editor:
        caller, bystander = editor.open("pkg/uses_extra.py"), editor.open("pkg/main.py")
        (first,) = await editor.diagnostics(caller)
        await editor.diagnostics(bystander)
        assert "'image_features'" not in first.message  # embed() is unknown: only text_features is raw
        mark = editor.mark()
        (project / "pkg" / "extra.py").write_text(HELPER, encoding="utf-8")
        created = types.FileEvent(uri=editor.uri("pkg/extra.py"), type=types.FileChangeType.Created)
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[created]))
        (second,) = await editor.diagnostics(caller, after=mark)
        assert "'image_features' (from encode_image via pkg/extra.py:2)" in second.message
        mark = editor.mark()
        (project / "pkg" / "extra.py").unlink()
        deleted = types.FileEvent(uri=editor.uri("pkg/extra.py"), type=types.FileChangeType.Deleted)
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[deleted]))
        (third,) = await editor.diagnostics(caller, after=mark)
        assert third.message == first.message


async def test_a_helper_opened_before_it_exists_on_disk_is_seen_by_its_importer(project: Path) -> None:
    """An editor's new, unsaved file is a module for its importers from the moment it is open."""
    (project / "pkg" / "uses_extra.py").write_text(CALLER.replace("pkg.helpers", "pkg.extra"), encoding="utf-8")
    async with session(project) as editor:
        caller = editor.open("pkg/uses_extra.py")
        (first,) = await editor.diagnostics(caller)
        mark = editor.mark()
        extra = editor.open("pkg/extra.py", HELPER)  # no such file on disk
        (second,) = await editor.diagnostics(caller, after=mark)
        assert "'image_features' (from encode_image via pkg/extra.py:2)" in second.message
        mark = editor.mark()
        editor.close(extra)  # closed unsaved: the module is gone again
        (third,) = await editor.diagnostics(caller, after=mark)
        assert third.message == first.message
    assert not (project / "pkg" / "extra.py").exists()


async def test_a_saved_helper_rechecks_its_open_caller(project: Path) -> None:
    async with session(project) as editor:
        caller = editor.open("pkg/main.py")
        (first,) = await editor.diagnostics(caller)
        mark = editor.mark()
        (project / "pkg" / "helpers.py").write_text(NORMALIZED_HELPER, encoding="utf-8")
        helper = editor.uri("pkg/helpers.py")
        editor.client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(helper)))
        (second,) = await editor.diagnostics(caller, after=mark)
        assert "'image_features'" not in second.message


def children_of(pid: int) -> List[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_shutdown_and_exit_end_with_status_0_and_leave_no_process(project: Path) -> None:
    async with session(project) as editor:
        editor.open("single.py")
        await editor.diagnostics(editor.uri("single.py"))
        client = editor.client
        server_pid = client._server.pid  # type: ignore[attr-defined]
        analysis_pids = children_of(server_pid) if Path("/proc/self/stat").exists() else []
    assert exit_code(client) == 0
    deadline = time.monotonic() + 10  # an exiting process may take a moment to be reaped
    while any(alive(pid) for pid in analysis_pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert analysis_pids and not [pid for pid in analysis_pids if alive(pid)]


async def test_exit_without_shutdown_ends_with_status_1(project: Path) -> None:
    async with session(project) as editor:
        editor.open("single.py")
        await editor.diagnostics(editor.uri("single.py"))
        client = editor.client
        client.exit(None)  # the LSP rule: exit before shutdown is an error
        await client._server.wait()  # type: ignore[attr-defined]
        assert exit_code(client) == 1
        client.capabilities = None  # nothing left to shut down


FAULTS = '''\
"""Faults injected into the analysis of a clip-lint server under test (tests/server only)."""
import os

import clip_lint.engine.analyzer as analyzer

_run = analyzer.Analyzer.run


def _run_or_fail(self):
    if "CRASH_THE_INTERPRETER" in self.source:
        os.abort()  # what a native crash (a segfault in a parser) does to a process
    if "RAISE_IN_THE_ANALYSIS" in self.source:
        raise RuntimeError("a bug in the engine")
    return _run(self)


analyzer.Analyzer.run = _run_or_fail
'''

ONE_LINE_BUG = """\
def score(model, images, texts):  # {marker}
    return model.encode_image(images) @ model.encode_text(texts).T
"""


async def test_a_crash_in_one_file_is_one_cln900_and_the_server_lives_on(project: Path, tmp_path: Path) -> None:
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "sitecustomize.py").write_text(FAULTS, encoding="utf-8")
    env = server_env(PYTHONPATH=os.pathsep.join(filter(None, [str(faults), os.environ.get("PYTHONPATH")])))
    async with session(project, env=env) as editor:
        crash = editor.open("crash.py", ONE_LINE_BUG.format(marker="CRASH_THE_INTERPRETER"))
        (crashed,) = await editor.diagnostics(crash)
        assert crashed.code == "CLN900" and "crashed the analysis process (killed by SIGABRT)" in crashed.message
        healthy = editor.open("single.py")  # a new analysis process answers the next file
        assert [d.code for d in await editor.diagnostics(healthy)] == ["CLN001"]
        buggy = editor.open("bug.py", ONE_LINE_BUG.format(marker="RAISE_IN_THE_ANALYSIS"))
        (raised,) = await editor.diagnostics(buggy)
        assert raised.code == "CLN900" and "internal error RuntimeError: a bug in the engine" in raised.message
        start = editor.texts[crash].index("CRASH_THE_INTERPRETER")
        marker = types.Range(types.Position(0, start), types.Position(0, start + len("CRASH_THE_INTERPRETER")))
        fixed = editor.change(crash, [types.TextEdit(marker, "fine now")])  # the user edits the file
        assert editor.texts[crash].startswith("def score(model, images, texts):  # fine now\n")
        assert [d.code for d in await editor.diagnostics(crash, fixed)] == ["CLN001"]
        client = editor.client
    assert exit_code(client) == 0


async def test_configuration_is_the_commands_and_is_read_again_when_it_changes(project: Path) -> None:
    async with session(project) as editor:
        uri = editor.open("two.py")
        assert len(await editor.diagnostics(uri)) == 2
        mark = editor.mark()
        (project / "pyproject.toml").write_text(
            '[tool.clip-lint]\nper-file-ignores = { "two.py" = ["CLN001"] }\n', encoding="utf-8"
        )
        event = types.FileEvent(uri=editor.uri("pyproject.toml"), type=types.FileChangeType.Changed)
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[event]))
        assert await editor.diagnostics(uri, after=mark) == []
        mark = editor.mark()
        (project / "pyproject.toml").write_text('[tool.clip-lint]\nexclude = ["two.py"]\n', encoding="utf-8")
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[event]))
        assert await editor.diagnostics(uri, after=mark) == []  # excluded: nothing, as the command
        mark = editor.mark()
        (project / "pyproject.toml").write_text("[tool.clip-lint]\n", encoding="utf-8")
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[event]))
        assert len(await editor.diagnostics(uri, after=mark)) == 2
