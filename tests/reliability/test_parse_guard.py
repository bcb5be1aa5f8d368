"""The nesting pre-check that keeps sources libcst would crash on away from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from clip_lint.sources.parse_guard import MAX_SYNTAX_DEPTH, nesting_problem

REPO = Path(__file__).resolve().parents[2]

# Sizes at which libcst 1.9 crashed or passed 20 s (see parse_guard's table): all refused.
CRASHING = {
    "parentheses": "z = " + "(" * 1284 + "1" + ")" * 1284,
    "negated_parentheses": "z = " + "-(" * 1025 + "1" + ")" * 1025,
    "sum": "z = " + "+".join(["a"] * 4173),
    "unary": "z = " + "-" * 4543 + "1",
    "lambdas": "z = " + "lambda: " * 3062 + "1",
    "calls": "z = " + "f(" * 1300 + "1" + ")" * 1300,
    "attributes_and_calls": "z = a" + ".b()" * 3000,
}


@pytest.mark.parametrize("name", sorted(CRASHING))
def test_what_crashes_libcst_is_refused(name: str) -> None:
    problem = nesting_problem(CRASHING[name] + "\n")
    assert problem is not None
    line, col, reason = problem
    assert line == 1 and 0 < col < len(CRASHING[name])
    assert "nests too deeply" in reason and str(MAX_SYNTAX_DEPTH) in reason


def test_the_position_is_the_line_and_column_where_the_limit_is_passed() -> None:
    source = "x = 1\r\ny = 2\n# (((( in a comment\nz = " + "(" * 600 + "1" + ")" * 600 + "\n"
    line, col, _ = nesting_problem(source)
    assert line == 4 and col == len("z = ") + MAX_SYNTAX_DEPTH // 4  # the first bracket past the limit


@pytest.mark.parametrize("source", [
    "data = [" + ", ".join(["[1, 2, 3]"] * 50_000) + "]\n",             # a big flat table
    "text = '" + "(" * 5000 + "'\n",                                       # brackets in a string
    "# " + "[" * 5000 + "\n",                                              # and in a comment
    "s = '''\n" + "{" * 5000 + "\n'''\n",                                  # and in a docstring
    "total = (\n" + "".join(f"    + value_{i}\n" for i in range(200)) + ")\n",  # a long but shallow sum
    "x = a" + ".b" * 300 + "\n",                                           # a long method chain
], ids=["flat_table", "string", "comment", "docstring", "long_sum", "chain"])  # fmt: skip
def test_big_but_shallow_code_passes(source: str) -> None:
    assert nesting_problem(source) is None


def test_the_projects_own_code_passes() -> None:
    for path in sorted((REPO / "clip_lint").glob("*.py")) + sorted((REPO / "tests").rglob("*.py")):
        assert nesting_problem(path.read_text(encoding="utf-8")) is None, path
