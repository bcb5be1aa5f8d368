"""pytest front end of the runtime checker: `--clip-assert`, ini `clip_assert`, fixture and markers.

Loaded in every pytest run of anyone who installs clip-lint, so it imports torch (through
runtime_check.mode) only for a test that asks for checking. A checked test runs setup, call
and teardown inside `assert_mode`; violations deferred on CUDA are read at the end of the call,
so they fail the test that caused them, with the checker's and torch's frames hidden.
"""

from __future__ import annotations

import types
from typing import Any, Iterator

import pytest

from .errors import UnnormalizedFeaturesError

_MODE_KEY = pytest.StashKey[Any]()
_ALWAYS_KEY = pytest.StashKey[bool]()
_MARKERS = (
    "clip_assert: run this test under runtime_check.assert_mode (CLIP features must be L2-normalized)",
    "no_clip_assert: never run this test under runtime_check.assert_mode, even with --clip-assert",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("clip-assert", "CLIP normalization runtime checks (clip-lint)")
    group.addoption(
        "--clip-assert",
        action="store_true",
        default=False,
        dest="clip_assert",
        help="check every test with runtime_check.assert_mode: unnormalized CLIP features fail the test",
    )
    parser.addini("clip_assert", type="bool", default=False,
                  help="same as --clip-assert, for every run")


_INSTALL_HINT = "the runtime checker needs torch: install clip-lint[runtime]"


def _torch_missing() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Read the switches once: a bad ini value or a missing torch is one error at start-up."""
    for marker in _MARKERS:
        config.addinivalue_line("markers", marker)
    try:
        from_ini = config.getini("clip_assert")
    except (ValueError, pytest.UsageError) as error:  # pytest 9 raises UsageError itself
        raise pytest.UsageError(f"invalid `clip_assert` ini value ({error}): use true or false") from None
    always = bool(config.getoption("clip_assert") or from_ini)
    if always and _torch_missing():
        switch = "--clip-assert" if config.getoption("clip_assert") else "clip_assert = true"
        raise pytest.UsageError(f"{switch}: {_INSTALL_HINT}")
    config.stash[_ALWAYS_KEY] = always


def _checking_wanted(item: pytest.Item) -> bool:
    if "clip_assert" in getattr(item, "fixturenames", ()):
        return True
    if item.get_closest_marker("no_clip_assert") is not None:
        return False
    if item.get_closest_marker("clip_assert") is not None:
        return True
    return item.config.stash.get(_ALWAYS_KEY, False)


def _user_traceback(traceback: types.TracebackType | None) -> types.TracebackType | None:
    """The same traceback without the frames of torch, runtime_check and the model libraries."""
    from .frames import is_library_frame

    kept = []
    while traceback is not None:
        if not is_library_frame(traceback.tb_frame):
            kept.append(traceback)
        traceback = traceback.tb_next
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def _raise_for_user(error: UnnormalizedFeaturesError) -> None:
    __tracebackhide__ = True
    raise error.with_traceback(_user_traceback(error.__traceback__)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if _checking_wanted(item):
        if _torch_missing():  # asked for by a marker or the fixture
            pytest.fail(f"clip_assert: {_INSTALL_HINT}", pytrace=False)
        from .mode import assert_mode

        mode = assert_mode()
        mode.__enter__()
        item.stash[_MODE_KEY] = mode
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    __tracebackhide__ = True
    if item.stash.get(_MODE_KEY, None) is None:
        return (yield)
    from .mode import verify
    from .verdicts import VERDICTS

    try:
        result = yield
        verify()  # violations deferred on the device belong to this test
    except UnnormalizedFeaturesError as error:
        VERDICTS.discard()
        _raise_for_user(error)
    except BaseException:
        VERDICTS.discard()
        raise
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    __tracebackhide__ = True
    try:
        return (yield)
    finally:
        mode = item.stash.get(_MODE_KEY, None)
        if mode is not None:
            del item.stash[_MODE_KEY]
            try:
                mode.__exit__(None, None, None)  # raises what teardown fixtures violated
            except UnnormalizedFeaturesError as error:
                _raise_for_user(error)


class ClipAssert:
    """What the `clip_assert` fixture gives a test: the active checks, and a way to read them now."""

    def verify(self) -> None:
        """Raise violations deferred on the device so far (CUDA), instead of at the end of the test."""
        __tracebackhide__ = True
        from .mode import verify

        verify()


@pytest.fixture
def clip_assert() -> ClipAssert:
    """Run this test under runtime_check.assert_mode (the plugin's hooks do the work)."""
    return ClipAssert()
