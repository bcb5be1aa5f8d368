"""Suppression: file-level ``# flake8: noqa`` / ``# clip-lint: noqa`` (as flake8 reads them),
``per-file-ignores``, and ``--add-noqa`` in Python files, notebooks and Markdown."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import BUGGY, FIXTURES, run_cli, run_json, write

TWO_BUGS_ONE_LINE = """\
image_features = model.encode_image(images)
text_features = model.encode_text(texts)
logits = image_features @ (text_features / text_features.norm(dim=-1)).T
"""


def flake8_codes(path: Path) -> list:
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", path.name],
        cwd=path.parent, capture_output=True, text=True, timeout=120,
    )
    return [line.split(": ", 1)[1].split()[0] for line in result.stdout.splitlines()]


# --- file-level noqa --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "comment, exempt",
    [
        ("# flake8: noqa", True),
        ("# flake8=noqa", True),
        ("# FLAKE8: NOQA", True),
        ("    # flake8: noqa", True),
        ("# flake8: noqa: E501", True),  # flake8 exempts the whole file here too
        ("# clip-lint: noqa", True),
        ("x = 1  # flake8: noqa", False),  # after code it is no file-level comment, in flake8 either
        ("# flake8 noqa", False),
    ],
)
def test_file_level_noqa_matches_flake8(tmp_path: Path, comment: str, exempt: bool) -> None:
    path = write(tmp_path, "bug.py", comment + "\n" + BUGGY)
    result = run_cli("bug.py", cwd=tmp_path)
    assert result.returncode == (0 if exempt else 1), result.stdout
    if "clip-lint" not in comment:
        assert (flake8_codes(path) == []) is exempt


def test_file_level_noqa_in_a_notebook_cell_and_a_markdown_block(tmp_path: Path) -> None:
    notebook = json.loads((FIXTURES / "notebooks" / "fix_keeps_outputs.ipynb").read_text(encoding="utf-8"))
    write(tmp_path, "nb.ipynb", json.dumps(notebook))
    assert run_cli("nb.ipynb", cwd=tmp_path).returncode == 1
    code_cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code_cell["source"] = ["# clip-lint: noqa\n"] + list(code_cell["source"])
    write(tmp_path, "nb.ipynb", json.dumps(notebook))
    assert run_cli("nb.ipynb", cwd=tmp_path).returncode == 0
    write(tmp_path, "doc.md", "# Title\n\n```python\n# flake8: noqa\n" + BUGGY + "```\n")
    assert run_cli("doc.md", cwd=tmp_path).returncode == 0


def test_pre_commit_style_file_list_honours_file_noqa(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "# flake8: noqa\n" + BUGGY)
    write(tmp_path, "b.py", BUGGY)
    _, report = run_json("a.py", "b.py", cwd=tmp_path)
    assert {finding["path"] for finding in report["findings"]} == {"b.py"}


# --- per-file-ignores -------------------------------------------------------------------------


def test_per_file_ignores_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.clip-lint.per-file-ignores]\n"tests/*" = ["CLN001"]\n"legacy.py" = ["CLN"]\n')
    write(tmp_path, "tests/test_a.py", TWO_BUGS_ONE_LINE)
    write(tmp_path, "src/legacy.py", BUGGY)  # no slash in the glob: matches the name anywhere
    write(tmp_path, "src/model.py", BUGGY)
    _, report = run_json(".", cwd=tmp_path)
    found = sorted((finding["path"], finding["code"]) for finding in report["findings"])
    assert found == [("src/model.py", "CLN001"), ("tests/test_a.py", "CLN003")]


def test_per_file_ignores_are_relative_to_the_config_not_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path, "repo/setup.cfg", "[clip-lint]\nper-file-ignores =\n    src/gen_*.py: CLN001\n")
    write(tmp_path, "repo/src/gen_model.py", BUGGY)
    write(tmp_path, "repo/src/model.py", BUGGY)
    _, report = run_json("src", cwd=tmp_path / "repo")
    assert [finding["path"] for finding in report["findings"]] == ["src/model.py"]
    _, report = run_json("repo/src/gen_model.py", cwd=tmp_path)
    assert report["findings"] == []


# --- --add-noqa -------------------------------------------------------------------------------


def test_add_noqa_python_idempotent_and_only_comments(tmp_path: Path) -> None:
    source = TWO_BUGS_ONE_LINE + "other = 1  # a remark\nscores = other_features @ x  # noqa: CLN002\n"
    source = source.replace("other_features @ x", "image_features @ image_features.T")
    path = write(tmp_path, "bug.py", source)
    result = run_cli("--add-noqa", "bug.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "Added 2 noqa comments in 1 file.\n"
    after = path.read_text(encoding="utf-8").splitlines()
    before = source.splitlines()
    assert after[2] == before[2] + "  # noqa: CLN001, CLN003"
    assert after[4] == "scores = image_features @ image_features.T  # noqa: CLN001, CLN002"
    assert [line for i, line in enumerate(after) if i not in (2, 4)] == [
        line for i, line in enumerate(before) if i not in (2, 4)
    ]
    assert run_cli("bug.py", cwd=tmp_path).returncode == 0
    again = run_cli("--add-noqa", "bug.py", cwd=tmp_path)
    assert again.stdout == "Added 0 noqa comments in 0 files.\n"
    assert path.read_text(encoding="utf-8").splitlines() == after


def test_add_noqa_keeps_crlf_and_respects_selection(tmp_path: Path) -> None:
    path = tmp_path / "bug.py"
    path.write_bytes(TWO_BUGS_ONE_LINE.replace("\n", "\r\n").encode())
    run_cli("--add-noqa", "--select", "CLN003", "bug.py", cwd=tmp_path)
    data = path.read_bytes()
    assert data.count(b"\r\n") == 3 and b"\n" not in data.replace(b"\r\n", b"")
    assert data.splitlines()[2].endswith(b".T  # noqa: CLN003")


def test_add_noqa_leaves_a_line_that_ends_inside_a_string(tmp_path: Path) -> None:
    source = 'image_features = model.encode_image(images)\nscores = image_features @ image_features.T, """\ntext\n"""\n'
    path = write(tmp_path, "bug.py", source)
    assert [finding["line"] for finding in run_json("bug.py", cwd=tmp_path)[1]["findings"]] == [2]
    result = run_cli("--add-noqa", "bug.py", cwd=tmp_path)
    assert result.stdout == "Added 0 noqa comments in 0 files.\n"
    assert path.read_text(encoding="utf-8") == source


def test_add_noqa_in_a_notebook_cell(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "notebooks" / "fix_keeps_outputs.ipynb", tmp_path / "nb.ipynb")
    before = json.loads((tmp_path / "nb.ipynb").read_text(encoding="utf-8"))
    _, report = run_json("nb.ipynb", cwd=tmp_path)
    targets = {(finding["cell"], finding["line"], finding["code"]) for finding in report["findings"]}
    assert targets
    result = run_cli("--add-noqa", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0
    after = json.loads((tmp_path / "nb.ipynb").read_text(encoding="utf-8"))
    for cell, line, code in targets:
        source_line = "".join(after["cells"][cell - 1]["source"]).splitlines()[line - 1]
        assert source_line.endswith("# noqa: " + code) or code in source_line.split("# noqa: ")[1]
    for old, new in zip(before["cells"], after["cells"]):
        assert {k: v for k, v in old.items() if k != "source"} == {k: v for k, v in new.items() if k != "source"}
    assert run_cli("nb.ipynb", cwd=tmp_path).returncode == 0
    once = (tmp_path / "nb.ipynb").read_bytes()
    run_cli("--add-noqa", "nb.ipynb", cwd=tmp_path)
    assert (tmp_path / "nb.ipynb").read_bytes() == once


def test_add_noqa_in_an_indented_markdown_block(tmp_path: Path) -> None:
    indented = "".join("   " + line + "\n" if line else "\n" for line in BUGGY.splitlines())
    text = "# Usage\n\n1. Compare:\n\n   ```python\n" + indented + "   ```\n\nThe end.\n"
    path = write(tmp_path, "README.md", text)
    _, report = run_json("README.md", cwd=tmp_path)
    [finding] = report["findings"]
    run_cli("--add-noqa", "README.md", cwd=tmp_path)
    after = path.read_text(encoding="utf-8").splitlines()
    before = text.splitlines()
    line = finding["line"] - 1
    assert after[line] == before[line] + "  # noqa: CLN001"
    assert after[:line] + after[line + 1:] == before[:line] + before[line + 1:]
    assert run_cli("README.md", cwd=tmp_path).returncode == 0
