"""Read the ``# expect: CLN00X`` annotations that fixtures carry on their offending lines."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Counter as CounterType, Tuple

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>CLN\d{3}(?:\s*,\s*CLN\d{3})*)")


def expected_findings(source: str) -> CounterType[Tuple[int, str]]:
    """(line, code) pairs, counted: a line may expect the same code twice."""
    expected: CounterType[Tuple[int, str]] = Counter()
    for number, line in enumerate(source.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            for code in match.group("codes").split(","):
                expected[(number, code.strip())] += 1
    return expected


def fixture_files(root: Path) -> list:
    return sorted(root.glob("*.py"))
