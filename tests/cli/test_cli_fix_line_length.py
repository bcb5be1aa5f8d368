"""The line length fixes keep to (issue 9): ``line-length`` in ``[tool.clip-lint]``, else the
shortest of Black's, ruff's and flake8's settings in the nearest directory that has one, else 88."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import run_cli

SOURCE = (
    "def rank(model, images, text_features_for_every_prompt_template):\n"
    "    fallback = model.encode_image(images) @ text_features_for_every_prompt_template.T\n"
    "    return fallback\n"
)
ONE_LINE = "    fallback = F.normalize(model.encode_image(images), dim=-1) @ text_features_for_every_prompt_template.T\n"
SPLIT = (
    "    fallback = F.normalize(\n"
    "        model.encode_image(images), dim=-1\n"
    "    ) @ text_features_for_every_prompt_template.T\n"
)


@pytest.mark.parametrize(
    "config_name, config, expected",
    [
        (None, "", SPLIT),
        ("pyproject.toml", "[tool.clip-lint]\nline-length = 120\n", ONE_LINE),
        ("setup.cfg", "[clip-lint]\nline-length = 120\n", ONE_LINE),
        ("setup.cfg", "[flake8]\nmax-line-length = 120\n", ONE_LINE),
        (".flake8", "[flake8]\nmax-line-length = 120\n", ONE_LINE),
        ("pyproject.toml", "[tool.black]\nline-length = 120\n", ONE_LINE),
        ("pyproject.toml", "[tool.ruff]\nline-length = 100\n", SPLIT),
        ("pyproject.toml", "[tool.black]\nline-length = 120\n[tool.clip-lint]\nline-length = 100\n", SPLIT),
    ],
)
def test_fixed_lines_keep_to_the_configured_length(
    tmp_path: Path, config_name: str, config: str, expected: str
) -> None:
    if config_name:
        (tmp_path / config_name).write_text(config, encoding="utf-8")
    target = tmp_path / "rank.py"
    target.write_text(SOURCE, encoding="utf-8")
    result = run_cli("--fix", "rank.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_text(encoding="utf-8") == "import torch.nn.functional as F\n\n\n" + SOURCE.replace(
        SOURCE.splitlines(keepends=True)[1], expected
    )


def test_a_line_length_that_is_not_a_number_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.clip-lint]\nline-length = "wide"\n', encoding="utf-8")
    (tmp_path / "rank.py").write_text(SOURCE, encoding="utf-8")
    result = run_cli("rank.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "line-length" in result.stderr
