"""pytest front end of the runtime checker: `--clip-assert`, ini `clip_assert` and `clip_assert_classes`,
fixture and markers.

Loaded in every pytest run of anyone who installs clip-lint, so it imports torch (through
runtime_check.mode) only for a test that asks for checking. A checked test runs setup, call
and teardown inside `assert_mode`; violations deferred on CUDA are read at the end of the call,
so they fail the test that caused them, with the checker's and torch's frames hidden.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from .errors import UnnormalizedFeaturesError

_MODE_KEY = pytest.StashKey[Any]()
_ALWAYS_KEY = pytest.StashKey[bool]()
_CLASS_LINES_KEY = pytest.StashKey[list]()
_CLASSES_KEY = pytest.StashKey[Any]()  # the classes named in the ini, once imported, or the error
_MODALITIES = ("image", "text")
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
    parser.addini("clip_assert_classes", type="linelist", default=[],
                  help="project CLIP classes to check besides those found by structure, one per line: "
                       "`package.module:Class [method=image|text ...]`; `-package.module:Class` never checks one")


@dataclass(frozen=True)
class ClassLine:
    """One line of the `clip_assert_classes` ini key."""

    spec: str
    encoders: dict
    excluded: bool

    @classmethod
    def parse(cls, line: str) -> "ClassLine":
        words = line.split()
        spec, excluded = words[0].removeprefix("-"), words[0].startswith("-")
        encoders = {}
        for word in words[1:]:
            method, equals, modality = word.partition("=")
            if not equals or not method.isidentifier() or modality not in _MODALITIES:
                raise ValueError(f"`{word}` is not `method=image` or `method=text`")
            encoders[method] = modality
        if not spec or spec.startswith((":", ".")) or spec.endswith((":", ".")) or "." not in spec.replace(":", "."):
            raise ValueError(f"`{spec}` is not `package.module:Class`")
        if excluded and encoders:
            raise ValueError("an excluded class takes no methods")
        return cls(spec, encoders, excluded)

    def apply(self) -> type:
        from .sites import exclude_model_class, import_class, register_model_class

        target = import_class(self.spec)
        if self.excluded:
            return exclude_model_class(target)
        return register_model_class(target, self.encoders or None)


def _class_lines(config: pytest.Config) -> list[ClassLine]:
    lines = []
    for line in config.getini("clip_assert_classes"):
        try:
            lines.append(ClassLine.parse(line))
        except ValueError as error:
            raise pytest.UsageError(f"invalid `clip_assert_classes` line {line!r}: {error}") from None
    return lines


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
    config.stash[_CLASS_LINES_KEY] = _class_lines(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Forget the ini's classes: another session in this process (pytester) has its own ini."""
    classes = config.stash.get(_CLASSES_KEY, None)
    if isinstance(classes, list):
        from .sites import forget_model_class

        for cls in classes:
            forget_model_class(cls)


def _use_ini_classes(config: pytest.Config) -> None:
    """Register the ini's classes before the first checked test; a line that fails fails every one."""
    classes = config.stash.get(_CLASSES_KEY, None)
    if classes is None:
        try:
            classes = [line.apply() for line in config.stash.get(_CLASS_LINES_KEY, [])]
        except Exception as error:  # noqa: BLE001 - reported on each checked test, with the line
            classes = f"clip_assert_classes: {type(error).__name__}: {error}"
        config.stash[_CLASSES_KEY] = classes
    if isinstance(classes, str):
        pytest.fail(classes, pytrace=False)


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
        _use_ini_classes(item.config)
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
