"""``clip-lint server``: the Language Server Protocol side, on pygls and lsprotocol.

It keeps the open texts (files and notebook cells) as the editor has them, asks the analysis
process (``worker``) to check them, and publishes what it finds: on open, and after each
change once typing pauses (``DEBOUNCE_SECONDS``). Each check reports what it read of the
project: the files whose text it used and the paths whose existence it asked about. When
a module changes (a change to its open buffer, a save, a file watcher's event) the open
files whose last check read it are checked again; when one is created or deleted (or
opened or closed in the editor), so are those whose last check looked for it. Code actions
are the command's fixes: a quickfix per fixable finding, "add noqa" per finding, and
``source.fixAll.clip-lint``. The server never writes a file: every edit goes to the editor,
which applies it.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from clip_lint import __version__
from clip_lint.config.files import CONFIG_FILES
from clip_lint.frontends.reporting import rule_url
from clip_lint.frontends.runner import PARSE_ERROR, cannot_analyse_message
from clip_lint.frontends.server.analysis import FIX_ALL, Action, Checked, Source, Spot, Target
from clip_lint.frontends.server.texts import UTF8, UTF16, UTF32, Text, replacements
from clip_lint.frontends.server.worker import AnalysisFailed, AnalysisProcess
from clip_lint.project.modules import ROOT_MARKERS
from clip_lint.sources.documents import MARKDOWN_SUFFIXES, NOTEBOOK_SUFFIXES, PYTHON_SUFFIXES

NAME = "clip-lint"
FIX_ALL_KIND = "source.fixAll.clip-lint"
#: How long typing must pause before a changed text is checked (a check of a big file takes ~0.1 s).
DEBOUNCE_SECONDS = 0.025
LANGUAGES = frozenset({"python", "markdown"})
#: Files whose change re-checks every open document: configuration, and what marks a project's root.
EVERYTHING_FILES = frozenset(CONFIG_FILES) | frozenset(ROOT_MARKERS)
WATCHED = ["**/*.py", "**/*.pyi", *(f"**/{name}" for name in sorted(EVERYTHING_FILES - {"setup.py"}))]
SEVERITY = types.DiagnosticSeverity.Warning


@dataclass
class OpenFile:
    """An open text document the server checks."""

    uri: str
    path: str  # the real path ("-" for a document with no file, as the command's stdin)
    text: Text
    saved: Optional[str] = None  # the text as last read from or saved to disk

    def source(self) -> Source:
        return Source(self.path, text=self.text.text, on_disk=self.text.text == self.saved)

    def targets(self) -> Dict[Target, Tuple[str, Text]]:
        return {None: (self.uri, self.text)}


@dataclass
class Cell:
    uri: str
    code: bool
    text: Text


@dataclass
class OpenNotebook:
    """An open notebook (LSP 3.17 notebook document sync): its cells in order."""

    uri: str
    path: str
    version: int = 0
    cells: List[Cell] = field(default_factory=list)

    def source(self) -> Source:
        return Source(self.path, cells=tuple((cell.code, cell.text.text) for cell in self.cells), notebook=True)

    def targets(self) -> Dict[Target, Tuple[str, Text]]:
        return {index: (cell.uri, cell.text) for index, cell in enumerate(self.cells)}


Document = Union[OpenFile, OpenNotebook]


def path_of(uri: str) -> str:
    """The real path of a ``file:`` URI; "-" for any other (an unsaved "untitled" buffer)."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return os.path.realpath(path) if path else "-"


class ClipLintServer(LanguageServer):
    """The server's state: open documents, what each one's last check read, pending checks."""

    def __init__(self, analysis: AnalysisProcess) -> None:
        notebooks = types.NotebookDocumentSyncOptions(
            notebook_selector=[
                types.NotebookDocumentFilterWithCells(
                    cells=[types.NotebookCellLanguage(language="python")], notebook="*"
                )
            ],
            save=True,
        )
        super().__init__(NAME, __version__, types.TextDocumentSyncKind.Incremental, notebooks)
        self.analysis = analysis
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-lint-check")
        self.documents: Dict[str, Document] = {}
        self.cell_owner: Dict[str, str] = {}  # cell URI -> notebook URI
        self.reads: Dict[str, Set[str]] = {}  # document URI -> files its last check read
        self.probes: Dict[str, Set[str]] = {}  # document URI -> paths whose existence it asked about
        self.spots: Dict[str, Tuple[Tuple[Any, ...], List[Spot]]] = {}  # URI -> (versions checked, spots)
        self.failed: Dict[str, Tuple[Source, str]] = {}  # URI -> the source that made the analysis fail
        self.pending: Dict[str, asyncio.TimerHandle] = {}
        self.unsynced: Dict[str, Optional[str]] = {}  # module texts the analysis process hasn't seen yet
        self.encoding = UTF16

    # --- the analysis process, one request at a time

    async def ask(self, method: str, *args: Any) -> Any:
        texts, self.unsynced = self.unsynced, {}

        def run() -> Any:
            if texts:
                self.analysis.call("set_texts", texts)
            return self.analysis.call(method, *args)

        return await asyncio.get_running_loop().run_in_executor(self.executor, run)

    def module_changed(self, path: str, text: Optional[str]) -> None:
        """An open module's text (None: back to the disk's), for the next request."""
        if path.endswith(PYTHON_SUFFIXES):
            self.unsynced[path] = text

    # --- checking

    def schedule(self, uri: str, delay: float = DEBOUNCE_SECONDS) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(delay, lambda: loop.create_task(self.check(uri)))

    def schedule_dependents(
        self, paths: Iterable[str], changed_by: Optional[str] = None, appeared: bool = False
    ) -> None:
        """Check again every open document whose last check read one of ``paths``; with
        ``appeared`` (files created or deleted), also those that asked whether one of them, or
        anything under it (a folder), exists."""
        wanted = set(paths)
        for uri, read in list(self.reads.items()):
            if uri != changed_by and depends(read, self.probes.get(uri, set()), wanted, appeared):
                self.schedule(uri)

    async def check(self, uri: str) -> None:
        self.pending.pop(uri, None)
        document = self.documents.get(uri)
        if document is None:
            return
        versions, source = self.versions(document), document.source()
        failed = self.failed.get(uri)
        if failed is not None and failed[0] == source:
            checked = Checked([crash_spot(failed[1])], ())  # the same text would crash it again
        else:
            try:
                checked = await self.ask("check", source)
                self.failed.pop(uri, None)
            except AnalysisFailed as failure:
                self.failed[uri] = (source, str(failure))
                checked = Checked(
                    [crash_spot(str(failure))], tuple(self.reads.get(uri, ())), tuple(self.probes.get(uri, ()))
                )
        if self.documents.get(uri) is not document or self.versions(document) != versions:
            return  # changed meanwhile: the check scheduled by that change answers it
        self.reads[uri] = set(checked.reads)
        self.probes[uri] = set(checked.probes)
        self.spots[uri] = (versions, checked.spots)
        self.publish(document, checked.spots)

    @staticmethod
    def versions(document: Document) -> Tuple[Any, ...]:
        if isinstance(document, OpenFile):
            return (document.text.version, document.text.text)
        return tuple((cell.uri, cell.text.version, cell.text.text) for cell in document.cells)

    def publish(self, document: Document, spots: Sequence[Spot]) -> None:
        targets = document.targets()
        by_target: Dict[Target, List[types.Diagnostic]] = {target: [] for target in targets}
        for index, spot in enumerate(spots):
            target = spot.cell if spot.cell in targets else next(iter(targets), None)
            if target in targets:
                by_target[target].append(self.diagnostic(spot, index, targets[target][1]))
        for target, diagnostics in by_target.items():
            uri, text = targets[target]
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=text.version)
            )

    def diagnostic(self, spot: Spot, index: int, text: Text) -> types.Diagnostic:
        start = text.position(spot.line, spot.col, self.encoding)
        end = text.position(spot.end_line, spot.end_col, self.encoding)
        url = rule_url(spot.code)
        return types.Diagnostic(
            range=types.Range(types.Position(*start), types.Position(*max(start, end))),
            message=spot.message,
            severity=SEVERITY,
            code=spot.code,
            code_description=types.CodeDescription(href=url) if url else None,
            source=NAME,
            data={"spot": index, "version": text.version},
        )

    def clear(self, document: Document) -> None:
        for uri, text in document.targets().values():
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        self.reads.pop(document.uri, None)
        self.probes.pop(document.uri, None)
        self.spots.pop(document.uri, None)
        self.failed.pop(document.uri, None)
        handle = self.pending.pop(document.uri, None)
        if handle is not None:
            handle.cancel()

    # --- code actions

    async def code_actions(self, params: types.CodeActionParams) -> List[types.CodeAction]:
        uri = params.text_document.uri
        owner = self.cell_owner.get(uri, uri)
        document = self.documents.get(owner)
        known = self.spots.get(owner)
        if document is None or known is None or known[0] != self.versions(document):
            return []  # not checked in this state yet: the actions would not match the diagnostics
        only = params.context.only
        spots = [] if not wants(only, types.CodeActionKind.QuickFix) else self.spots_at(document, uri, params, known[1])
        fix_all = wants(only, FIX_ALL_KIND) and any(spot.fixable and spot.fix_safe for spot in known[1])
        if not spots and not fix_all:
            return []
        try:
            actions = await self.ask("actions", document.source(), spots, fix_all)
        except AnalysisFailed:
            return []
        if self.documents.get(owner) is not document or self.versions(document) != known[0]:
            return []
        return [self.code_action(document, action, known[1]) for action in actions]

    def spots_at(self, document: Document, uri: str, params: types.CodeActionParams, spots: List[Spot]) -> List[int]:
        """The findings the request is about: its diagnostics of ours, else those its range touches."""
        indices = []
        for diagnostic in params.context.diagnostics:
            data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
            if diagnostic.source == NAME and isinstance(data.get("spot"), int) and data["spot"] < len(spots):
                indices.append(data["spot"])
        if indices or params.context.diagnostics:
            return sorted(set(indices))
        targets = document.targets()
        for index, spot in enumerate(spots):
            target_uri, text = targets[spot.cell if spot.cell in targets else next(iter(targets))]
            if target_uri != uri:
                continue
            start = text.position(spot.line, spot.col, self.encoding)
            end = text.position(spot.end_line, spot.end_col, self.encoding)
            if (start[0], start[1]) <= (params.range.end.line, params.range.end.character) and (
                (params.range.start.line, params.range.start.character) <= (end[0], end[1])
            ):
                indices.append(index)
        return indices

    def code_action(self, document: Document, action: Action, spots: List[Spot]) -> types.CodeAction:
        kind = FIX_ALL_KIND if action.kind == FIX_ALL else types.CodeActionKind.QuickFix
        diagnostics = None
        if action.spot is not None:
            spot, targets = spots[action.spot], document.targets()
            _, text = targets[spot.cell if spot.cell in targets else next(iter(targets))]
            diagnostics = [self.diagnostic(spot, action.spot, text)]
        return types.CodeAction(
            title=action.title,
            kind=kind,
            diagnostics=diagnostics,
            edit=self.workspace_edit(document, action.texts),
            is_preferred=action.preferred or None,
        )

    def workspace_edit(self, document: Document, texts: Dict[Target, str]) -> types.WorkspaceEdit:
        targets = document.targets()
        edits: List[Tuple[str, Text, List[types.TextEdit]]] = []
        for target, new_text in texts.items():
            uri, text = targets[target]
            changes = [
                types.TextEdit(
                    range=types.Range(
                        types.Position(*text.position_at(item.start, self.encoding)),
                        types.Position(*text.position_at(item.end, self.encoding)),
                    ),
                    new_text=item.text,
                )
                for item in replacements(text.text, new_text)
            ]
            edits.append((uri, text, changes))
        if self.document_changes_supported():
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=text.version),
                        edits=changes,
                    )
                    for uri, text, changes in edits
                ]
            )
        return types.WorkspaceEdit(changes={uri: changes for uri, _, changes in edits})

    def document_changes_supported(self) -> bool:
        workspace = self.client_capabilities.workspace
        edit = workspace.workspace_edit if workspace is not None else None
        return bool(edit is not None and edit.document_changes)


def depends(read: Set[str], looked_for: Set[str], changed: Set[str], appeared: bool) -> bool:
    """Whether a check that read the files ``read`` and probed the paths ``looked_for`` may answer
    otherwise once the files ``changed`` have changed (``appeared``: been created or deleted;
    a path may be a folder, which holds what was read or looked for under it)."""
    if read & changed:
        return True
    if not appeared:
        return False
    if looked_for & changed:
        return True
    folders = tuple(path.rstrip(os.sep) + os.sep for path in changed)
    return any(path.startswith(folders) for path in read | looked_for)


def wants(only: Optional[Sequence[str]], kind: str) -> bool:
    """Whether a request limited to the kinds ``only`` asks for actions of ``kind``."""
    return only is None or any(kind == asked or kind.startswith(asked + ".") for asked in only)


def crash_spot(reason: str) -> Spot:
    return Spot(PARSE_ERROR, cannot_analyse_message(reason), 0, 0, 0, 0)


def checked_kind(uri: str, language: str) -> bool:
    """Whether a text document is one the command would check: Python or Markdown."""
    path = uri.lower()
    return language in LANGUAGES or path.endswith(PYTHON_SUFFIXES + MARKDOWN_SUFFIXES + NOTEBOOK_SUFFIXES)


def negotiated_encoding(capabilities: types.ClientCapabilities) -> str:
    """The position encoding pygls announces to this client (its first choice that pygls knows)."""
    from pygls.capabilities import ServerCapabilitiesBuilder

    chosen = ServerCapabilitiesBuilder.choose_position_encoding(capabilities)
    return {types.PositionEncodingKind.Utf32: UTF32, types.PositionEncodingKind.Utf8: UTF8}.get(chosen, UTF16)


def read_disk(path: str) -> Optional[str]:
    from clip_lint.sources.documents import decode, kind_of

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return decode(data, kind_of(path))[0]


def build_server(analysis: AnalysisProcess) -> ClipLintServer:
    """The server with its handlers registered."""
    server = ClipLintServer(analysis)
    register_documents(server)
    register_notebooks(server)
    register_workspace(server)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND]),
    )
    async def code_action(params: types.CodeActionParams) -> List[types.CodeAction]:
        return await server.code_actions(params)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.encoding = negotiated_encoding(params.capabilities)

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        workspace = server.client_capabilities.workspace
        watching = workspace.did_change_watched_files if workspace is not None else None
        if watching is not None and watching.dynamic_registration:
            watchers = [types.FileSystemWatcher(glob_pattern=pattern) for pattern in WATCHED]
            options = types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers)
            registration = types.Registration(
                id="clip-lint-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options
            )
            try:
                await server.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
            except Exception as error:  # the client refused: saves and open buffers still re-check importers
                server.window_log_message(
                    types.LogMessageParams(types.MessageType.Warning, f"clip-lint: no file watching: {error}")
                )

    @server.feature(types.SHUTDOWN)
    def shutdown(params: None) -> None:
        for handle in server.pending.values():
            handle.cancel()
        server.pending.clear()
        server.executor.shutdown(wait=False, cancel_futures=True)
        server.analysis.close()

    return server


def register_documents(server: ClipLintServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        if not checked_kind(item.uri, item.language_id):
            return
        path = path_of(item.uri)
        document = OpenFile(item.uri, path, Text(item.text, item.version), read_disk(path) if path != "-" else None)
        server.documents[item.uri] = document
        server.module_changed(path, item.text)
        server.schedule(item.uri, 0)
        if item.text != document.saved:  # an unsaved text (maybe of no file yet): what importers see changes
            server.schedule_dependents([path], item.uri, appeared=document.saved is None)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        document = server.documents.get(params.text_document.uri)
        if not isinstance(document, OpenFile):
            return
        apply_changes(document.text, params.content_changes, server.encoding)
        document.text.version = params.text_document.version
        server.module_changed(document.path, document.text.text)
        server.schedule(document.uri)
        server.schedule_dependents([document.path], document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = server.documents.get(uri)
        path = path_of(uri)
        if isinstance(document, OpenFile):
            document.saved = params.text if params.text is not None else read_disk(path)
        disk_changed(server, [path])

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        document = server.documents.pop(params.text_document.uri, None)
        if isinstance(document, OpenFile):
            server.clear(document)
            server.module_changed(document.path, None)
            server.schedule_dependents([document.path], appeared=not os.path.isfile(document.path))
            server.executor.submit(server.analysis.call, "forget", document.path)


def apply_changes(text: Text, changes: Sequence[types.TextDocumentContentChangeEvent], encoding: str) -> None:
    for change in changes:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start, end = change.range.start, change.range.end
            text.change((start.line, start.character), (end.line, end.character), change.text, encoding)
        else:
            text.text = change.text


def disk_changed(server: ClipLintServer, changed: Sequence[str], appeared: Sequence[str] = ()) -> None:
    """Files changed, or were created or deleted (``appeared``), on disk: configuration is read
    again; the open files whose last check read them, or looked for them, are checked again."""
    paths = [*changed, *appeared]
    if any(os.path.basename(path) in EVERYTHING_FILES for path in paths):
        if any(os.path.basename(path) in CONFIG_FILES for path in paths):
            server.executor.submit(server.analysis.call, "reload_settings")
        for uri in server.documents:  # the settings, or the project's root, of any file may change
            server.schedule(uri)
        return
    server.schedule_dependents(changed)
    server.schedule_dependents(appeared, appeared=True)


def register_workspace(server: ClipLintServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        changed, appeared = [], []
        for change in params.changes:
            path = path_of(change.uri)
            if path == "-":
                continue
            (changed if change.type == types.FileChangeType.Changed else appeared).append(path)
        if changed or appeared:
            disk_changed(server, changed, appeared)


def register_notebooks(server: ClipLintServer) -> None:
    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenNotebookDocumentParams) -> None:
        notebook = params.notebook_document
        texts = {item.uri: item for item in params.cell_text_documents}
        document = OpenNotebook(notebook.uri, path_of(notebook.uri), notebook.version)
        for cell in notebook.cells:
            item = texts.get(cell.document)
            code = cell.kind == types.NotebookCellKind.Code
            text = Text(item.text, item.version) if item is not None else Text("")
            document.cells.append(Cell(cell.document, code, text))
            server.cell_owner[cell.document] = notebook.uri
        server.documents[notebook.uri] = document
        server.schedule(notebook.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeNotebookDocumentParams) -> None:
        document = server.documents.get(params.notebook_document.uri)
        if not isinstance(document, OpenNotebook):
            return
        document.version = params.notebook_document.version
        cells = params.change.cells
        if cells is not None:
            if cells.structure is not None:
                restructure(server, document, cells.structure)
            for change in cells.text_content or []:
                cell = next((c for c in document.cells if c.uri == change.document.uri), None)
                if cell is not None:
                    apply_changes(cell.text, change.changes, server.encoding)
                    cell.text.version = change.document.version
        server.schedule(document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseNotebookDocumentParams) -> None:
        document = server.documents.pop(params.notebook_document.uri, None)
        if isinstance(document, OpenNotebook):
            server.clear(document)
            for cell in document.cells:
                server.cell_owner.pop(cell.uri, None)


def restructure(
    server: ClipLintServer, document: OpenNotebook, structure: types.NotebookDocumentCellChangeStructure
) -> None:
    """Cells added, removed or moved (a move is a removal and an insertion)."""
    texts = {item.uri: item for item in structure.did_open or []}
    closed = {item.uri for item in structure.did_close or []}
    previous = {cell.uri: cell for cell in document.cells}
    new_cells = []
    for cell in structure.array.cells or []:
        item = texts.get(cell.document)
        old = previous.get(cell.document)
        text = Text(item.text, item.version) if item is not None else old.text if old is not None else Text("")
        new_cells.append(Cell(cell.document, cell.kind == types.NotebookCellKind.Code, text))
        server.cell_owner[cell.document] = document.uri
    start, count = structure.array.start, structure.array.delete_count
    removed = document.cells[start:start + count]
    document.cells[start:start + count] = new_cells
    for cell in removed:
        if cell.uri in closed or cell.uri not in {c.uri for c in document.cells}:
            server.cell_owner.pop(cell.uri, None)
            server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell.uri, diagnostics=[]))
