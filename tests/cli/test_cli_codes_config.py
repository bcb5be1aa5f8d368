"""Codes are checked (exit 2 on an unknown one) and one configuration serves both front ends,
found per file from the nearest config above it, as ruff finds it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import BUGGY, run_cli, run_json, write

# One CLN001 (image features raw) and one CLN003 (text norm without keepdim).
TWO_BUGS = """\
image_features = model.encode_image(images)
text_features = model.encode_text(texts)
text_features = text_features / text_features.norm(dim=-1)
logits = image_features @ text_features.T
"""
# Raw only if ``embed_images`` is known as an encoder.
CUSTOM_ENCODER = """\
image_features = model.embed_images(images)
logits = image_features @ image_features.T
"""


def codes(report: dict) -> list:
    return sorted(finding["code"] for finding in report["findings"])


def known_codes() -> list:
    from clip_lint.rules import RULES

    return sorted(RULES)


# --- codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, bad",
    [
        (["--select", "CNL001"], "CNL001"),
        (["--select", "cln001"], "cln001"),
        (["--select", "CLN01"], "CLN01"),
        (["--select", "CLN001,CLN0001"], "CLN0001"),
        (["--ignore", "CLN0001"], "CLN0001"),
        (["--extend-select", "XYZ"], "XYZ"),
    ],
)
def test_unknown_codes_on_the_command_line_exit_2(tmp_path: Path, args: list, bad: str) -> None:
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli(*args, "bug.py", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert f"'{bad}'" in result.stderr and "case-sensitive" in result.stderr
    assert "CLN001" in result.stderr  # the nearest known code


def test_a_lowercase_code_is_pointed_at_its_uppercase_spelling(tmp_path: Path) -> None:
    result = run_cli("--select", "cln001", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert "codes are case-sensitive: did you mean 'CLN001'?" in result.stderr


def test_every_code_and_prefix_from_the_rules_table_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", BUGGY)
    for code in known_codes() + ["CLN", "CLN0", "CLN00"]:
        result = run_cli("--select", code, "bug.py", cwd=tmp_path)
        assert result.returncode in (0, 1), (code, result.stderr)


@pytest.mark.parametrize(
    "filename, content, bad",
    [
        ("pyproject.toml", '[tool.clip-lint]\nselect = ["CNL"]\n', "CNL"),
        ("pyproject.toml", '[tool.clip-lint]\nignore = ["CLN0001"]\n', "CLN0001"),
        ("pyproject.toml", '[tool.clip-lint]\nextend-select = ["cln"]\n', "cln"),
        ("pyproject.toml", '[tool.clip-lint.per-file-ignores]\n"tests/*" = ["CLN01"]\n', "CLN01"),
        ("setup.cfg", "[clip-lint]\nignore = CLN4\n", "CLN4"),
        ("setup.cfg", "[clip-lint]\nper-file-ignores =\n    tests/*: CLN001, CNL002\n", "CNL002"),
    ],
)
def test_unknown_codes_in_the_config_exit_2(tmp_path: Path, filename: str, content: str, bad: str) -> None:
    write(tmp_path, filename, content)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli("bug.py", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert f"'{bad}'" in result.stderr and filename in result.stderr and "case-sensitive" in result.stderr


def test_extend_select_adds_to_the_configured_select(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nselect = ["CLN003"]\n')
    write(tmp_path, "bug.py", TWO_BUGS)
    assert codes(run_json("bug.py", cwd=tmp_path)[1]) == ["CLN003"]
    assert codes(run_json("--extend-select", "CLN001", "bug.py", cwd=tmp_path)[1]) == ["CLN001", "CLN003"]


def test_repeated_list_flags_add_up(tmp_path: Path) -> None:
    write(tmp_path, "a/bug.py", BUGGY)
    write(tmp_path, "b/bug.py", BUGGY)
    write(tmp_path, "c/bug.py", BUGGY)
    _, report = run_json("--extend-exclude", "a", "--extend-exclude", "b", ".", cwd=tmp_path)
    assert sorted({finding["path"] for finding in report["findings"]}) == ["c/bug.py"]
    _, report = run_json("--ignore", "CLN001", "--ignore", "CLN003", ".", cwd=tmp_path)
    assert report["findings"] == []


# --- one configuration for flake8 and clip-lint ---------------------------------------------


@pytest.mark.parametrize("filename", ["setup.cfg", "tox.ini", ".flake8"])
def test_flake8_section_configures_both_front_ends(tmp_path: Path, filename: str) -> None:
    write(tmp_path, filename, "[flake8]\nmax-line-length = 100\nclip-encoders = embed_images\n")
    path = write(tmp_path, "custom.py", CUSTOM_ENCODER)
    assert codes(run_json("custom.py", cwd=tmp_path)[1]) == ["CLN001"]
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CLN", path.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert "CLN001" in flake8.stdout, flake8.stdout + flake8.stderr


def test_flake8_normalizers_key_is_read_too(tmp_path: Path) -> None:
    # with ``unit`` known as a normalizer, the mean of unit features is CLN004
    source = "f = model.encode_text(t)\nf = unit(f)\nm = f.mean(dim=0)\nscores = image @ m\n"
    write(tmp_path, "plain/pooled.py", source)
    assert run_json("pooled.py", cwd=tmp_path / "plain")[1]["findings"] == []
    write(tmp_path, "configured/setup.cfg", "[flake8]\nclip_normalizers = unit\n")
    write(tmp_path, "configured/pooled.py", source)
    assert codes(run_json("pooled.py", cwd=tmp_path / "configured")[1]) == ["CLN004"]


def test_tool_clip_lint_wins_over_flake8_key_by_key(tmp_path: Path) -> None:
    write(tmp_path, ".flake8", "[flake8]\nclip-encoders = embed_images\n")
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nextra-encoders = ["embed_other"]\n')
    write(tmp_path, "custom.py", CUSTOM_ENCODER)
    assert run_json("custom.py", cwd=tmp_path)[1]["findings"] == []  # embed_images came from [flake8] only
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nignore = ["CLN003"]\n')
    assert codes(run_json("custom.py", cwd=tmp_path)[1]) == ["CLN001"]  # no encoders key: [flake8]'s count


def test_flake8_keys_in_tool_clip_lint_are_the_same_key(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nclip-encoders = ["embed_images"]\n')
    write(tmp_path, "custom.py", CUSTOM_ENCODER)
    assert codes(run_json("custom.py", cwd=tmp_path)[1]) == ["CLN001"]


def test_other_flake8_options_are_not_clip_lint_errors(tmp_path: Path) -> None:
    write(tmp_path, "setup.cfg", "[flake8]\nmax-line-length = 120\nper-file-ignores =\n    a.py: E501\n")
    write(tmp_path, "bug.py", BUGGY)
    assert run_cli("bug.py", cwd=tmp_path).returncode == 1


@pytest.mark.parametrize(
    "content, words",
    [
        ('[tool.clip-lint]\nextra-encoders = "embed_images"\n', ["'extra-encoders'", "list of strings", "a string"]),
        ('[tool.clip-lint]\nselect = [1]\n', ["'select'", "list of strings"]),
        ('[tool.clip-lint]\nper-file-ignores = ["a"]\n', ["'per-file-ignores'", "table"]),
        ('[tool.clip-lint.per-file-ignores]\n"a.py" = "CLN001"\n', ["'a.py'", "list of strings"]),
        ('[tool.clip-lint]\nselct = ["CLN"]\n', ["unknown key 'selct'", "select"]),
    ],
)
def test_wrong_types_and_unknown_keys_exit_2(tmp_path: Path, content: str, words: list) -> None:
    write(tmp_path, "pyproject.toml", content)
    write(tmp_path, "bug.py", BUGGY)
    result = run_cli("bug.py", cwd=tmp_path)
    assert result.returncode == 2
    for word in words:
        assert word in result.stderr, result.stderr


def test_explicit_config_errors(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", BUGGY)
    write(tmp_path, "other.toml", "[tool.black]\nline-length = 100\n")
    write(tmp_path, "tox.ini", "[tox]\nenvlist = py311\n")
    for config, words in [
        ("other.toml", ["other.toml", "no clip-lint settings", "[tool.clip-lint]"]),
        ("tox.ini", ["tox.ini", "no clip-lint settings"]),
        (".", ["is a folder", "name a file"]),
        ("missing.toml", ["does not exist"]),
    ]:
        result = run_cli("--config", config, "bug.py", cwd=tmp_path)
        assert result.returncode == 2, config
        for word in words:
            assert word in result.stderr, (config, result.stderr)


def test_config_is_found_from_the_file_not_the_working_directory(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "pyproject.toml", '[tool.clip-lint]\nignore = ["CLN003"]\n')
    write(repo, "src/x.py", TWO_BUGS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert codes(run_json(str(repo / "src" / "x.py"), cwd=elsewhere)[1]) == ["CLN001"]
    assert codes(run_json(str(repo), cwd=elsewhere)[1]) == ["CLN001"]


def test_nested_configs_apply_to_their_own_files(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nignore = ["CLN003"]\n')
    write(tmp_path, "a.py", TWO_BUGS)
    write(tmp_path, "sub/pyproject.toml", '[tool.clip-lint]\nignore = ["CLN001"]\nextend-exclude = ["skipped.py"]\n')
    write(tmp_path, "sub/b.py", TWO_BUGS)
    write(tmp_path, "sub/skipped.py", TWO_BUGS)
    _, report = run_json(".", cwd=tmp_path)
    found = sorted((finding["path"], finding["code"]) for finding in report["findings"])
    assert found == [("a.py", "CLN001"), ("sub/b.py", "CLN003")]


def test_explicit_config_overrides_discovery(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.clip-lint]\nignore = ["CLN003"]\n')
    write(tmp_path, "sub/pyproject.toml", '[tool.clip-lint]\nignore = ["CLN001"]\n')
    write(tmp_path, "sub/b.py", TWO_BUGS)
    assert codes(run_json("sub/b.py", cwd=tmp_path)[1]) == ["CLN003"]
    assert codes(run_json("--config", "pyproject.toml", "sub/b.py", cwd=tmp_path)[1]) == ["CLN001"]


def test_the_documented_key_table_is_the_config_key_table() -> None:
    """docs/configuration.md's one table of keys lists exactly the keys, aliases, flake8 keys and flags."""
    from cli_helpers import REPO

    from clip_lint.options import CONFIG_KEYS

    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    documented = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        names = re.findall(r"`([^`]+)`", cells[0])
        documented[names[0]] = (tuple(names[1:]), re.findall(r"`([^`]+)`", cells[2]), re.findall(r"`(--[^`]+)`", cells[3]))
    expected = {
        key.name: (key.aliases, [key.flake8] if key.flake8 else [], [key.flag] if key.flag else [])
        for key in CONFIG_KEYS
    }
    assert documented == expected
