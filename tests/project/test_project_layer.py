"""The project layer: messages that name other modules, fixes that stay in the checked file,
documents that import the project, broken and pathological projects, the record of what was read."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project
from clip_lint.options import AnalysisOptions

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "fixtures" / "projects"
OPTIONS = AnalysisOptions()


def write_project(folder: Path, files: Dict[str, str]) -> Path:
    (folder / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def check(path: Path):
    return analyze_file(str(path), path.read_text(), OPTIONS, Project(str(path.parent)))


def clip_lint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "clip_lint.frontends.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


RAW_HELPER = "def embed(model, images):\n    return model.encode_image(images)\n"
CALLER = (
    "from helper import embed\n\n\n"
    "def score(model, images, texts):\n"
    "    features = embed(model, images)\n"
    "    return features @ texts.T\n"
)


def test_messages_name_the_module_and_line_of_a_fact_from_another_module() -> None:
    app = PROJECTS / "helpers" / "lib" / "app.py"
    project = Project(str(PROJECTS / "helpers"))
    messages = [f.message for f in analyze_file(str(app), app.read_text(), OPTIONS, project).findings]
    assert any("is normalized over dim=0" in m and "in 'batch_scale()' at lib/ops.py:10" in m for m in messages)
    assert any("reaches 'torch.matmul' in 'score()' at lib/ops.py:14" in m for m in messages)
    search = PROJECTS / "src_layout" / "src" / "retrieval" / "search.py"
    result = analyze_file(str(search), search.read_text(), OPTIONS, Project(str(PROJECTS / "src_layout")))
    assert "'queries' (from encode_text via src/retrieval/encoders.py:7) reaches '@'" in result.findings[0].message


def test_fix_edits_only_the_checked_file(tmp_path: Path) -> None:
    project = tmp_path / "helpers"
    shutil.copytree(PROJECTS / "helpers", project)
    helper_before = (project / "lib" / "ops.py").read_bytes()
    result = clip_lint("--fix", "--color", "never", ".", cwd=project)
    assert result.returncode == 1, result.stderr  # the helper's wrong axis is left to its author
    assert (project / "lib" / "ops.py").read_bytes() == helper_before
    fixed = (project / "lib" / "app.py").read_text()
    assert "image_features = image_features / image_features.norm(dim=-1, keepdim=True)" in fixed
    left = clip_lint("--color", "never", ".", cwd=project).stdout
    assert "CLN002" in left and "CLN001" not in left


def test_notebooks_and_markdown_follow_the_projects_modules() -> None:
    result = clip_lint("--format", "json", ".", cwd=PROJECTS / "documents")
    report = json.loads(result.stdout)
    found = sorted((Path(f["path"]).name, f["cell"], f["line"], f["code"]) for f in report["findings"])
    assert found == [("README.md", None, 8, "CLN001"), ("zero_shot.ipynb", 3, 3, "CLN001")]
    assert all("via features.py:5" in f["message"] for f in report["findings"])


def test_an_unparsable_module_contributes_nothing_and_is_reported_only_in_its_own_file(tmp_path: Path) -> None:
    write_project(tmp_path, {
        "helper.py": RAW_HELPER,
        "broken.py": "def embed(model, images)\n    return model.encode_image(images)\n",
        "main.py": CALLER + "\n\nfrom broken import embed as broken_embed\n\n\n"
        "def other(model, images, texts):\n    return broken_embed(model, images) @ texts.T\n",
    })
    report = json.loads(clip_lint("--format", "json", ".", cwd=tmp_path).stdout)
    found = sorted((Path(f["path"]).name, f["line"], f["code"]) for f in report["findings"])
    assert found == [("broken.py", 1, "CLN900"), ("main.py", 6, "CLN001")]


def test_a_pathological_project_degrades_to_silence(tmp_path: Path) -> None:
    files = {"m0.py": RAW_HELPER}
    for index in range(1, 60):
        files[f"m{index}.py"] = f"from m{index - 1} import embed\n"
    files["loop_a.py"] = "from loop_b import embed\n"
    files["loop_b.py"] = "from loop_a import embed\n"
    files["main.py"] = CALLER.replace("from helper", "from m59")
    files["cycle.py"] = CALLER.replace("from helper", "from loop_a")
    files["near.py"] = CALLER.replace("from helper", "from m3")
    write_project(tmp_path, files)
    assert check(tmp_path / "main.py").findings == []
    assert check(tmp_path / "cycle.py").findings == []
    assert [f.code for f in check(tmp_path / "near.py").findings] == ["CLN001"]


def test_the_analysis_records_every_read_of_the_project(tmp_path: Path) -> None:
    """What ``analyze_file`` read is recorded with the hash of the very bytes analysed: a helper
    edited after it was read changes the record's answer, not the findings of this run."""
    helper = "def embed(model, images):\n    return model.encode_image(images)\n\n\ndef unused():\n    return 1\n"
    write_project(tmp_path, {"helper.py": helper, "main.py": CALLER})
    main, helper_path = tmp_path / "main.py", os.path.realpath(tmp_path / "helper.py")
    project = Project(str(tmp_path))
    with project.reader.recording() as reads:
        first = analyze_file(str(main), main.read_text(), OPTIONS, project)
    assert [f.code for f in first.findings] == ["CLN001"]
    assert "embed" in first.consulted_names[helper_path]
    record = reads.to_json()
    assert record["files"] == {helper_path: hashlib.sha256(helper.encode()).hexdigest()}
    assert ["file", helper_path, True] in record["probes"]
    assert project.reader.still_holds(record)
    normalizing = helper.replace("return model.encode_image(images)", "return F.normalize(model.encode_image(images))")
    (tmp_path / "helper.py").write_text(normalizing)
    # The same run keeps the bytes it read: its answer and its record still agree.
    assert [f.code for f in analyze_file(str(main), main.read_text(), OPTIONS, project).findings] == ["CLN001"]
    assert project.reader.still_holds(record)
    fresh = Project(str(tmp_path))  # the next run reads the edit: the record no longer holds
    assert not fresh.reader.still_holds(record)
    assert analyze_file(str(main), main.read_text(), OPTIONS, fresh).findings == []


def test_cross_module_knowledge_silences_what_one_module_alone_reports() -> None:
    from clip_lint.project.checking import analyze_source

    cases = {
        "helpers/lib/app.py": "    return image_features @ text_features.T\n",  # an in-place normalizing helper
        "own_models/towers/loss.py": "    return model.encode_image(images) @ model.encode_text(tokens).T\n",
    }
    for relative, silenced_line in cases.items():
        path = PROJECTS / relative
        text = path.read_text()
        line = text[: text.index(silenced_line)].count("\n") + 1
        project = Project(str(PROJECTS / relative.split("/")[0]))
        alone = {f.line for f in analyze_source(text, OPTIONS) if f.code == "CLN001"}
        together = {f.line for f in analyze_file(str(path), text, OPTIONS, project).findings}
        assert line in alone and line not in together, relative
