"""Memoized answers inside nested import cycles: the case where a change was seen by an inner
question of the cycle and not by its root (found by test_reader.py's hypothesis test on main)."""

from __future__ import annotations

from typing import Dict, FrozenSet, List

import pytest

from clip_lint.project.queries import Queries
from clip_lint.project.reading import SourceReader

Graph = Dict[int, List[int]]


def reachable_seeds(graph: Graph, seeds: FrozenSet[int], order: List[int]) -> Dict[int, FrozenSet[int]]:
    """Each node's reachable seeds, asked through ``Queries`` in ``order``."""
    queries = Queries(SourceReader())

    def ask(node: int) -> FrozenSet[int]:
        def compute() -> FrozenSet[int]:
            found = {node} & seeds
            for target in graph[node]:
                found |= ask(target)
            return frozenset(found)

        return queries.ask(("reach", node), compute, frozenset())

    return {node: ask(node) for node in order}


def by_search(graph: Graph, seeds: FrozenSet[int], start: int) -> FrozenSet[int]:
    seen, stack = {start}, [start]
    while stack:
        for target in graph[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(seen & seeds)


# 1 -> 5 -> {1, 3}, 3 -> {0, 5}, 0 -> 3: asked from 1, the cycle 0-3 closes inside the cycle 1-5,
# and 3's answer grows only in the second round, when 5 is no longer the question that saw it.
NESTED = {0: [3], 1: [5], 2: [], 3: [0, 5], 4: [], 5: [1, 3]}


@pytest.mark.parametrize("order", [[1, 0, 2, 3, 4, 5], [5, 3, 0, 1, 2, 4], [0, 1, 2, 3, 4, 5], [3, 1, 0, 5, 2, 4]])
def test_nested_cycles_reach_the_least_fixed_point(order: List[int]) -> None:
    seeds = frozenset({5})
    answers = reachable_seeds(NESTED, seeds, order)
    assert answers == {node: by_search(NESTED, seeds, node) for node in NESTED}
    assert answers[0] == frozenset({5})
