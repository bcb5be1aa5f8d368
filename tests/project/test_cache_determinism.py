"""Deterministic or uncached: an edit saved during a run, a run cut short by the clock, the
stack depth of the front end, the order of questions inside an import cycle, and ``-j N``
(cache_04, cache_07, cache_12, cache_15, cache_16)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from clip_lint.engine import inlining
from clip_lint.options import AnalysisOptions
from clip_lint.project import reading
from clip_lint.project.cache import CACHE_DIR_NAME, CacheConfig, check_source
from clip_lint.project.checking import STOPPED_BY_THE_CLOCK, analyze_source
from clip_lint.project.modules import Project, new_run
from front_ends import clip_lint, codes_in, run, warm_equals_uncached, write_files

REPO = Path(__file__).resolve().parents[2]
OPTIONS = AnalysisOptions()
CALLER = (
    "from pkg.feats import img\n\n\n"
    "def score(model, x, t):\n"
    "    a = img(model, x)\n"
    "    b = model.encode_text(t)\n"
    "    b = b / b.norm(dim=-1, keepdim=True)\n"
    "    return a @ b.T\n"
)
HELPERS = {
    "unit": "def img(model, x):\n    f = model.encode_image(x)\n    return f / f.norm(dim=-1, keepdim=True)\n",
    "raw": "def img(model, x):\n    f = model.encode_image(x)\n    return f * 1\n",
    "no-keepdim": "def img(model, x):\n    f = model.encode_image(x)\n    return f / f.norm(dim=-1)\n",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_files(tmp_path, {"pyproject.toml": "[project]\nname = 'p'\n", "pkg/__init__.py": "", "pkg/use.py": CALLER})
    monkeypatch.chdir(tmp_path)
    new_run()
    yield tmp_path
    new_run()


# --- cache_04 and cache_07: a helper saved while its caller is analysed ------------------------------


@pytest.mark.parametrize("before, after", [("unit", "raw"), ("raw", "unit"), ("no-keepdim", "unit")])
def test_a_helper_saved_during_the_run_never_pairs_old_findings_with_new_bytes(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, before: str, after: str
) -> None:
    """The run reads the helper, and the helper is saved right after (an editor, or ``--fix`` in
    another worker): the caller's findings are of the bytes read, and so is its entry."""
    helper = project / "pkg" / "feats.py"
    helper.write_text(HELPERS[before])
    read_file = reading.read_regular_file
    saved: List[str] = []

    def read_then_save(path: str):
        data = read_file(path)
        if path == os.path.realpath(helper) and not saved:
            helper.write_text(HELPERS[after])  # saved once the run has read the old version
            saved.append(path)
        return data

    monkeypatch.setattr(reading, "read_regular_file", read_then_save)
    during = check_source("pkg/use.py", CALLER, OPTIONS, CacheConfig())
    assert saved, "the analysis never read the helper"
    monkeypatch.undo()
    alone = {helper: reported_with(tmp_path_factory.mktemp(helper), helper) for helper in (before, after)}
    assert [f.code for f in during] == alone[before]  # this run saw the helper it read
    outputs = warm_equals_uncached(project, "pkg")
    for output in outputs.values():
        assert codes_in(output, "pkg/use.py") == alone[after]


def reported_with(folder: Path, helper: str) -> List[str]:
    """What the caller reports with the helper ``helper``, in a project and a run of its own."""
    from clip_lint.project.checking import analyze_file

    write_files(folder, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/feats.py": HELPERS[helper], "pkg/use.py": CALLER})
    path = folder / "pkg" / "use.py"
    return [f.code for f in analyze_file(str(path), CALLER, OPTIONS, Project(str(folder))).findings]


def test_fix_with_two_jobs_leaves_a_cache_that_agrees_with_no_cache(tmp_path: Path) -> None:
    """``clip-lint --fix -j 2``: one worker fixes the helper while another analyses its caller."""
    many = "".join(f"\n\ndef g{i}(model, x):\n    f = model.encode_image(x)\n    return f / f.norm(dim=-1, keepdim=True)\n"
                   for i in range(30))
    write_files(tmp_path, {
        "pyproject.toml": "", "pkg/__init__.py": "", "pkg/feats.py": HELPERS["no-keepdim"] + many,
        "pkg/use.py": CALLER + "".join(f"\n\ndef f{i}(model, x, t):\n    return img(model, x) @ img(model, t).T\n"
                                       for i in range(30)),
    })
    run([sys.executable, "-m", "clip_lint.cli", "--fix", "-j", "2", "pkg"], tmp_path)
    outputs = warm_equals_uncached(tmp_path, "pkg")
    assert all("CLN003" not in output for output in outputs.values())


# --- cache_12: a result cut short by the wall clock is reported, never cached -------------------------


class Clock:
    """A stand-in for the ``time`` module of the engine's budget: each reading moves it on."""

    def __init__(self, seconds_per_call: float) -> None:
        self.now, self.step = 0.0, seconds_per_call

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


def test_a_result_cut_short_by_the_clock_is_reported_and_not_cached(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "def _raw(model, x):\n    return model.encode_image(x)\n\n\n"
        "def late(model, x, t):\n    a = _raw(model, x)\n    b = model.encode_text(t)\n"
        "    b = b / b.norm(dim=-1, keepdim=True)\n    return a @ b.T\n"
    )
    (project / "pkg" / "use.py").write_text(code)
    monkeypatch.setattr(inlining, "time", Clock(seconds_per_call=60.0))  # as if the run were paused (SIGSTOP)
    cut_short = check_source("pkg/use.py", code, OPTIONS, CacheConfig())
    assert [f.code for f in cut_short] == ["CLN900"] and STOPPED_BY_THE_CLOCK in cut_short[0].message
    assert not list((project / CACHE_DIR_NAME / "findings").glob("*.json"))
    monkeypatch.undo()
    outputs = warm_equals_uncached(project, "pkg/use.py")
    assert all(codes_in(output, "pkg/use.py") == ["CLN001"] for output in outputs.values())


def test_the_step_budgets_decide_the_same_whatever_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that runs out of inlining steps (exponential fan-out) reports the same with a
    generous clock as with the default one: steps decide, not seconds."""
    fanout = "".join(f"def f{i}(x):\n" + "".join(f"    x = f{j}(x)\n" for j in range(i + 1, 14)) + "    return x\n\n\n"
                     for i in range(14))
    code = fanout + "def score(model, x, t):\n    a = f0(model.encode_image(x))\n    return a @ model.encode_text(t).T\n"
    default = analyze_source(code)
    monkeypatch.setattr(inlining, "time", Clock(seconds_per_call=0.0))  # a clock that never moves
    assert analyze_source(code) == default
    assert all(STOPPED_BY_THE_CLOCK not in f.message for f in default)


# --- cache_15: the stack depth of the caller ----------------------------------------------------------


def _nested_sum(terms: int) -> str:
    return (
        "def score(model, x, t):\n    a = model.encode_image(x)\n"
        f"    b = {' + '.join(['t'] * terms)}\n    return a @ model.encode_text(b).T\n"
    )


def _at_depth(frames: int, function):
    return function() if frames == 0 else _at_depth(frames - 1, function)


def test_how_deep_the_caller_is_never_changes_a_result() -> None:
    """Sums nested around the recursion limit: one answer, called from the top of the stack or
    from 700 frames down (flake8 calls from deeper than the command)."""
    results = {}
    for terms in range(280, 380, 20):
        shallow = analyze_source(_nested_sum(terms))
        assert _at_depth(700, lambda: analyze_source(_nested_sum(terms))) == shallow, terms
        results[terms] = [f.code for f in shallow]
    assert ["CLN001"] in results.values() and ["CLN900"] in results.values()  # the limit lies in the range


def test_both_front_ends_agree_near_the_recursion_limit(tmp_path: Path) -> None:
    files = {"pyproject.toml": "", "pkg/__init__.py": ""}
    # cache_15's 320 terms and its neighbours (pyflakes, which flake8 always runs, gives up from
    # about 330 terms on)
    files.update({f"pkg/sum{terms}.py": _nested_sum(terms) for terms in range(300, 330, 10)})
    write_files(tmp_path, files)
    outputs = warm_equals_uncached(tmp_path, "pkg")
    command = sorted(line.split(" ", 1)[1] for line in outputs["clip-lint"].splitlines())
    plugin = sorted(line.split(" ", 1)[1] for line in outputs["flake8"].splitlines())
    assert command == plugin and len(command) == 3


# --- cache_16: questions inside an import cycle -------------------------------------------------------

CYCLE = {
    "pyproject.toml": "",
    "pkg/__init__.py": "",
    "pkg/c.py": "def raw(m, x):\n    return m.encode_image(x)\n",
    "pkg/a.py": "from pkg import b\nfrom pkg.c import raw\n\n\ndef img(m, x):\n    return raw(m, x)\n",
    "pkg/b.py": "from pkg import a\n\n\ndef img(m, x):\n    return a.img(m, x)\n",
    "pkg/use1.py": "from pkg.a import img\n\n\ndef s1(m, x, y):\n    return img(m, x) @ img(m, y).T\n",
    "pkg/use2.py": "from pkg.b import img\n\n\ndef s2(m, x, y):\n    return img(m, x) @ img(m, y).T\n",
}


def test_an_import_cycle_answers_the_same_whichever_file_is_checked_first(tmp_path: Path) -> None:
    write_files(tmp_path, CYCLE)
    expected = ["CLN001"]
    for paths in (["pkg"], ["pkg/use2.py"], ["pkg/use1.py", "pkg/use2.py"], ["pkg/use2.py", "pkg/use1.py"]):
        for jobs in ("1", "2"):
            output = run([sys.executable, "-m", "clip_lint.cli", "-q", "--no-cache", "-j", jobs, *paths], tmp_path).stdout
            assert codes_in(output, "pkg/use2.py") == expected, (paths, jobs)
    clip_lint("pkg", cwd=tmp_path)  # one cached run of every file, then each file alone
    for path in ("pkg/use1.py", "pkg/use2.py"):
        outputs = warm_equals_uncached(tmp_path, path)
        assert all(codes_in(output, path) == expected for output in outputs.values())


# --- -j 1 and -j N give the same report -------------------------------------------------------------

PROJECTS = sorted(path for path in (REPO / "fixtures" / "projects").iterdir() if path.is_dir())


@pytest.mark.parametrize("project_root", PROJECTS, ids=[path.name for path in PROJECTS])
def test_one_job_and_three_jobs_give_the_same_report(project_root: Path) -> None:
    reports: Dict[str, List[str]] = {}
    for jobs in ("1", "3"):
        command = run([sys.executable, "-m", "clip_lint.cli", "--no-cache", "--format", "json", "-j", jobs, "."], project_root)
        reports.setdefault("clip-lint", []).append(json.dumps(json.loads(command.stdout), sort_keys=True))
        plugin = run([sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", "--clip-no-cache", "-j", jobs, "."],
                     project_root)
        reports.setdefault("flake8", []).append(plugin.stdout)
    for front_end, (one, three) in reports.items():
        assert one == three, front_end
