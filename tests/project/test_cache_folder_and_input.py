"""The cache folder is only a cache, the key is complete, and both front ends read the same
configuration and input the same way (cache_06, cache_08, cache_10, cache_11, cache_13, cache_14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clip_lint.options import AnalysisOptions
from clip_lint.project import cache as cache_module
from clip_lint.project.cache import CACHE_DIR_NAME, Cache, CacheFolderError
from front_ends import clean_env, clip_lint, flake8, run, warm_equals_uncached, write_files

BUGGY = "def score(model, x, t):\n    return model.encode_image(x) @ model.encode_text(t).T\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_files(tmp_path, {"pyproject.toml": "[project]\nname = 'p'\n", "pkg/__init__.py": "", "pkg/use.py": BUGGY})
    return tmp_path


# --- cache_06: a folder that holds code is refused, and nothing is written into it -------------------


def test_the_command_refuses_a_cache_folder_that_holds_code(project: Path) -> None:
    subprocess.run(["git", "init", "-q", "."], cwd=project, check=True)
    before = sorted(os.listdir(project))
    refused = run([sys.executable, "-m", "clip_lint.cli", "--cache-dir", ".", "."], project, expect=(2,))
    assert "cache folder" in refused.stderr and "not clip-lint's cache" in refused.stderr
    assert "pkg" in refused.stderr and refused.stdout == ""
    assert sorted(os.listdir(project)) == before  # no .gitignore, no tag, no entries
    (project / "pyproject.toml").write_text('[tool.clip-lint]\ncache-dir = "pkg"\n')
    assert "cache folder" in run([sys.executable, "-m", "clip_lint.cli", "."], project, expect=(2,)).stderr
    assert "CLN001" in clip_lint("--no-cache", ".", cwd=project).stdout  # the project is as it was
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                            capture_output=True, text=True, check=True).stdout
    assert "pkg/use.py" in status


def test_flake8_refuses_a_cache_folder_that_holds_code(project: Path) -> None:
    refused = run([sys.executable, "-m", "flake8", "--select", "CLN", "--clip-cache-dir", ".", "."], project, expect=(1,))
    assert "not clip-lint's cache" in refused.stdout + refused.stderr
    env = clean_env(CLIP_LINT_CACHE_DIR=str(project / "pkg"))
    refused = run([sys.executable, "-m", "flake8", "--select", "CLN", "."], project, env=env, expect=(1,))
    assert "not clip-lint's cache" in refused.stdout + refused.stderr
    assert not (project / ".gitignore").exists() and not (project / "pkg" / "CACHEDIR.TAG").exists()


def test_tag_and_gitignore_go_only_into_a_folder_clip_lint_made(project: Path, tmp_path_factory) -> None:
    existing = tmp_path_factory.mktemp("existing")  # an empty folder of the user's
    made = tmp_path_factory.mktemp("parent") / "made"
    clip_lint("--cache-dir", str(existing), ".", cwd=project)
    clip_lint("--cache-dir", str(made), ".", cwd=project)
    assert sorted(os.listdir(existing)) == sorted(cache_module.KINDS)
    assert (made / "CACHEDIR.TAG").is_file() and (made / ".gitignore").read_text().endswith("*\n")
    # Used again, both folders hold only the cache: they are accepted, and answer warm runs.
    for folder in (existing, made):
        assert clip_lint("--cache-dir", str(folder), ".", cwd=project).stdout == clip_lint("--no-cache", ".", cwd=project).stdout


def test_a_foreign_folder_is_refused_by_the_store_itself(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CacheFolderError):
        Cache.create(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


# --- cache_10: an entry that is not a regular file ---------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("front_end", [clip_lint, flake8])
def test_a_fifo_among_the_entries_is_ignored(project: Path, front_end) -> None:
    expected = front_end(".", cwd=project).stdout
    for entry in (project / CACHE_DIR_NAME / "findings").glob("*.json"):
        entry.unlink()
        os.mkfifo(entry)
    assert front_end(".", cwd=project).stdout == expected  # run() times out after 300 s if it hangs


# --- cache_11: the key holds the interpreter's and libcst's versions, the options and the root -----


def test_the_key_holds_the_python_and_libcst_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    fingerprint = cache_module.engine_fingerprint()
    assert sys.version in fingerprint and f"libcst {cache_module.libcst_version()}" in fingerprint
    import libcst  # the version read from the metadata is the one that parses

    assert cache_module.libcst_version() == getattr(libcst, "__version__", cache_module.libcst_version())
    before = cache_module.findings_key("a.py", BUGGY, AnalysisOptions(), "/root")
    for other in (fingerprint.replace(sys.version, "3.12.1 (main)"), fingerprint.replace("libcst ", "libcst 0.0.1+")):
        monkeypatch.setattr(cache_module, "_fingerprint", [other])
        assert cache_module.findings_key("a.py", BUGGY, AnalysisOptions(), "/root") != before
    monkeypatch.undo()
    assert cache_module.findings_key("a.py", BUGGY, AnalysisOptions(), "/elsewhere") != before
    assert cache_module.findings_key("a.py", BUGGY, AnalysisOptions(("embed",)), "/root") != before


# --- cache_08: stdin is analysed as given and never cached -------------------------------------------


def test_stdin_is_analysed_as_given_and_never_cached(project: Path) -> None:
    (project / "pkg" / "use.py").write_bytes(BUGGY.encode() + b"\xff\n")  # the saved file has a stray byte
    flake8_stdin = run([sys.executable, "-m", "flake8", "--select", "CLN", "--stdin-display-name", "pkg/use.py", "-"],
                       project, stdin=BUGGY.encode())
    command_stdin = clip_lint("--stdin-filename", "pkg/use.py", cwd=project, stdin=BUGGY.encode())
    assert "CLN001" in flake8_stdin.stdout and "CLN900" not in flake8_stdin.stdout
    assert flake8_stdin.stdout.split(" ", 1)[1] == command_stdin.stdout.split(" ", 1)[1]  # flake8's column is 0-based
    assert not (project / CACHE_DIR_NAME).exists()


FEATS = (
    "from pkg.relay import img\n\n\n"
    "def raw(m, x):\n    return {}\n\n\n"
    "def score(m, x, t):\n    a = img(m, x)\n    b = m.encode_text(t)\n"
    "    b = b / b.norm(dim=-1, keepdim=True)\n    return a @ b.T\n"
)


def test_stdin_code_is_what_a_project_module_imports_back(project: Path) -> None:
    """An unsaved buffer is what the rest of the project sees of its file (an overlay): here
    whether relay.img() may hand features over depends on the buffer's raw(), which relay.py
    imports back. Nothing is cached."""
    write_files(project, {
        "pkg/feats.py": FEATS.format("m.visual(x)"),  # saved: raw() names no encoder
        "pkg/relay.py": "from pkg.feats import raw\n\n\ndef img(m, x):\n    return raw(m, x)\n",
    })
    assert clip_lint("--no-cache", "pkg/feats.py", cwd=project).stdout == ""
    unsaved = FEATS.format("m.encode_image(x)").encode()
    plugin = run([sys.executable, "-m", "flake8", "--select", "CLN", "--stdin-display-name", "pkg/feats.py", "-"],
                 project, stdin=unsaved)
    command = clip_lint("--stdin-filename", "pkg/feats.py", cwd=project, stdin=unsaved)
    assert "CLN001" in plugin.stdout and plugin.stdout.split(" ", 1)[1] == command.stdout.split(" ", 1)[1]
    assert not (project / CACHE_DIR_NAME).exists()


# --- cache_13 and cache_14: one reading of configuration and input ---------------------------------


@pytest.mark.parametrize("config", [
    ("setup.cfg", "[flake8]\nclip-encoders = embed_images embed_texts\n"),
    ("setup.cfg", "[flake8]\nclip-encoders =\n    embed_images, embed_texts\n"),
    ("tox.ini", "[flake8]\nclip_encoders = embed_images,embed_texts\n"),
])
def test_a_list_of_names_means_the_same_to_both_front_ends(tmp_path: Path, config) -> None:
    name, text = config
    code = "def score(model, x, t):\n    return model.embed_images(x) @ model.embed_texts(t).T\n"
    write_files(tmp_path, {name: text, "pkg/__init__.py": "", "pkg/use.py": code})
    outputs = warm_equals_uncached(tmp_path, "pkg")
    for output in outputs.values():
        assert "CLN001" in output and "embed_images" in output and "embed_texts" in output


def test_a_list_on_the_command_line_means_the_same_to_both_front_ends(tmp_path: Path) -> None:
    code = "def score(model, x, t):\n    return model.embed_images(x) @ model.embed_texts(t).T\n"
    write_files(tmp_path, {"pkg/use.py": code})
    command = clip_lint("--no-cache", "--extra-encoders", "embed_images embed_texts", "pkg", cwd=tmp_path).stdout
    plugin = flake8("--clip-no-cache", "--clip-encoders", "embed_images embed_texts", "pkg", cwd=tmp_path).stdout
    assert "embed_texts" in command and command.split(" ", 1)[1] == plugin.split(" ", 1)[1]


@pytest.mark.parametrize("data", [
    b"# caf\xe9\n" + BUGGY.encode(),
    b"# -*- coding: no-such-codec -*-\n" + BUGGY.encode(),
    BUGGY.encode() + b"x = '\xff'\n",
], ids=["undecodable-first-line", "unknown-encoding", "undecodable-later"])
def test_both_front_ends_word_cln900_the_same(project: Path, data: bytes) -> None:
    (project / "pkg" / "use.py").write_bytes(data)
    command = json.loads(clip_lint("--no-cache", "--format", "json", "pkg/use.py", cwd=project).stdout)["findings"]
    plugin = flake8("--clip-no-cache", "pkg/use.py", cwd=project).stdout.splitlines()
    assert [f["code"] for f in command] == ["CLN900"] and len(plugin) == 1
    (finding,) = command
    assert plugin[0] == f"pkg/use.py:{finding['line']}:{finding['column']}: CLN900 {finding['message']}"
