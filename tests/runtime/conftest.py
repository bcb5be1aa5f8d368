"""Fixtures of the runtime checker's tests; the model builders live in runtime_models.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# torch is an optional dependency of clip-lint: without it, there is nothing here to run.
collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["test_runtime_*.py"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """These tests switch checking on and off themselves: `--clip-assert` must not wrap them."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.no_clip_assert)


@pytest.fixture(scope="package", autouse=True)
def _one_thread():
    """The models are tiny: one intra-op thread avoids thread-pool stalls on a busy machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _clean_checker_state():
    """Every test ends with default settings and no pending verdicts."""
    import runtime_check
    from runtime_check.verdicts import VERDICTS

    yield
    runtime_check.reset_configuration()
    VERDICTS.discard()
