"""Notebooks over LSP 3.17 notebook document sync: the command's findings, in the right cells."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest
from lsprotocol import types
from lsp_session import Session, session
from pygls.uris import from_fs_path

from clip_lint.frontends.server.texts import Text

pytestmark = pytest.mark.asyncio

CELLS = [
    (False, "# Zero-shot\nSome *prose* that mentions encode_image."),
    (True, "%matplotlib inline\nimport torch\nimage_features = model.encode_image(images)"),
    (True, "text_features = model.encode_text(texts)\ntext_features /= text_features.norm(dim=-1, keepdim=True)"),
    (True, "probs = (100.0 * image_features @ text_features.T).softmax(dim=-1)"),
]


def write_notebook(path: Path, cells: List[Tuple[bool, str]]) -> None:
    from clip_lint.frontends.server.analysis import notebook_json

    path.write_text(notebook_json(cells), encoding="utf-8")


def open_notebook(editor: Session, path: Path, cells: List[Tuple[bool, str]]) -> List[str]:
    uri = from_fs_path(str(path))
    cell_uris = [f"vscode-notebook-cell:{path}#cell{index}" for index in range(len(cells))]
    kinds = {True: types.NotebookCellKind.Code, False: types.NotebookCellKind.Markup}
    notebook = types.NotebookDocument(
        uri=uri, notebook_type="jupyter-notebook", version=1,
        cells=[types.NotebookCell(kind=kinds[code], document=cell) for cell, (code, _) in zip(cell_uris, cells)],
    )  # fmt: skip
    items = [
        types.TextDocumentItem(cell, "python" if code else "markdown", 1, text)
        for cell, (code, text) in zip(cell_uris, cells)
    ]
    for cell, (_, text) in zip(cell_uris, cells):
        editor.texts[cell], editor.versions[cell] = text, 1
    editor.client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(notebook, items))
    return cell_uris


def change_cell(editor: Session, notebook: Path, cell: str, edits: List[types.TextEdit], version: int) -> int:
    text = Text(editor.texts[cell])
    changes = []
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = edit.range.start, edit.range.end
        text.change((start.line, start.character), (end.line, end.character), edit.new_text, "utf-16")
        changes.append(types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text))
    editor.texts[cell] = text.text
    editor.versions[cell] += 1
    content = types.NotebookDocumentCellContentChanges(
        document=types.VersionedTextDocumentIdentifier(uri=cell, version=editor.versions[cell]), changes=changes
    )
    editor.client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=version, uri=from_fs_path(str(notebook))),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(text_content=[content])
            ),
        )
    )
    return editor.versions[cell]


def command(path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clip_lint.cli", "--no-cache", *flags, str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


async def test_a_notebook_gets_the_commands_findings_in_its_cells(project: Path) -> None:
    path = project / "zero_shot.ipynb"
    write_notebook(path, CELLS)
    reported = json.loads(command(path, "--format", "json").stdout)["findings"]
    async with session(project) as editor:
        cells = open_notebook(editor, path, CELLS)
        served = [(index, d) for index, cell in enumerate(cells) for d in await editor.diagnostics(cell)]
    expected = [(f["cell"] - 1, f["line"] - 1, f["column"] - 1, f["code"], f["message"]) for f in reported]
    got = [(index, d.range.start.line, d.range.start.character, d.code, d.message) for index, d in served]
    assert got == expected and [index for index, _ in served] == [3]


async def test_a_quickfix_in_a_cell_is_the_commands_fix(project: Path) -> None:
    path = project / "zero_shot.ipynb"
    write_notebook(path, CELLS)
    async with session(project) as editor:
        cells = open_notebook(editor, path, CELLS)
        found = await editor.diagnostics(cells[3])
        actions = await editor.actions(cells[3], found, only=[types.CodeActionKind.QuickFix])
        quickfix = next(action for action in actions if action.title.startswith("Normalize"))
        assert quickfix.edit is not None
        version, mark = 1, editor.mark()
        for change in quickfix.edit.document_changes or []:
            version += 1
            edits = [edit for edit in change.edits if isinstance(edit, types.TextEdit)]
            change_cell(editor, path, change.text_document.uri, edits, version)
        assert [change.text_document.uri for change in quickfix.edit.document_changes or []] == [cells[1]]
        for cell in cells:  # the notebook is checked again: every cell's diagnostics are published
            assert await editor.diagnostics(cell, after=mark) == []
        in_editor = [editor.texts[cell] for cell in cells]
    assert command(path, "--fix").returncode == 0
    fixed = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert in_editor == ["".join(cell["source"]) for cell in fixed]
