"""Every config, pre-commit and workflow snippet in the README runs as written, against a local
clone, and so do the config snippets of docs/configuration.md and the runtime checker's examples.

Config snippets (TOML, ini) are written into a project and both front ends read them. The
pre-commit snippets run under the real ``pre-commit``, with ``/path/to/clip-lint`` and
``COMMIT`` replaced by a clone of this repository and its commit. The flake8 hook repository
can't be fetched here, so its ``repo:`` is a local repository that defines the same ``flake8``
hook as PyCQA/flake8 does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from cli_helpers import FIXTURES, REPO, run_cli

README = REPO / "README.md"
CONFIG_DOC = REPO / "docs" / "configuration.md"
SNIPPET = re.compile(r"^```(?P<language>toml|ini|yaml)\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
FLAKE8 = Path(sys.executable).with_name("flake8")
CLONE_PLACEHOLDER, COMMIT_PLACEHOLDER = "/path/to/clip-lint", "COMMIT"
FLAKE8_HOOK_REPO = "https://github.com/PyCQA/flake8"


def snippets(kind: str, page: Path = README) -> List[Tuple[str, str]]:
    """(language, text) of the page's snippets of ``kind``: config, pre-commit or workflow."""
    found = []
    for match in SNIPPET.finditer(page.read_text(encoding="utf-8")):
        language, body = match["language"], match["body"]
        if language == "yaml":
            snippet_kind = "pre-commit" if "repos:" in body else "workflow"
        else:
            snippet_kind = "config"
        if snippet_kind == kind:
            found.append((language, body))
    return found


def test_the_readme_has_the_snippets_these_tests_run() -> None:
    assert len(snippets("config")) >= 3
    assert len(snippets("pre-commit")) == 2
    assert len(snippets("workflow")) == 1


def test_no_release_tag_or_package_index_entry_is_named() -> None:
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"rev: v\d", text)
    assert "additional_dependencies: [clip-lint]" not in text
    assert not re.search(r"pip install (-U )?clip-lint\b", text)
    assert "pip install -e ." in text and "git+file:///path/to/clip-lint@COMMIT" in text


def project_with_examples(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(REPO / "examples", project / "examples")
    (project / "examples" / "custom.py").write_text(
        "image_features = model.embed_images(images)\nscores = image_features @ image_features.T\n", encoding="utf-8"
    )
    return project


@pytest.mark.parametrize("language, body", snippets("config") + snippets("config", CONFIG_DOC))
def test_config_snippet_is_read_by_both_front_ends(tmp_path: Path, language: str, body: str) -> None:
    project = project_with_examples(tmp_path)
    if language == "toml":
        name = "pyproject.toml"
    else:
        name = ".flake8" if body.lstrip().startswith("[flake8]") else "setup.cfg"
    (project / name).write_text(body, encoding="utf-8")
    result = run_cli("--format", "json", ".", cwd=project)
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""
    if "embed_images" in body:  # the snippet's encoders are in effect
        assert '"path": "examples/custom.py"' in result.stdout
    shown = json.loads(run_cli("--show-settings", "examples/custom.py", "--format", "json", cwd=project).stdout)
    assert str(project / name) in shown["settings"]["config"]["value"]  # and --show-settings says where from
    if "[flake8]" in body:
        flake8 = subprocess.run([str(FLAKE8), "--select", "CLN", "examples/custom.py"], cwd=project,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert flake8.returncode == 1 and "CLN001" in flake8.stdout, flake8.stdout + flake8.stderr


@pytest.mark.parametrize("language, body", snippets("workflow"))
def test_workflow_snippet_runs(tmp_path: Path, language: str, body: str) -> None:
    project = project_with_examples(tmp_path)
    command = re.search(r"run: (clip-lint .*)", body).group(1)
    result = run_cli(*shlex.split(command)[1:], cwd=project)
    assert result.returncode == 1 and result.stdout.startswith("::error file=examples/")


# --- pre-commit ---------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "test")
    return path


def commit_all(repo: Path) -> str:
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "snapshot")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def clones(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A clone of this repository (its committed HEAD) and a stand-in flake8 hook repository."""
    base = tmp_path_factory.mktemp("clones")
    clone = base / "clip-lint"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, capture_output=True)
    flake8_hook = new_repo(base / "flake8")
    (flake8_hook / ".pre-commit-hooks.yaml").write_text(
        "- id: flake8\n  name: flake8\n  entry: flake8\n  language: python\n  types: [python]\n"
        "  require_serial: true\n",
        encoding="utf-8",
    )  # the hook as PyCQA/flake8's .pre-commit-hooks.yaml defines it
    (flake8_hook / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "flake8-hook"\nversion = "0"\ndependencies = ["flake8"]\n'
        "[tool.setuptools]\npy-modules = []\n",
        encoding="utf-8",
    )
    return {
        "clone": clone,
        "commit": git(clone, "rev-parse", "HEAD"),
        "flake8": flake8_hook,
        "flake8_commit": commit_all(flake8_hook),
        "home": base / "pre-commit-home",
    }


def localized(body: str, clones: dict) -> str:
    """The snippet with the clone's path and commit, and the stand-in flake8 repository."""
    text = body.replace(CLONE_PLACEHOLDER, str(clones["clone"])).replace(COMMIT_PLACEHOLDER, clones["commit"])
    if FLAKE8_HOOK_REPO in text:
        text = text.replace(FLAKE8_HOOK_REPO, str(clones["flake8"]))
        text = re.sub(r"rev: \S+", f"rev: {clones['flake8_commit']}", text, count=1)
    return text


def run_pre_commit(repo: Path, clones: dict) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ, PRE_COMMIT_HOME=str(clones["home"]))
    env.pop("PYTHONPATH", None)  # the hooks must run the clone's code, not this checkout's
    return subprocess.run([str(PRE_COMMIT), "run", "--all-files", "--color", "never"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(snippets("pre-commit"))))
def test_pre_commit_snippet_runs_against_a_local_clone(tmp_path: Path, clones: dict, index: int) -> None:
    _, body = snippets("pre-commit")[index]
    assert CLONE_PLACEHOLDER in body and COMMIT_PLACEHOLDER in body
    repo = new_repo(tmp_path / "repo")
    shutil.copy(FIXTURES / "fix" / "cln003_keepdim.in.py", repo / "similarity.py")
    (repo / ".pre-commit-config.yaml").write_text(localized(body, clones), encoding="utf-8")
    commit_all(repo)
    first = run_pre_commit(repo, clones)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output
    if "clip-lint-fix" in body:
        assert "files were modified by this hook" in output
        fixed = (repo / "similarity.py").read_text(encoding="utf-8")
        assert fixed == (FIXTURES / "fix" / "cln003_keepdim.out.py").read_text(encoding="utf-8")
        again = run_pre_commit(repo, clones)
        assert again.returncode == 0, again.stdout + again.stderr
    else:  # the flake8 route: the CLN codes in flake8's report
        assert "similarity.py:9:" in output and "CLN003" in output


# --- the runtime checker's examples -------------------------------------------------------------

PYTHON_BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
TINY_MODEL = '''\
import torch
import open_clip
from open_clip.model import CLIPTextCfg, CLIPVisionCfg

torch.manual_seed(0)
TINY = dict(
    embed_dim=24,
    vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=8, image_size=32),
    text_cfg=CLIPTextCfg(context_length=16, vocab_size=99, width=32, heads=2, layers=1),
)


def tiny_model():
    return open_clip.model.CLIP(**TINY).eval()


def tiny_images(batch=2):
    return torch.randn(batch, 3, 32, 32)


def tiny_tokens(batch=3):
    return torch.randint(1, 98, (batch, 16))
'''


def readme_python(starting: str) -> str:
    blocks = [match["body"] for match in PYTHON_BLOCK.finditer(README.read_text(encoding="utf-8"))]
    (block,) = [body for body in blocks if body.startswith(starting)]
    return block


def _python(args: List[str], cwd: Path) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_guard_example_raises_where_it_says(tmp_path: Path) -> None:
    example = readme_python("import runtime_check\n")
    lines = example.splitlines()
    raising = next(number for number, line in enumerate(lines, 1) if "# raises UnnormalizedFeaturesError" in line)
    script = TINY_MODEL + (
        "\nmodel, pixels, tokens = tiny_model(), tiny_images(), tiny_tokens()\n"
        "import traceback, runtime_check\n"
        "try:\n"
        f"    exec(compile({example!r}, 'example', 'exec'))\n"
        "except runtime_check.UnnormalizedFeaturesError:\n"
        "    frame = [f for f in traceback.extract_tb(__import__('sys').exc_info()[2]) if f.filename == 'example']\n"
        "    print('raised at', frame[-1].lineno)\n"
    )
    (tmp_path / "guard_example.py").write_text(script, encoding="utf-8")
    done = _python(["guard_example.py"], tmp_path)
    assert done.stdout.strip() == f"raised at {raising}", done.stdout + done.stderr


@pytest.mark.slow
def test_the_clip_assert_example_fails_only_under_the_flag(tmp_path: Path) -> None:
    example = readme_python("# test_retrieval.py\n")
    (tmp_path / "test_retrieval.py").write_text(example, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(
        TINY_MODEL + "\n\nimport pytest\n\n\n@pytest.fixture\ndef model():\n    return tiny_model()\n\n\n"
        "@pytest.fixture\ndef images():\n    return tiny_images()\n\n\n@pytest.fixture\ndef tokens():\n"
        "    return tiny_tokens()\n",
        encoding="utf-8",
    )
    command = re.search(r"^(pytest --clip-assert \S+)", README.read_text(encoding="utf-8"), re.MULTILINE).group(1)
    checked = _python(["-m", *shlex.split(command), "-p", "no:cacheprovider", "-q"], tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "1 failed" in checked.stdout and "UnnormalizedFeaturesError" in checked.stdout
    plain = _python(["-m", "pytest", "test_retrieval.py", "-p", "no:cacheprovider", "-q"], tmp_path)
    assert plain.returncode == 0 and "1 passed" in plain.stdout, plain.stdout + plain.stderr
