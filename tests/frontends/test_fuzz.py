"""hypothesmith fuzzing: the plugin never raises, whatever the source."""

from __future__ import annotations

import ast
import warnings

import hypothesmith
from hypothesis import HealthCheck, given, settings

from clip_lint.frontends.flake8_plugin import Plugin

# Prepended so that every generated program passes the gate and is fully analysed.
PRELUDE = "features = model.encode_image(images)\nother = features @ features.T\n"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def run_plugin(source: str) -> list:
    """Run the plugin as flake8 would: with the module's own ast (none when Python rejects it)."""
    lines = source.splitlines(keepends=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about generated nonsense
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    return list(Plugin(tree, lines).run())  # type: ignore[arg-type]


@FUZZ
@given(hypothesmith.from_grammar())
def test_plugin_never_raises_on_grammar_programs(source: str) -> None:
    results = run_plugin(PRELUDE + source)
    assert all(message.startswith("CLN") for _, _, message, _ in results)
    assert not any("internal error" in message for _, _, message, _ in results), results


@FUZZ
@given(hypothesmith.from_node())
def test_plugin_never_raises_on_valid_programs(source: str) -> None:
    results = run_plugin(PRELUDE + source)
    codes = {message.split()[0] for _, _, message, _ in results}
    assert codes <= {"CLN001", "CLN002", "CLN003", "CLN004", "CLN900"}
    assert not any("internal error" in message for _, _, message, _ in results), results
