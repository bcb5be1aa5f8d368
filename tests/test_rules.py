"""Each rule's own examples are its tests, and the README shows exactly the rules table."""

from __future__ import annotations

from pathlib import Path

import pytest

from clip_lint.frontends.docs import with_rules
from clip_lint.project.checking import analyze_source
from clip_lint.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [code for code, rule in RULES.items() if rule.example and rule.engine]  # CLN100: tests/cli


@pytest.mark.parametrize("code", CHECKED)
def test_example_gives_exactly_its_own_finding(code: str) -> None:
    findings = analyze_source(RULES[code].example)
    assert [f.code for f in findings] == [code]


@pytest.mark.parametrize("code", CHECKED)
def test_use_instead_is_clean(code: str) -> None:
    assert analyze_source(RULES[code].use_instead) == []


@pytest.mark.parametrize("code", CHECKED)
def test_example_fix_makes_it_clean(code: str) -> None:
    from clip_lint.sources.textedits import apply_edits

    (finding,) = analyze_source(RULES[code].example)
    assert finding.fix is not None
    fixed = apply_edits(RULES[code].example, finding.fix.edits)
    assert analyze_source(fixed) == []


def test_readme_rule_sections_are_generated_from_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_rules(readme, ROOT) == readme, "run: python -m clip_lint.frontends.docs README.md"


def test_every_rule_documents_every_heading() -> None:
    for rule in RULES.values():
        for text in (rule.what_it_does, rule.why_bad, rule.known_problems, rule.options, rule.fix_safety):
            assert text.strip()
