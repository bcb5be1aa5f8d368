"""The pytest front end, exercised with pytest's own pytester on small real-model suites."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# In-process pytester runs drop the modules they imported afterwards; torch._dynamo (which the
# checker's torch.compiler.disable loads) can't be imported twice, so load it here, once.
import runtime_check.tracking  # noqa: F401,E402

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent


def _plugin_args() -> list[str]:
    """Load the plugin explicitly only when its pytest11 entry point is not installed."""
    entry_points = importlib.metadata.entry_points(group="pytest11")
    if any(ep.value == "runtime_check.pytest_plugin" for ep in entry_points):
        return []
    return ["-p", "runtime_check.pytest_plugin"]


SUITE = textwrap.dedent(
    """
    import torch
    import torch.nn.functional as F
    from runtime_models import build_hf_clip, images, tokens

    def test_buggy():
        model = build_hf_clip()
        with torch.no_grad():
            image = model.get_image_features(pixel_values=images()).pooler_output
            text = model.get_text_features(input_ids=tokens()).pooler_output
            logits = image @ text.T  # BUG-LINE
        assert logits.shape == (2, 3)

    def test_correct():
        model = build_hf_clip()
        with torch.no_grad():
            image = model.get_image_features(pixel_values=images()).pooler_output
            text = model.get_text_features(input_ids=tokens()).pooler_output
            logits = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        assert logits.shape == (2, 3)
    """
)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(HERE)  # the model builders of tests/runtime/runtime_models.py
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def _bug_line(pytester: pytest.Pytester) -> int:
    source = (pytester.path / "test_suite.py").read_text().splitlines()
    return next(number for number, line in enumerate(source, 1) if "BUG-LINE" in line)


def test_flag_fails_the_buggy_test_and_passes_the_correct_one(suite: pytest.Pytester) -> None:
    result = suite.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert "test_suite.py::test_buggy" in output
    assert "UnnormalizedFeaturesError" in output
    assert f"test_suite.py:{_bug_line(suite)}" in output  # the user's similarity line
    assert "logits = image @ text.T" in output  # shown as the failing source line
    assert "runtime_check/tracking.py" not in output  # internal frames hidden
    assert "torch/_tensor.py" not in output


def test_without_the_flag_nothing_is_checked(suite: pytest.Pytester) -> None:
    suite.runpytest(*_plugin_args()).assert_outcomes(passed=2)


def test_ini_key_turns_checking_on(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nclip_assert = true\n")
    suite.runpytest(*_plugin_args()).assert_outcomes(failed=1, passed=1)


def test_no_clip_assert_marker_opts_out(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_suite=SUITE.replace("def test_buggy", "@pytest.mark.no_clip_assert\ndef test_buggy")
                     .replace("import torch\n", "import pytest\nimport torch\n", 1))
    suite.runpytest(*_plugin_args(), "--clip-assert", "--strict-markers").assert_outcomes(passed=2)


def test_clip_assert_marker_opts_in(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_suite=SUITE.replace("def test_buggy", "@pytest.mark.clip_assert\ndef test_buggy")
                     .replace("import torch\n", "import pytest\nimport torch\n", 1))
    result = suite.runpytest(*_plugin_args(), "--strict-markers")
    result.assert_outcomes(failed=1, passed=1)


def test_fixture_checks_a_single_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_suite=SUITE.replace("def test_buggy():", "def test_buggy(clip_assert):"))
    result = suite.runpytest(*_plugin_args())
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*UnnormalizedFeaturesError: left and right operands of `matmul`*",
                                 "FAILED*test_buggy*"])


def test_violation_in_a_fixture_fails_at_setup_with_the_flag(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_fixture_bug=textwrap.dedent(
            """
            import pytest, torch
            from runtime_models import build_openai_clip, images, tokens

            @pytest.fixture
            def logits():
                model = build_openai_clip()
                with torch.no_grad():
                    return model.encode_image(images()) @ model.encode_text(tokens()).T

            def test_uses_logits(logits):
                assert logits.shape == (2, 3)
            """
        )
    )
    result = suite.runpytest(*_plugin_args(), "--clip-assert", "test_fixture_bug.py")
    result.assert_outcomes(errors=1)


def test_plugin_import_does_not_import_torch(pytester: pytest.Pytester) -> None:
    """Registering the option, ini key, markers and fixture must work without torch."""
    pytester.makepyfile(
        test_light=textwrap.dedent(
            """
            import sys

            def test_torch_not_loaded(request):
                assert request.config.getini("clip_assert") is False
                assert request.config.getoption("clip_assert") is False
                assert "torch" not in sys.modules
            """
        )
    )
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--markers")
    result.stdout.fnmatch_lines(["*clip_assert:*", "*no_clip_assert:*"])
    pytester.runpytest_subprocess(*_plugin_args()).assert_outcomes(passed=1)


def test_package_import_does_not_import_torch() -> None:
    code = "import sys, runtime_check, runtime_check.pytest_plugin; print('torch' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=HERE.parent.parent)
    assert output.stdout.strip() == "False"


@pytest.fixture
def without_torch(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Subprocess runs in which `import torch` fails, as on an install without the runtime extra."""
    import os

    stub = pytester.mkdir("no_torch")
    (stub / "torch").mkdir()
    (stub / "torch" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(stub), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(test_plain="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    return pytester


def test_flag_without_torch_is_one_usage_error_at_start_up(without_torch: pytest.Pytester) -> None:
    result = without_torch.runpytest_subprocess(*_plugin_args(), "--clip-assert", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("install clip-lint[runtime]") == 1
    assert "ModuleNotFoundError" not in output and "test_one" not in output
    without_torch.makeini("[pytest]\nclip_assert = true\n")
    result = without_torch.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "clip_assert = true: the runtime checker needs torch" in result.stderr.str()


def test_marker_without_torch_fails_that_test_with_the_hint(without_torch: pytest.Pytester) -> None:
    without_torch.makepyfile(test_marked=(
        "import pytest\n\n@pytest.mark.clip_assert\ndef test_checked():\n    pass\n\ndef test_plain():\n    pass\n"))
    result = without_torch.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "test_marked.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*clip_assert: the runtime checker needs torch: install clip-lint?runtime?"])


def test_bad_ini_value_is_one_configuration_error(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nclip_assert = maybe\n")
    result = suite.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("invalid `clip_assert` ini value") == 1
    assert "test_buggy" not in output
