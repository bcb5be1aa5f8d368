"""The one reader (a run's snapshot, every read recorded, overlays) and the memoized questions
that carry their reads (least fixed points inside import cycles, whatever the order)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, List

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.modules import Project
from clip_lint.project.queries import Queries
from clip_lint.project.reading import UNREADABLE, SourceReader


def test_a_run_reads_each_file_once_and_records_the_bytes_it_used(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    reader = SourceReader()
    with reader.recording() as first:
        assert reader.snapshot(str(module)).text == "x = 1\n"
    module.write_text("x = 2\n")  # saved during the run
    with reader.recording() as second:
        assert reader.snapshot(str(module)).text == "x = 1\n"  # the run's snapshot
    assert first.to_json() == second.to_json()
    assert reader.still_holds(first.to_json())
    assert not SourceReader().still_holds(first.to_json())  # the next run sees the edit


def test_every_probe_is_recorded_with_its_answer(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    reader = SourceReader()
    with reader.recording() as reads:
        assert reader.is_dir(str(tmp_path / "pkg")) and not reader.is_file(str(tmp_path / "pkg" / "__init__.py"))
    record = reads.to_json()
    assert ["dir", str(tmp_path / "pkg"), True] in record["probes"]
    assert reader.still_holds(record)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    assert not SourceReader().still_holds(record)


def test_a_memoized_answer_brings_its_reads_to_whoever_reuses_it(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    reader = SourceReader()
    queries = Queries(reader)

    def length() -> int:
        return len(reader.snapshot(str(module)).text or "")

    with reader.recording() as first:
        queries.ask(("length",), length)
    with reader.recording() as again:  # a memo hit: nothing is read, but the read is recorded
        assert queries.ask(("length",), length) == 6
    assert again.to_json()["files"] == first.to_json()["files"] == {str(module): reader.snapshot(str(module)).digest}


def test_an_overlay_is_read_in_place_of_the_disk_and_marks_the_record(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("on disk\n")
    reader = SourceReader(overlay={str(module): "in the editor\n", str(tmp_path / "new.py"): "unsaved\n"})
    with reader.recording() as reads:
        assert reader.snapshot(str(module)).text == "in the editor\n"
        assert reader.is_file(str(tmp_path / "new.py")) and reader.snapshot(str(tmp_path / "new.py")).text == "unsaved\n"
    assert reads.flatten().overlaid
    with reader.recording() as disk_only:
        reader.is_dir(str(tmp_path))
    assert not disk_only.flatten().overlaid


def test_what_is_not_a_regular_file_is_never_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    assert SourceReader().snapshot(str(fifo)).digest == UNREADABLE
    assert SourceReader().snapshot(str(tmp_path)).digest == UNREADABLE
    assert SourceReader().snapshot(str(tmp_path / "missing.py")).digest == UNREADABLE


def test_a_damaged_record_never_holds() -> None:
    for damaged in (None, [], {"files": []}, {"files": {}, "probes": [["file"]]}, {"probes": []}):
        assert not SourceReader().still_holds(damaged)


# --- least fixed points: the order of questions never changes an answer ------------------------------

Graph = Dict[int, List[int]]


def reachable_sets(graph: Graph, seeds: Dict[int, bool], order: List[int]) -> Dict[int, frozenset]:
    """For each node, the seeds it reaches, as a recursive memoized question answered in ``order``:
    a monotone system with cycles, like relevance through import cycles."""
    queries = Queries(SourceReader())

    def ask(node: int) -> frozenset:
        def compute() -> frozenset:
            found = {node} if seeds[node] else set()
            for target in graph[node]:
                found |= ask(target)
            return frozenset(found)

        return queries.ask(("reach", node), compute, frozenset())

    return {node: ask(node) for node in order}


def truly_reachable(graph: Graph, seeds: Dict[int, bool], start: int) -> frozenset:
    seen, stack = {start}, [start]
    while stack:
        for target in graph[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(node for node in seen if seeds[node])


graphs = st.integers(min_value=1, max_value=7).flatmap(
    lambda size: st.tuples(
        st.fixed_dictionaries({node: st.lists(st.integers(0, size - 1), max_size=3) for node in range(size)}),
        st.fixed_dictionaries({node: st.booleans() for node in range(size)}),
        st.permutations(list(range(size))),
    )
)


@settings(max_examples=150, deadline=None)
@given(graphs)
def test_answers_inside_cycles_are_the_least_fixed_point_whatever_the_order(case) -> None:
    graph, seeds, order = case
    answers = reachable_sets(graph, seeds, order)
    assert answers == {node: truly_reachable(graph, seeds, node) for node in graph}


# --- the project layer's own questions in import cycles, in every order -----------------------------

modules = st.integers(min_value=2, max_value=5).flatmap(
    lambda size: st.tuples(
        st.fixed_dictionaries({i: st.lists(st.integers(0, size - 1), max_size=2, unique=True) for i in range(size)}),
        st.fixed_dictionaries({i: st.sampled_from(["encode", "relay", "plain"]) for i in range(size)}),
        st.permutations(list(range(size))),
        st.permutations(list(range(size))),
    )
)


def _module_text(index: int, imports: List[int], kind: str) -> str:
    lines = [f"from pkg.m{target} import f as f{target}" for target in imports]
    calls = "".join(f"    x = f{target}(m, x)\n" for target in imports)
    body = "    return m.encode_image(x)\n" if kind == "encode" else "    return x\n"
    if kind == "relay" and imports:
        body = f"    return f{imports[0]}(m, x)\n"
    return "\n".join(lines) + f"\n\n\ndef f(m, x):\n{calls if kind != 'plain' else ''}{body}\n\ndef other(m):\n    return m\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules)
def test_the_project_answers_the_same_whichever_module_is_asked_first(case) -> None:
    imports, kinds, first_order, second_order = case
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text("")
        (root / "pkg").mkdir()
        (root / "pkg" / "__init__.py").write_text("")
        paths = []
        for index in imports:
            path = root / "pkg" / f"m{index}.py"
            path.write_text(_module_text(index, imports[index], kinds[index]))
            paths.append(os.path.realpath(path))

        def answers(order: List[int]) -> List[tuple]:
            project = Project(folder)
            found = {}
            for index in order:
                path = paths[index]
                found[index] = (
                    project.mentions_features(path), project.relevant_names(path),
                    project.imported_name_hands(path, "f"), project.mentions_comparisons(path),
                )
            return [found[index] for index in sorted(found)]

        assert answers(first_order) == answers(second_order)
