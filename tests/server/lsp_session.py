"""A real LSP client (pytest-lsp's, on pygls) driving the installed ``clip-lint server`` over stdio.

``Session`` opens and edits documents as an editor does, waits for the diagnostics that
answer a given version, asks for code actions and applies their edits to its own copy of
the text, the way an editor would, then tells the server about the change.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple

from lsprotocol import types
from pygls.protocol import default_converter
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
WAIT_SECONDS = 60.0
FIX_ALL = "source.fixAll.clip-lint"


def server_command() -> List[str]:
    """The installed ``clip-lint`` script beside this interpreter (what an editor starts)."""
    script = Path(sys.executable).with_name("clip-lint")
    if script.exists():
        return [str(script), "server"]
    return [sys.executable, "-m", "clip_lint.cli", "server"]  # pragma: no cover - a venv always has it


def command_findings(paths: Sequence[Path], cwd: Path) -> List[Tuple[str, int, int, str, str]]:
    """What ``clip-lint --format json`` reports: (path, line, column, code, message), 0-based."""
    run = subprocess.run(
        [sys.executable, "-m", "clip_lint.cli", "--format", "json", "--no-cache", *map(str, paths)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr
    return sorted(
        (os.path.realpath(f["path"] if os.path.isabs(f["path"]) else cwd / f["path"]), f["line"] - 1, f["column"] - 1,
         f["code"], f["message"])
        for f in json.loads(run.stdout)["findings"]
    )  # fmt: skip


def make_client() -> LanguageClient:
    """pytest-lsp's test client, which also keeps every diagnostics notification in order."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]
    client.registrations = []  # type: ignore[attr-defined]

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.published.append(params)  # type: ignore[attr-defined]
        client.diagnostics[params.uri] = params.diagnostics

    def register(client: LanguageClient, params: types.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    features: Dict[str, Any] = dict(DEFAULT_CLIENT_FEATURES)
    features[PUBLISH] = publish
    features[types.CLIENT_REGISTER_CAPABILITY] = register
    register_lsp_features(client, features)
    return client


class Session:
    """One editor session with the server, rooted at a project folder."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.texts: Dict[str, str] = {}
        self.versions: Dict[str, int] = {}

    # --- documents

    def uri(self, name: str) -> str:
        return from_fs_path(str(self.root / name))

    def open(self, name: str, text: Optional[str] = None, language: str = "python") -> str:
        uri = self.uri(name)
        text = (self.root / name).read_text(encoding="utf-8") if text is None else text
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text)))
        return uri

    def change(self, uri: str, edits: Sequence[types.TextEdit]) -> int:
        """Apply ``edits`` here and send them as incremental changes; the new version."""
        from clip_lint.frontends.server.texts import Text

        text = Text(self.texts[uri])
        changes = []
        for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            start, end = edit.range.start, edit.range.end
            text.change((start.line, start.character), (end.line, end.character), edit.new_text, "utf-16")
            changes.append(types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text))
        self.texts[uri] = text.text
        self.versions[uri] += 1
        identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri])
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, changes))
        return self.versions[uri]

    def replace_all(self, uri: str, text: str) -> int:
        """Send a whole new text (as a client without incremental sync does)."""
        self.texts[uri] = text
        self.versions[uri] += 1
        identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri])
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(identifier, [types.TextDocumentContentChangeWholeDocument(text=text)])
        )
        return self.versions[uri]

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))

    # --- diagnostics

    async def diagnostics(
        self, uri: str, version: Optional[int] = None, after: int = 0,
        accept: Callable[[Sequence[types.Diagnostic]], bool] = lambda found: True,
    ) -> List[types.Diagnostic]:  # fmt: skip
        """The first diagnostics for ``uri`` published after notification number ``after`` that
        answer ``version`` (default: the version the client is at) and that ``accept`` takes."""
        version = self.versions.get(uri) if version is None else version
        deadline = time.monotonic() + WAIT_SECONDS
        seen = after
        while time.monotonic() < deadline:
            published = self.client.published  # type: ignore[attr-defined]
            for params in published[seen:]:
                if params.uri == uri and (version is None or params.version == version) and accept(params.diagnostics):
                    return list(params.diagnostics)
            seen = len(published)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no diagnostics for {uri} at version {version} within {WAIT_SECONDS} s")

    def mark(self) -> int:
        """The number of diagnostics notifications so far (for ``diagnostics(after=...)``)."""
        return len(self.client.published)  # type: ignore[attr-defined]

    async def registration(self, method: str) -> types.Registration:
        """The server's dynamic registration of ``method`` (it asks after ``initialized``)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            for registration in self.client.registrations:  # type: ignore[attr-defined]
                if registration.method == method:
                    return registration
            await asyncio.sleep(0.01)
        raise AssertionError(f"the server did not register {method}")

    # --- code actions

    async def actions(
        self, uri: str, diagnostics: Sequence[types.Diagnostic] = (), only: Optional[List[str]] = None,
        at: Optional[types.Range] = None,
    ) -> List[types.CodeAction]:  # fmt: skip
        where = at or (diagnostics[0].range if diagnostics else types.Range(types.Position(0, 0), types.Position(0, 0)))
        context = types.CodeActionContext(diagnostics=list(diagnostics), only=only)
        found = await self.client.text_document_code_action_async(
            types.CodeActionParams(types.TextDocumentIdentifier(uri), where, context)
        )
        return [action for action in found or [] if isinstance(action, types.CodeAction)]

    def apply(self, action: types.CodeAction) -> Dict[str, int]:
        """Apply a code action's edit as an editor does; each changed document's new version."""
        assert action.edit is not None
        versions = {}
        for change in action.edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit)
            uri = change.text_document.uri
            assert change.text_document.version == self.versions[uri], "an edit for a version the editor is not at"
            versions[uri] = self.change(uri, [edit for edit in change.edits if isinstance(edit, types.TextEdit)])
        for uri, edits in (action.edit.changes or {}).items():
            versions[uri] = self.change(uri, edits)
        return versions


@asynccontextmanager
async def session(
    root: Path, capabilities: str = "visual-studio-code", env: Optional[Dict[str, str]] = None,
    client_capabilities_override: Optional[types.ClientCapabilities] = None,
) -> AsyncIterator[Session]:  # fmt: skip
    """A server started as an editor starts it, initialized for ``root``; shut down at the end."""
    config = ClientServerConfig(server_command=server_command(), client_factory=make_client, server_env=env)
    client = await config.start()
    try:
        params = types.InitializeParams(
            capabilities=client_capabilities_override or client_capabilities(capabilities),
            root_uri=from_fs_path(str(root)),
            workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(root)), name=root.name)],
        )
        await client.initialize_session(params)
        yield Session(client, root)
        await client.shutdown_session()
    finally:
        process = getattr(client, "_server", None)
        if process is not None and process.returncode is None:  # a failed test: don't wait for an exit
            process.kill()
        await client.stop()


def server_env(**extra: str) -> Dict[str, str]:
    environment = dict(os.environ)
    environment.update(extra)
    return environment


def exit_code(client: LanguageClient) -> Optional[int]:
    process = getattr(client, "_server", None)
    return None if process is None else process.returncode
