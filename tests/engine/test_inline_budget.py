"""The inlining budget and memo: dense call graphs stay bounded, and memoizing changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from clip_lint.engine import analyzer as analyzer_module
from clip_lint.project.checking import analyze_source
from clip_lint.engine.inlining import InlineBudget, Inliner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

ZERO_SHOT = '''import torch


def zero_shot(model, images, tokens):
    img = model.encode_image(images)
    txt = model.encode_text(tokens)
    return 100.0 * img @ txt.T

'''


def fanout_program(functions: int) -> str:
    """``functions`` module functions, each calling all the others: exponential to inline."""
    lines = [ZERO_SHOT]
    for index in range(functions):
        lines.append(f"def k{index}(model, x):")
        lines.append("    a = model.encode_image(x)")
        lines.extend(f"    a = k{other}(model, a)" for other in range(functions) if other != index)
        lines.append("    return a")
    return "\n".join(lines) + "\n"


def nested_loops_program(depth: int, loops: int) -> str:
    """Functions calling the next one inside ``loops`` nested loops: passes multiply."""
    lines = [ZERO_SHOT]
    for index in range(depth):
        lines.append(f"def f{index}(model, x):")
        lines.append("    a = model.encode_image(x)")
        for level in range(loops):
            lines.append("    " * (level + 1) + f"for i{level} in x:")
        call = f"f{index + 1}(model, a)" if index + 1 < depth else "a.float()"
        lines.append("    " * (loops + 1) + f"a = {call}")
        lines.append("    return a")
    return "\n".join(lines) + "\n"


class CountingAnalyzer(analyzer_module.Analyzer):
    """Counts the statements run inside inlined bodies."""

    inlined_statements = 0

    def run_statement(self, statement, frame):  # type: ignore[override]
        if self.call_stack:
            CountingAnalyzer.inlined_statements += 1
        super().run_statement(statement, frame)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch):
    CountingAnalyzer.inlined_statements = 0
    monkeypatch.setattr("clip_lint.engine.analyzer.Analyzer", CountingAnalyzer)
    return CountingAnalyzer


@pytest.mark.parametrize("source", [fanout_program(40), nested_loops_program(4, 5)], ids=["fanout40", "loops4x5"])
def test_dense_call_graphs_stay_within_the_module_budget(source: str, counting) -> None:
    findings = analyze_source(source)
    assert [(f.line, f.code) for f in findings] == [(7, "CLN001")]  # the real bug is still found
    # Once the budget is spent no new call is inlined; the bodies already running finish.
    budget = InlineBudget()
    longest_body = max(block.count("\n") for block in source.split("\ndef "))
    assert counting.inlined_statements <= budget.statements_per_module + budget.max_depth * longest_body


def test_an_exhausted_budget_degrades_to_silence_not_to_a_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    source = ZERO_SHOT + (
        "def helper(model, x):\n"
        "    return model.encode_image(x)\n\n"
        "def main(model, x, t):\n"
        "    return helper(model, x) @ t\n"
    )
    assert [(f.line, f.code) for f in analyze_source(source)] == [(7, "CLN001"), (13, "CLN001")]
    monkeypatch.setattr(InlineBudget, "allows", lambda self, depth: False)
    assert [(f.line, f.code) for f in analyze_source(source)] == [(7, "CLN001")]


def fixture_sources():
    return sorted(FIXTURES.rglob("*.py"))


def test_memoized_calls_give_the_same_findings_on_every_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    def findings_of_all():
        return {
            path.name: [(f.line, f.col, f.code, f.message) for f in analyze_source(path.read_text(encoding="utf-8"))]
            for path in fixture_sources()
        }

    with_memo = findings_of_all()
    monkeypatch.setattr(Inliner, "inline_key", lambda self, *args: None)
    assert findings_of_all() == with_memo
    assert any(with_memo.values())


def test_nested_loop_calls_are_replayed_from_the_memo(counting) -> None:
    analyze_source(nested_loops_program(4, 5))
    with_memo = counting.inlined_statements
    counting.inlined_statements = 0
    original = Inliner.inline_key
    try:
        Inliner.inline_key = lambda self, *args: None  # type: ignore[assignment]
        analyze_source(nested_loops_program(4, 5))
    finally:
        Inliner.inline_key = original  # type: ignore[assignment]
    assert with_memo * 4 < counting.inlined_statements
