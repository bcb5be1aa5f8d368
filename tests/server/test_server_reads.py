"""The server's analysis on the project layer's reader, in this process: each check is a new run
that reads the open buffers in place of the disk, says what it read and looked for, and never
lets a buffer's text into the command's cache."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from conftest import CALLER, HELPER
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
import pytest

from clip_lint.frontends.cli import FileSettings, build_parser
from clip_lint.frontends.runner import CHECK, check_path
from clip_lint.frontends.server.analysis import Analysis, Source
from clip_lint.frontends.server.lsp import depends
from clip_lint.project.cache import CACHE_DIR_NAME, NO_CACHE
from clip_lint.project.modules import new_run

NEW_HELPER_CALLER = CALLER.replace("pkg.helpers", "pkg.extra")
NORMALIZED_HELPER = """\
import torch.nn.functional as F


def embed(model, images):
    return F.normalize(model.encode_image(images), dim=-1)
"""


def make_analysis() -> Analysis:
    return Analysis(partial(FileSettings, build_parser().parse_args([]), CHECK))


def check(analysis: Analysis, path: Path, text: Optional[str] = None):
    real = os.path.realpath(path)
    on_disk = path.read_text(encoding="utf-8") if path.exists() else None
    text = on_disk if text is None else text
    return analysis.check(Source(real, text, on_disk=text == on_disk))


def command(path: Path, cached: bool) -> List[Tuple[int, int, str, str]]:
    """What the command reports for the file on disk, from its cache or without it (a new run)."""
    new_run()
    per_file = FileSettings(build_parser().parse_args([]), CHECK)
    file_settings = per_file.settings(str(path))
    result = check_path(str(path), file_settings if cached else replace(file_settings, cache=NO_CACHE))
    return sorted((f.line, f.col, f.code, f.message) for f in result.findings)


def entries(root: Path) -> List[str]:
    return sorted(str(p.relative_to(root)) for p in (root / CACHE_DIR_NAME).rglob("*.json"))


def test_a_check_says_what_it_read_and_looked_for_and_sees_a_module_created_since(project: Path) -> None:
    analysis = make_analysis()
    caller = project / "pkg" / "caller_of_new.py"
    caller.write_text(NEW_HELPER_CALLER, encoding="utf-8")
    new_module = os.path.realpath(project / "pkg" / "extra.py")
    before = check(analysis, caller)
    assert ["'image_features'" in spot.message for spot in before.spots] == [False]
    assert new_module not in before.reads and new_module in before.probes  # looked for, not there
    assert depends(set(before.reads), set(before.probes), {new_module}, appeared=True)
    assert not depends(set(before.reads), set(before.probes), {new_module}, appeared=False)
    unrelated = os.path.realpath(project / "unrelated.py")
    assert not depends(set(before.reads), set(before.probes), {unrelated}, appeared=True)

    (project / "pkg" / "extra.py").write_text(HELPER, encoding="utf-8")  # nobody tells the analysis
    after = check(analysis, caller)
    assert ["'image_features'" in spot.message for spot in after.spots] == [True]
    assert new_module in after.reads
    assert depends(set(after.reads), set(after.probes), {new_module}, appeared=False)
    package = os.path.realpath(project / "pkg")  # the folder deleted: what was read under it is gone
    assert depends(set(after.reads), set(after.probes), {package}, appeared=True)


def test_an_open_buffer_is_read_before_the_disk_and_never_cached(project: Path) -> None:
    analysis = make_analysis()
    caller, helper = project / "pkg" / "main.py", project / "pkg" / "helpers.py"
    analysis.set_texts({os.path.realpath(helper): NORMALIZED_HELPER})  # typed, not saved
    with_buffer = check(analysis, caller)  # the caller's own text is the disk's: the cache may answer
    assert ["'image_features'" in spot.message for spot in with_buffer.spots] == [False]
    assert os.path.realpath(helper) in with_buffer.reads
    assert entries(project) == []  # the answer depended on a buffer: nothing kept
    assert command(caller, cached=True) == command(caller, cached=False)  # the command reads the disk
    assert "'image_features'" in command(caller, cached=False)[0][3]

    analysis.set_texts({os.path.realpath(helper): None})  # closed without saving
    from_disk = check(analysis, caller)
    assert ["'image_features'" in spot.message for spot in from_disk.spots] == [True]
    assert [spot.message for spot in from_disk.spots] == [finding[3] for finding in command(caller, cached=False)]


# --- generated sessions: whatever the editor does, the command's cache stays true --------------

HELPER_TEXTS = [HELPER, NORMALIZED_HELPER, HELPER + "# a comment\n", "def embed(model, images):\n    return images\n"]
CALLER_TEXTS = [CALLER, CALLER + "# unsaved\n", CALLER.replace("image_features @", "F.normalize(image_features) @")]
TYPED = st.tuples(st.just("type"), st.sampled_from(["helper", "caller"]), st.integers(0, 3))
STEPS = st.one_of(
    TYPED,
    TYPED,  # typing is what an editor mostly sends
    st.tuples(st.sampled_from(["save", "close"]), st.sampled_from(["helper", "caller"]), st.just(0)),
)
#: A helper typed, saved, typed back and closed; a caller and a helper unsaved, the caller closed.
SESSIONS = [
    [("type", "helper", 1), ("save", "helper", 0), ("type", "helper", 0), ("close", "helper", 0)],
    [("type", "caller", 2), ("type", "helper", 3), ("close", "caller", 0), ("close", "helper", 0)],
]


def saved_view(root: Path, buffers: Dict[str, str], mirror: Path) -> List[str]:
    """The command's messages for the caller once every open buffer is saved (into ``mirror``)."""
    for relative in ("pyproject.toml", "pkg/__init__.py", "pkg/helpers.py", "pkg/main.py"):
        (mirror / relative).parent.mkdir(parents=True, exist_ok=True)
        (mirror / relative).write_text(buffers.get(relative, (root / relative).read_text(encoding="utf-8")))
    return [finding[3] for finding in command(mirror / "pkg" / "main.py", cached=False)]


def run_session(root: Path, steps) -> None:
    analysis = make_analysis()
    files = {"helper": "pkg/helpers.py", "caller": "pkg/main.py"}
    buffers: Dict[str, str] = {}
    for number, (action, which, variant) in enumerate(steps):
        relative = files[which]
        path = root / relative
        if action == "type":
            texts = HELPER_TEXTS if which == "helper" else CALLER_TEXTS
            buffers[relative] = texts[variant % len(texts)]
        elif action == "save" and relative in buffers:
            path.write_text(buffers[relative], encoding="utf-8")
        elif action == "close":
            buffers.pop(relative, None)
        analysis.set_texts({os.path.realpath(root / name): buffers.get(name) for name in files.values()})
        served = check(analysis, root / "pkg" / "main.py", buffers.get("pkg/main.py"))
        mirror = root.parent / f"{root.name}-saved-{number}"
        assert [spot.message for spot in served.spots] == saved_view(root, buffers, mirror)
        caller = root / "pkg" / "main.py"
        assert command(caller, cached=True) == command(caller, cached=False)  # no buffer in the cache


def make_project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.clip-lint]\n", encoding="utf-8")
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "helpers.py").write_text(HELPER, encoding="utf-8")
    (root / "pkg" / "main.py").write_text(CALLER, encoding="utf-8")
    return root


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEPS, min_size=1, max_size=6))
@example(steps=SESSIONS[0])
@example(steps=SESSIONS[1])
def test_whatever_the_editor_does_the_server_sees_its_buffers_and_the_cache_stays_true(tmp_path: Path, steps) -> None:
    run_session(make_project(tmp_path / f"proj{abs(hash(str(steps)))}"), steps)


@pytest.mark.nightly
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEPS, min_size=1, max_size=12))
def test_whatever_the_editor_does_nightly(tmp_path: Path, steps) -> None:
    run_session(make_project(tmp_path / f"proj{abs(hash(str(steps)))}"), steps)
