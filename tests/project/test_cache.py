"""The cache, through real flake8 and clip-lint runs: where it lives, its options, its safety."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from clip_lint.project import cache as cache_module
from clip_lint.project.cache import CACHE_DIR_NAME, CacheConfig, cached_analysis, decode_finding, encode_finding
from clip_lint.prefilter.gate import passes_gate
from clip_lint.findings import Finding, Fix, TextEdit
from clip_lint.options import AnalysisOptions

CLI = Path(sys.executable).with_name("clip-lint")
BUGGY = "import torch\nx = model.encode_image(images)\ns = x @ x.T\n"
FIXED = "import torch\nx = model.encode_image(images)\nx = x / x.norm(dim=-1, keepdim=True)\ns = x @ x.T\n"
CACHE_ENV = (cache_module.CACHE_DIR_ENV, cache_module.NO_CACHE_ENV)


def clean_env(**extra: str) -> Dict[str, str]:
    """This environment without the cache's variables (a developer may have set them), plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in CACHE_ENV}
    env.update(extra)
    return env


def flake8(*args: str, cwd: Path, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
    command = [sys.executable, "-m", "flake8", "--select", "CLN", *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env or clean_env(), timeout=300)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    return result


def clip_lint(*args: str, cwd: Path, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
    result = subprocess.run([str(CLI), *args], capture_output=True, text=True, cwd=cwd, env=env or clean_env(), timeout=300)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    return result


def entries(cache_dir: Path) -> List[Path]:
    return sorted((cache_dir / "findings").glob("*.json"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project (pyproject.toml at its root) with one buggy module in a subpackage."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(BUGGY)
    return tmp_path


# --- location -------------------------------------------------------------------------------------


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_the_cache_lives_at_the_project_root_with_a_tag_and_a_gitignore(project: Path, front_end) -> None:
    front_end("a.py", cwd=project / "pkg")
    cache_dir = project / CACHE_DIR_NAME
    assert (cache_dir / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert "*" in (cache_dir / ".gitignore").read_text().splitlines()
    assert len(entries(cache_dir)) == 1
    assert not (project / "pkg" / CACHE_DIR_NAME).exists()


def test_git_ignores_the_cache(project: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    clip_lint("pkg", cwd=project)
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project, capture_output=True, text=True)
    assert CACHE_DIR_NAME not in status.stdout and "pkg/a.py" in status.stdout


def test_warm_runs_report_what_cold_runs_report(project: Path) -> None:
    runs = [flake8("pkg/a.py", cwd=project).stdout for _ in range(2)]
    runs += [clip_lint("pkg/a.py", cwd=project).stdout for _ in range(2)]
    assert runs[0] == runs[1] and "CLN001" in runs[0]
    assert runs[2] == runs[3] and "CLN001" in runs[2]
    assert len(entries(project / CACHE_DIR_NAME)) == 1  # both front ends share the entry


# --- options --------------------------------------------------------------------------------------


def test_no_cache_options_write_nothing(project: Path) -> None:
    assert "CLN001" in clip_lint("--no-cache", "pkg", cwd=project).stdout
    assert "CLN001" in flake8("--clip-no-cache", "pkg", cwd=project).stdout
    assert "CLN001" in flake8("pkg", cwd=project, env=clean_env(CLIP_LINT_NO_CACHE="1")).stdout
    (project / "setup.cfg").write_text("[flake8]\nclip-no-cache = true\n")
    assert "CLN001" in flake8("pkg", cwd=project).stdout
    (project / "pyproject.toml").write_text("[tool.clip-lint]\ncache = false\n")
    assert "CLN001" in clip_lint("pkg", cwd=project).stdout
    assert not (project / CACHE_DIR_NAME).exists()


def test_cache_dir_options_choose_the_folder(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # New folders: clip-lint makes each one, with its tag and its .gitignore.
    chosen = {name: tmp_path_factory.mktemp(name) / "cache" for name in ("cli", "flake8", "env", "flake8_config")}
    clip_lint("--cache-dir", str(chosen["cli"]), "pkg", cwd=project)
    flake8("--clip-cache-dir", str(chosen["flake8"]), "pkg", cwd=project)
    clip_lint("pkg", cwd=project, env=clean_env(CLIP_LINT_CACHE_DIR=str(chosen["env"])))
    (project / "setup.cfg").write_text(f"[flake8]\nclip-cache-dir = {chosen['flake8_config']}\n")
    flake8("pkg", cwd=project)
    for folder in chosen.values():
        assert (folder / "CACHEDIR.TAG").is_file() and len(entries(folder)) == 1
    assert not (project / CACHE_DIR_NAME).exists()


def test_config_cache_dir_is_relative_to_its_file(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.clip-lint]\ncache-dir = "build/lint-cache"\n')
    clip_lint("a.py", cwd=project / "pkg")
    assert len(entries(project / "build" / "lint-cache")) == 1


def test_a_bad_cache_value_is_a_configuration_error(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.clip-lint]\ncache = "sometimes"\n')
    result = subprocess.run([str(CLI), "pkg"], capture_output=True, text=True, cwd=project, env=clean_env())
    assert result.returncode == 2 and "'cache'" in result.stderr and "true or false" in result.stderr


# --- never stale ----------------------------------------------------------------------------------


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_an_edit_shows_at_once(project: Path, front_end) -> None:
    module = project / "pkg" / "a.py"
    assert "CLN001" in front_end("pkg/a.py", cwd=project).stdout
    module.write_text(FIXED)
    assert "CLN001" not in front_end("pkg/a.py", cwd=project).stdout
    module.write_text(BUGGY)
    assert "CLN001" in front_end("pkg/a.py", cwd=project).stdout


def test_options_are_part_of_the_key(project: Path) -> None:
    (project / "pkg" / "a.py").write_text("x = model.embed_photos(images)\ns = x @ x.T\n")
    assert "CLN001" not in flake8("pkg", cwd=project).stdout
    assert "CLN001" in flake8("--clip-encoders=embed_photos", "pkg", cwd=project).stdout
    assert "CLN001" not in clip_lint("pkg", cwd=project).stdout
    assert "CLN001" in clip_lint("--extra-encoders", "embed_photos", "pkg", cwd=project).stdout


def test_the_engine_fingerprint_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache_module.findings_key("a.py", BUGGY, AnalysisOptions())
    monkeypatch.setattr(cache_module, "_fingerprint", ["0.0.0:another-engine"])
    assert cache_module.findings_key("a.py", BUGGY, AnalysisOptions()) != before


def test_an_entry_holds_only_while_what_it_depended_on_is_unchanged(tmp_path: Path) -> None:
    config = CacheConfig(directory=str(tmp_path / "cache"))
    summaries = {"helpers.py": "summary-1"}
    calls: List[int] = []

    def analyze():
        calls.append(1)
        return [Finding("CLN001", 3, 4, f"seen with {summaries['helpers.py']}")], dict(summaries)

    def check() -> str:
        findings = cached_analysis("main.py", BUGGY, AnalysisOptions(), config, analyze, summaries.__eq__)
        return findings[0].message

    assert check() == "seen with summary-1" and check() == "seen with summary-1" and len(calls) == 1
    summaries["helpers.py"] = "summary-2"  # the helper's interface changed: the caller is analysed again
    assert check() == "seen with summary-2" and len(calls) == 2
    assert check() == "seen with summary-2" and len(calls) == 2


def test_findings_with_fixes_survive_the_round_trip() -> None:
    edit = TextEdit((2, 30), (2, 30), "\nx = x / x.norm(dim=-1, keepdim=True)")
    finding = Finding("CLN001", 3, 4, "message \u00e9", Fix("Normalize 'x'", (edit,), safe=False))
    decoded = decode_finding(json.loads(json.dumps(encode_finding(finding))))
    assert decoded == finding and decoded.fix == finding.fix


# --- safety ---------------------------------------------------------------------------------------

DAMAGED = [b"", b"\x00\xff garbage", b"{", b"[]", b'{"format": 1}', b'{"format": 1, "key": "someone else"}']


@pytest.mark.parametrize("damage", DAMAGED, ids=["empty", "binary", "truncated", "list", "no-key", "foreign"])
@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_a_damaged_entry_is_ignored_and_rewritten(project: Path, front_end, damage: bytes) -> None:
    expected = front_end("pkg/a.py", cwd=project).stdout
    (entry,) = entries(project / CACHE_DIR_NAME)
    entry.write_bytes(damage)
    assert front_end("pkg/a.py", cwd=project).stdout == expected
    assert json.loads(entry.read_text())["key"] == entry.stem


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_an_entry_with_malformed_findings_is_ignored_and_rewritten(project: Path, front_end) -> None:
    expected = front_end("pkg/a.py", cwd=project).stdout
    (entry,) = entries(project / CACHE_DIR_NAME)
    reads = json.loads(entry.read_text())["reads"]
    for findings in ([{"code": "CLN001"}], [{"code": 1, "line": "3", "col": 4, "message": "m", "fix": None}], "x"):
        damaged = {"format": cache_module.FORMAT, "key": entry.stem, "reads": reads, "findings": findings}
        entry.write_text(json.dumps(damaged))
        assert front_end("pkg/a.py", cwd=project).stdout == expected
    assert "CLN001" in json.loads(entry.read_text())["findings"][0]["code"]


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_a_cache_path_taken_by_a_file_means_no_cache(project: Path, front_end) -> None:
    (project / CACHE_DIR_NAME).write_text("not a folder")
    assert "CLN001" in front_end("pkg", cwd=project).stdout
    assert (project / CACHE_DIR_NAME).read_text() == "not a folder"


@pytest.fixture
def read_only_project(project: Path):
    """The project's root folder made unwritable (for root, which ignores modes, immutable)."""
    project.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(project)], check=True)
    try:
        assert not _writable(project), "could not make the project folder read-only"
        yield project
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(project)], check=True)
        project.chmod(0o755)


def _writable(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_a_read_only_project_means_no_cache_not_an_error(read_only_project: Path, front_end) -> None:
    result = front_end("pkg", cwd=read_only_project)
    assert "CLN001" in result.stdout and result.stderr == ""
    assert not (read_only_project / CACHE_DIR_NAME).exists()


def test_concurrent_runs_of_both_front_ends_agree_and_leave_whole_entries(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "setup.cfg").write_text("[flake8]\nclip-encoders = embed_images\n")
    fixtures = sorted((Path(__file__).resolve().parents[2] / "fixtures").glob("*.py"))
    for fixture in fixtures:
        (project / "pkg" / fixture.name).write_text(fixture.read_text())
    reference = {
        "flake8": flake8("--clip-no-cache", "pkg", cwd=project).stdout,
        "clip-lint": clip_lint("--no-cache", "--format", "json", "--extra-encoders", "embed_images", "pkg", cwd=project).stdout,
    }
    commands = {
        "flake8": lambda: flake8("-j", "3", "pkg", cwd=project).stdout,
        "clip-lint": lambda: clip_lint("-j", "3", "--format", "json", "--extra-encoders", "embed_images", "pkg", cwd=project).stdout,
    }
    runs = ["flake8", "clip-lint"] * 3
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:  # six processes (each with three workers) at once
        outputs = list(pool.map(lambda name: (name, commands[name]()), runs))
    for name, output in outputs:
        assert output == reference[name], name
    cache_dir = project / CACHE_DIR_NAME
    assert not list((cache_dir / "findings").glob(".tmp-*"))
    gated = [fixture for fixture in fixtures if passes_gate(fixture.read_text(), AnalysisOptions(("embed_images",)))]
    assert len(entries(cache_dir)) >= len(gated)
    for entry in entries(cache_dir):
        assert json.loads(entry.read_text())["key"] == entry.stem


# --- the same findings, cache on or off, cold or warm ---------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, List[str]]:
    """Every front end over the whole fixture set: without a cache, then cold, then warm."""
    cache_dir = str(tmp_path_factory.mktemp("fixture-cache"))
    runs: Dict[str, List[str]] = {}
    # flake8 reads the repository's setup.cfg (clip-encoders); clip-lint is told the same.
    front_ends = {
        "flake8": lambda *cache: flake8(*cache, "fixtures/", cwd=REPO).stdout,
        "clip-lint": lambda *cache: clip_lint(
            *cache, "--format", "json", "--extra-encoders", "embed_images", "fixtures/", cwd=REPO
        ).stdout,
        "clip-lint --diff": lambda *cache: clip_lint(*cache, "--diff", "--unsafe-fixes", "fixtures/fix/", cwd=REPO).stdout,
    }
    flags = {
        "flake8": (("--clip-no-cache",), ("--clip-cache-dir", cache_dir)),
        "clip-lint": (("--no-cache",), ("--cache-dir", cache_dir)),
        "clip-lint --diff": (("--no-cache",), ("--cache-dir", cache_dir)),
    }
    for name, run in front_ends.items():
        off, on = flags[name]
        runs[name] = [run(*off), run(*on), run(*on)]
    return runs


@pytest.mark.parametrize("front_end", ["flake8", "clip-lint", "clip-lint --diff"])
def test_findings_are_identical_with_the_cache_off_cold_and_warm(fixture_runs: Dict[str, List[str]], front_end: str) -> None:
    without, cold, warm = fixture_runs[front_end]
    assert without == cold == warm
    assert "CLN001" in without or "+" in without  # the runs did find (or fix) something


PROJECTS = sorted(path for path in (REPO / "fixtures" / "projects").iterdir() if path.is_dir())


@pytest.mark.parametrize("project_root", PROJECTS, ids=[path.name for path in PROJECTS])
def test_fixture_projects_give_the_same_findings_with_the_cache_off_cold_and_warm(
    project_root: Path, tmp_path: Path
) -> None:
    cache = str(tmp_path / "cache")
    flake8_flags = (("--clip-no-cache",), ("--clip-cache-dir", cache), ("--clip-cache-dir", cache))
    flake8_runs = [flake8("--isolated", *flags, ".", cwd=project_root).stdout for flags in flake8_flags]
    command_flags = (("--no-cache",), ("--cache-dir", cache), ("--cache-dir", cache))
    command_runs = [clip_lint("--format", "json", *flags, ".", cwd=project_root).stdout for flags in command_flags]
    assert flake8_runs[0] == flake8_runs[1] == flake8_runs[2]
    assert command_runs[0] == command_runs[1] == command_runs[2]
    assert isinstance(json.loads(command_runs[0])["findings"], list)


def test_a_warm_run_does_not_import_libcst(project: Path) -> None:
    """The plugin's cost on a warm run is a hash and a read per file: no libcst import."""
    probe = (
        "import sys\n"
        "from flake8.main.cli import main as flake8\n"
        "from clip_lint.frontends.cli import main as clip_lint\n"
        "flake8(['--select', 'CLN', 'pkg']) if sys.argv[1] == 'flake8' else clip_lint(['-j', '1', 'pkg'])\n"
        "print('libcst imported' if 'libcst' in sys.modules else 'libcst not imported')\n"
    )
    # A Markdown file with a broken block takes the command's block-by-block path.
    (project / "pkg" / "notes.md").write_text("```python\nx = model.encode_image(\n```\n\n```python\n" + BUGGY + "```\n")
    for front_end in ("flake8", "clip-lint"):
        shutil.rmtree(project / CACHE_DIR_NAME, ignore_errors=True)
        run = [sys.executable, "-c", probe, front_end]
        cold = subprocess.run(run, capture_output=True, text=True, cwd=project, env=clean_env())
        warm = subprocess.run(run, capture_output=True, text=True, cwd=project, env=clean_env())
        if front_end == "flake8":
            assert "CLN001" in cold.stdout and cold.stdout.endswith("libcst imported\n"), cold.stderr
            assert warm.stdout == cold.stdout.replace("libcst imported", "libcst not imported"), warm.stderr
        else:  # the command analyses in worker processes: its own process never needs libcst
            assert "CLN001" in cold.stdout and cold.stdout.endswith("libcst not imported\n"), cold.stderr
            assert warm.stdout == cold.stdout, warm.stderr
    assert "notes.md:2:1: CLN900" in warm.stdout and "notes.md:8:7: CLN001" in warm.stdout


# --- never stale across modules -------------------------------------------------------------------

CALLER = '''\
from app.helpers import embed, similarity


def score(model, images, tokens):
    image_features = embed(model, images)
    text_features = model.encode_text(tokens)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    return similarity(image_features, text_features)
'''
NORMALIZING_HELPER = '''\
import torch


def embed(model, images):
    features = model.encode_image(images)
    return features / features.norm(dim=-1, keepdim=True)


def similarity(queries, keys):
    return torch.matmul(queries, keys.T)
'''
RAW_HELPER = NORMALIZING_HELPER.replace("    return features / features.norm(dim=-1, keepdim=True)\n", "    return features\n")


@pytest.fixture
def two_modules(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "helpers.py").write_text(NORMALIZING_HELPER)
    (tmp_path / "app" / "main.py").write_text(CALLER)
    return tmp_path


def caller_codes(front_end, project: Path) -> List[str]:
    output = front_end("app/main.py", cwd=project).stdout
    return [line.split()[1] for line in output.splitlines() if line.startswith("app/main.py:")]


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_an_edit_to_a_helper_module_shows_in_its_caller(two_modules: Path, front_end) -> None:
    helper = two_modules / "app" / "helpers.py"
    assert caller_codes(front_end, two_modules) == []
    helper.write_text(RAW_HELPER)  # embed() now returns raw features
    assert caller_codes(front_end, two_modules) == ["CLN001"]
    assert caller_codes(front_end, two_modules) == ["CLN001"]  # warm
    helper.write_text(NORMALIZING_HELPER)
    assert caller_codes(front_end, two_modules) == []


@pytest.mark.parametrize("front_end", [flake8, clip_lint])
def test_a_helper_module_that_appears_or_starts_to_compare_shows_in_its_caller(two_modules: Path, front_end) -> None:
    helper = two_modules / "app" / "helpers.py"
    helper.unlink()
    assert caller_codes(front_end, two_modules) == []
    helper.write_text(RAW_HELPER.replace("torch.matmul(queries, keys.T)", "(queries, keys)"))
    assert caller_codes(front_end, two_modules) == []  # raw features, but nothing compares them
    helper.write_text(RAW_HELPER)
    assert caller_codes(front_end, two_modules) == ["CLN001"]


def stored_reads(entry: Path) -> dict:
    """The record of what an entry's result read (kept apart, under ``records/``, by its hash)."""
    reference = json.loads(entry.read_text())["reads"]
    return json.loads((entry.parent.parent / cache_module.RECORDS / f"{reference['record']}.json").read_text())


def test_a_comment_or_docstring_edit_in_a_helper_checks_its_caller_again(two_modules: Path) -> None:
    """The relevance text tests read comments and docstrings (cache_02): every byte of a
    helper the analysis read is in the caller's entry, so any edit of it re-checks the caller."""
    helper = two_modules / "app" / "helpers.py"
    documented = RAW_HELPER.replace("def embed(model, images):\n", 'def embed(model, images):\n    """Docs."""\n')
    helper.write_text(documented)
    assert caller_codes(clip_lint, two_modules) == ["CLN001"]
    helper_path = os.path.realpath(helper)
    (caller_entry,) = [e for e in entries(two_modules / CACHE_DIR_NAME) if helper_path in stored_reads(e)["files"]]
    stamp = (caller_entry.stat().st_ino, caller_entry.stat().st_mtime_ns)
    assert caller_codes(clip_lint, two_modules) == ["CLN001"]
    assert (caller_entry.stat().st_ino, caller_entry.stat().st_mtime_ns) == stamp  # warm: read, not rewritten
    helper.write_text(documented.replace('"""Docs."""', '"""Other docs."""'))
    assert caller_codes(clip_lint, two_modules) == ["CLN001"]
    assert (caller_entry.stat().st_ino, caller_entry.stat().st_mtime_ns) != stamp  # analysed again
