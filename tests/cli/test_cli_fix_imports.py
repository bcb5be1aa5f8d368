"""Where ``--fix`` puts the import it adds, and which name it uses, in notebooks and Markdown
(issues 8 and 9): the cell or block of the existing imports, else the first code cell that
holds Python, never a shell cell; a name taken in another cell is not rebound; the same with
``--unsafe-fixes``."""

from __future__ import annotations

from pathlib import Path
from typing import List

import nbformat
import pytest

from cli_helpers import run_cli, run_json

MODES = [["--fix"], ["--fix", "--unsafe-fixes"]]


def fix_notebook(tmp_path: Path, sources: List[str], mode: List[str]) -> List[str]:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "nb.ipynb")
    result = run_cli(*mode, "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    _, after = run_json("nb.ipynb", cwd=tmp_path)
    assert after["findings"] == []
    return [cell.source for cell in nbformat.read(tmp_path / "nb.ipynb", as_version=4).cells]


@pytest.mark.parametrize("mode", MODES)
def test_notebook_import_joins_the_imports_cell(tmp_path: Path, mode: List[str]) -> None:
    cells = fix_notebook(tmp_path, ["import torch\nmodel = load()", "scores = model.encode_image(x) @ t"], mode)
    assert cells == [
        "import torch\nimport torch.nn.functional as F\nmodel = load()",
        "scores = F.normalize(model.encode_image(x), dim=-1) @ t",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_notebook_import_skips_a_shell_cell(tmp_path: Path, mode: List[str]) -> None:
    cells = fix_notebook(tmp_path, ["%%bash\necho hi", "!pip install torch", "scores = model.encode_image(x) @ t"], mode)
    assert cells == [
        "%%bash\necho hi",
        "!pip install torch",
        "import torch.nn.functional as F\nscores = F.normalize(model.encode_image(x), dim=-1) @ t",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_notebook_name_taken_in_another_cell_is_not_rebound(tmp_path: Path, mode: List[str]) -> None:
    cells = fix_notebook(
        tmp_path,
        ["from pyspark.sql import functions as F\nimport torch", "df = df.withColumn('n', F.lit(1))",
         "scores = model.encode_image(x) @ t"],
        mode,
    )
    assert cells[0] == "from pyspark.sql import functions as F\nimport torch"
    assert cells[2] == "scores = torch.nn.functional.normalize(model.encode_image(x), dim=-1) @ t"


@pytest.mark.parametrize("mode", MODES)
def test_markdown_import_joins_the_imports_block(tmp_path: Path, mode: List[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Use\n\n```python\nimport torch\n```\n\nThen:\n\n```python\nscores = model.encode_image(x) @ t\n```\n",
        encoding="utf-8",
    )
    assert run_cli(*mode, "README.md", cwd=tmp_path).returncode == 0
    assert readme.read_text(encoding="utf-8") == (
        "# Use\n\n```python\nimport torch\nimport torch.nn.functional as F\n```\n\nThen:\n\n"
        "```python\nscores = F.normalize(model.encode_image(x), dim=-1) @ t\n```\n"
    )
