"""A file too large for the memory budget is skipped with a CLN900 that says why, and the run goes
on; a large text is checked for the fixer in pieces, with the same verdict as one whole parse."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clip_lint.frontends import runner
from clip_lint.sources.parse_guard import MEMORY_BUDGET_VARIABLE, size_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "project"))

from front_ends import clean_env, clip_lint, flake8  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SMALL = """import torch.nn.functional as F


def score(model, images, texts):
    image_features = model.encode_image(images)
    text_features = F.normalize(model.encode_text(texts), dim=-1)
    return image_features @ text_features.T
"""


def large_module(functions: int) -> str:
    """``functions`` copies of a comparison with a missing normalization, each fixable."""
    body = "".join(
        f"\n\ndef score_{index}(model, images, texts):\n"
        f"    image_features = model.encode_image(images)\n"
        f"    text_features = F.normalize(model.encode_text(texts), dim=-1)\n"
        f"    return image_features @ text_features.T\n"
        for index in range(functions)
    )
    return "import torch.nn.functional as F\n" + body


# A budget of 2 MB: the small file needs well under it, the large one (about 20 kB) well over.
BUDGET = {MEMORY_BUDGET_VARIABLE: "2"}


def test_the_budget_says_which_text_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    large = large_module(100)
    assert size_problem(SMALL) is None
    assert size_problem(large) is None  # the default budget holds far more
    monkeypatch.setenv(MEMORY_BUDGET_VARIABLE, "2")
    assert size_problem(SMALL) is None
    problem = size_problem(large)
    assert problem is not None and "memory budget" in problem and MEMORY_BUDGET_VARIABLE in problem
    monkeypatch.setenv(MEMORY_BUDGET_VARIABLE, "not a number")  # a typo falls back to the default
    assert size_problem(large) is None


def test_a_file_over_the_budget_is_skipped_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(large_module(100))
    (tmp_path / "small.py").write_text(SMALL)
    env = clean_env(**BUDGET)
    output = clip_lint("--no-cache", "big.py", "small.py", cwd=tmp_path, env=env).stdout
    big = [line for line in output.splitlines() if line.startswith("big.py:")]
    assert len(big) == 1 and "CLN900" in big[0] and "too large to analyse within the memory budget" in big[0]
    assert MEMORY_BUDGET_VARIABLE in big[0]
    assert any(line.startswith("small.py:7:") and "CLN001" in line for line in output.splitlines())

    reported = flake8("--clip-no-cache", "big.py", "small.py", cwd=tmp_path, env=env).stdout
    assert any("big.py:1:1: CLN900" in line and "memory budget" in line for line in reported.splitlines())
    assert any("small.py:7:" in line and "CLN001" in line for line in reported.splitlines())


def test_fix_leaves_a_file_over_the_budget_untouched_and_fixes_the_rest(tmp_path: Path) -> None:
    large = large_module(100)
    (tmp_path / "big.py").write_text(large)
    (tmp_path / "small.py").write_text(SMALL)
    clip_lint("--no-cache", "--fix", "big.py", "small.py", cwd=tmp_path, env=clean_env(**BUDGET))
    assert (tmp_path / "big.py").read_text() == large
    assert (tmp_path / "small.py").read_text() != SMALL
    # with the default budget the same file is fixed
    clip_lint("--no-cache", "--fix", "big.py", cwd=tmp_path)
    assert (tmp_path / "big.py").read_text() != large


# --- the fixer's parse check, in pieces ----------------------------------------------------------

STATEMENTS = st.sampled_from([
    "import torch\n",
    "x = (1,\n     2)\n",
    "def f(a):\n    return a\n",
    "@decorator\ndef g():\n    pass\n",
    "@a\n@b(1)\nclass C:\n    y = 1\n\n    def m(self):\n        return self.y\n",
    "if x:\n    pass\nelif y:\n    pass\nelse:\n    pass\n",
    "try:\n    pass\nexcept ValueError:\n    pass\nelse:\n    pass\nfinally:\n    pass\n",
    "for i in range(3):\n    pass\nelse:\n    pass\n",
    "# a comment\n",
    "\n",
    "s = '''a\nb'''\n",
    "t = 1 + \\\n    2\n",
    "while True:\n    break\n",
    "def h():\n    x = 1\n# a comment at column 0 inside\n    return x\n",
    "match p:\n    case 1:\n        pass\n",
    "async def k():\n    await z\n",
    # what a fix may break: each alone does not parse
    "def broken(:\n    pass\n",
    "else:\n    pass\n",
    "x = (1,\n",
    "    indented = 1\n",
    "return = 3\n",
])


@settings(max_examples=200, deadline=None)
@given(st.lists(STATEMENTS, max_size=12), st.integers(1, 60), st.sampled_from(["\n", "\r\n"]))
def test_pieces_give_the_verdict_of_one_whole_parse(statements, piece: int, newline: str) -> None:
    source = "".join(statements).replace("\n", newline)
    whole = runner._parse_error(source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "WHOLE_PARSE_CHARACTERS", 0)
        patch.setattr(runner, "PIECE_CHARACTERS", piece)
        pieces = runner._top_level_pieces(source)
        assert pieces is None or "".join(pieces) == source
        in_pieces = runner._parse_error(source)
    assert (whole is None) == (in_pieces is None), (source, whole, in_pieces)


@pytest.mark.parametrize("path", sorted((REPO / "fixtures" / "fix").glob("*.in.py")), ids=lambda p: p.name)
def test_fixes_are_the_same_when_checked_in_pieces(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    settings_ = runner.Settings(mode=runner.FIX)
    whole = runner.check_bytes(str(path), data, settings_)
    monkeypatch.setattr(runner, "WHOLE_PARSE_CHARACTERS", 0)
    monkeypatch.setattr(runner, "PIECE_CHARACTERS", 1)
    in_pieces = runner.check_bytes(str(path), data, settings_)
    assert in_pieces.output == whole.output and in_pieces.fixed == whole.fixed


def test_a_skip_under_a_small_budget_is_not_reused_under_a_larger_one(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(large_module(100))
    cache = str(tmp_path / "cache")
    skipped = clip_lint("--cache-dir", cache, "big.py", cwd=tmp_path, env=clean_env(**BUDGET)).stdout
    assert "memory budget" in skipped
    analysed = clip_lint("--cache-dir", cache, "big.py", cwd=tmp_path).stdout
    assert "memory budget" not in analysed and analysed.count("CLN001") == 100
