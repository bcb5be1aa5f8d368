"""Generated edit scripts: after every incremental change, the server publishes what the command's
pipeline reports for the text the editor now holds (and edits through a helper reach its caller)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import List, Tuple

import pytest
from conftest import CALLER, HELPER, ONE_FIXABLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsp_session import session
from lsprotocol import types

from clip_lint.frontends.cli import FileSettings, build_parser
from clip_lint.frontends.runner import CHECK, check_path
from clip_lint.project.cache import NO_CACHE
from clip_lint.frontends.server.texts import Text

# Pieces an edit inserts: code that changes the findings, and text that moves positions around.
PIECES = [
    "    text_features = text_features / text_features.norm(dim=-1, keepdim=True)\n",
    "    image_features = F.normalize(image_features, dim=0)\n",
    "import torch.nn.functional as F\n",
    "  # noqa: CLN001",
    "# 😀 é\n",
    "\r\n",
    "\x0c",
    "    return image_features @ text_features.T\n",
    "x",
    "",
]


def edits(length: int) -> st.SearchStrategy:
    """(start, end, replacement) offsets into the current text, drawn as fractions of its length."""
    fraction = st.floats(0, 1)
    return st.lists(st.tuples(st.sampled_from(["single.py", "pkg/helpers.py"]), fraction, fraction, st.sampled_from(PIECES)), min_size=1, max_size=length)


def command_view(mirror: Path, editor, name: str) -> List[Tuple[int, int, str, str]]:
    """What the command's per-file pipeline reports for ``name`` once every open buffer is saved
    (into ``mirror``, a fresh copy of the project, so that no memo of an earlier step answers)."""
    for uri, text in editor.texts.items():
        relative = Path(uri.replace("file://", "")).relative_to(editor.root)
        (mirror / relative).parent.mkdir(parents=True, exist_ok=True)
        (mirror / relative).write_bytes(text.encode("utf-8"))
    (mirror / "pyproject.toml").write_text("[tool.clip-lint]\n", encoding="utf-8")
    (mirror / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    per_file = FileSettings(build_parser().parse_args([]), CHECK)
    path = str(mirror / name)
    result = check_path(path, replace(per_file.settings(path), cache=NO_CACHE))
    return sorted((f.line - 1, f.col, f.code, f.message) for f in result.findings)


async def run_script(root: Path, script) -> None:
    async with session(root) as editor:
        uris = {name: editor.open(name) for name in ("single.py", "pkg/helpers.py", "pkg/main.py")}
        for uri in uris.values():
            await editor.diagnostics(uri)
        step = 0
        for name, start_fraction, end_fraction, piece in script:
            uri = uris[name]
            text = Text(editor.texts[uri])
            first, last = sorted((int(start_fraction * len(text.text)), int(end_fraction * len(text.text))))
            if text.text[first - 1:first + 1] == "\r\n":
                first -= 1  # never between \r and \n: that is no position
            if text.text[last - 1:last + 1] == "\r\n":
                last -= 1
            start, end = text.position_at(first, "utf-16"), text.position_at(last, "utf-16")
            mark = editor.mark()
            version = editor.change(uri, [types.TextEdit(types.Range(types.Position(*start), types.Position(*end)), piece)])
            found = await editor.diagnostics(uri, version, after=mark)
            if name == "pkg/helpers.py":  # the caller is checked again with the helper's buffer
                found = await editor.diagnostics(uris["pkg/main.py"], after=mark)
                name, uri = "pkg/main.py", uris["pkg/main.py"]
            served = sorted(
                (d.range.start.line, code_points(editor.texts[uri], d.range.start), d.code, d.message) for d in found
            )
            step += 1
            assert served == command_view(root.parent / f"{root.name}-saved-{step}", editor, name)


def code_points(text: str, position: types.Position) -> int:
    model = Text(text)
    return model.offset((position.line, position.character), "utf-16") - model.offset((position.line, 0), "utf-16")


def make_project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.clip-lint]\n", encoding="utf-8")
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "helpers.py").write_text(HELPER, encoding="utf-8")
    (root / "pkg" / "main.py").write_text(CALLER, encoding="utf-8")
    (root / "single.py").write_text(ONE_FIXABLE, encoding="utf-8")
    return root


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=edits(4))
def test_after_every_edit_the_server_reports_what_the_command_does(tmp_path: Path, script) -> None:
    asyncio.run(run_script(make_project(tmp_path / f"proj{abs(hash(str(script)))}"), script))


@pytest.mark.nightly
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=edits(12))
def test_after_every_edit_the_server_reports_what_the_command_does_nightly(tmp_path: Path, script) -> None:
    test_after_every_edit_the_server_reports_what_the_command_does.hypothesis.inner_test(tmp_path, script)
