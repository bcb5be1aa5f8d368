"""Project-defined CLIP classes under assert_mode and `pytest --clip-assert`.

A vendored copy of OpenAI's or open_clip's model is found by its structure, with no configuration;
classes with other method names are named in the ini (`clip_assert_classes`) or registered.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F

import runtime_check
import vendored_clip
from runtime_models import images, tokens
from runtime_check.tracking import provenance_of
from test_runtime_pytest_plugin import HERE, _plugin_args

pytest_plugins = ["pytester"]

VENDORED_SUITE = textwrap.dedent(
    """
    import torch
    import torch.nn.functional as F
    from runtime_models import images, tokens
    import vendored_clip

    MODEL = vendored_clip.build()
    ENCODERS = {"image": MODEL.encode_image, "text": MODEL.encode_text}  # a registry made at import

    def test_raw_encoders():
        with torch.no_grad():
            MODEL.encode_image(images()) @ MODEL.encode_text(tokens()).T

    def test_raw_from_the_import_time_registry():
        with torch.no_grad():
            ENCODERS["image"](images()) @ ENCODERS["text"](tokens()).T

    def test_raw_from_a_one_modality_forward():
        fork = vendored_clip.build(vendored_clip.RawOneModalityFork)
        with torch.no_grad():
            fork(images(), None) @ fork(None, tokens()).T

    def test_unit_from_the_import_time_registry():
        with torch.no_grad():
            F.normalize(ENCODERS["image"](images()), dim=-1) @ F.normalize(ENCODERS["text"](tokens()), dim=-1).T

    def test_unit_from_a_one_modality_forward():
        fork = vendored_clip.build(vendored_clip.UnitOneModalityFork)
        with torch.no_grad():
            fork(images(), None) @ fork(None, tokens()).T

    def test_the_models_own_forward():
        with torch.no_grad():
            logits, _ = MODEL(images(), tokens())
        assert logits.shape == (2, 3)
    """
)


@pytest.fixture
def vendored_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(HERE)  # runtime_models.py and vendored_clip.py
    pytester.makepyfile(test_vendored=VENDORED_SUITE)
    return pytester


def test_clip_assert_checks_a_vendored_copy_with_no_configuration(vendored_suite: pytest.Pytester) -> None:
    result = vendored_suite.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(failed=3, passed=3)
    for name in ("test_raw_encoders", "test_raw_from_the_import_time_registry",
                 "test_raw_from_a_one_modality_forward"):
        result.stdout.fnmatch_lines([f"FAILED*{name}*"])


def test_without_the_flag_the_vendored_suite_passes(vendored_suite: pytest.Pytester) -> None:
    vendored_suite.runpytest(*_plugin_args()).assert_outcomes(passed=6)


DUAL_ENCODER = textwrap.dedent(
    """
    import torch
    import vendored_clip

    class DualEncoder(torch.nn.Module):
        '''A project CLIP whose encoders and towers have names of its own.'''

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.image_tower = vendored_clip.PatchTower()
            self.word_bag = torch.nn.EmbeddingBag(vendored_clip.VOCAB, vendored_clip.EMBED_DIM)

        def embed_pixels(self, pixels):
            return self.image_tower(pixels)

        def embed_words(self, ids):
            return self.word_bag(ids)

    class Captioner(vendored_clip.VendoredCLIP):
        '''Looks like a CLIP model, but compares its outputs otherwise on purpose.'''
    """
)

DUAL_SUITE = textwrap.dedent(
    """
    import torch
    import vendored_clip
    from dual import Captioner, DualEncoder
    from runtime_models import images, tokens

    def test_raw_from_own_names():
        model = DualEncoder().eval()
        with torch.no_grad():
            model.embed_pixels(images()) @ model.embed_words(tokens()).T

    def test_excluded_class_is_not_checked():
        model = vendored_clip.build(Captioner)
        with torch.no_grad():
            model.encode_image(images()) @ model.encode_text(tokens()).T
    """
)


@pytest.fixture
def dual_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(HERE)
    pytester.syspathinsert(pytester.path)
    pytester.makepyfile(dual=DUAL_ENCODER, test_dual=DUAL_SUITE)
    return pytester


def test_ini_names_classes_to_check_and_classes_to_leave_alone(dual_suite: pytest.Pytester) -> None:
    dual_suite.makeini(
        "[pytest]\nclip_assert_classes =\n    dual:DualEncoder embed_pixels=image embed_words=text\n    -dual.Captioner\n")
    result = dual_suite.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*features from DualEncoder.embed_pixels() called at*"])


def test_without_the_ini_a_look_alike_class_is_checked_by_structure(dual_suite: pytest.Pytester) -> None:
    result = dual_suite.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(failed=1, passed=1)  # the Captioner is caught; names of its own are not known
    result.stdout.fnmatch_lines(["FAILED*test_excluded_class_is_not_checked*"])


@pytest.mark.parametrize("line, reason", [
    ("DualEncoder", "is not `package.module:Class`"),
    ("dual:DualEncoder embed_pixels", "is not `method=image`"),
    ("dual:DualEncoder embed_pixels=audio", "is not `method=image`"),
    ("-dual:Captioner encode_image=image", "an excluded class takes no methods"),
])
def test_invalid_ini_line_is_one_usage_error(dual_suite: pytest.Pytester, line: str, reason: str) -> None:
    dual_suite.makeini(f"[pytest]\nclip_assert_classes =\n    {line}\n")
    result = dual_suite.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid `clip_assert_classes` line" in result.stderr.str() and reason in result.stderr.str()


def test_ini_class_that_cannot_be_imported_fails_each_checked_test(dual_suite: pytest.Pytester) -> None:
    dual_suite.makeini("[pytest]\nclip_assert_classes =\n    dual:NoSuchClass\n")
    result = dual_suite.runpytest(*_plugin_args(), "--clip-assert")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*clip_assert_classes: AttributeError:*NoSuchClass*"])
    dual_suite.runpytest(*_plugin_args()).assert_outcomes(passed=2)  # nothing checked, nothing imported


# ---------------------------------------------------------------- the Python API


class Embedder(torch.nn.Module):
    """A project CLIP with its own method names: found neither by family nor by structure."""

    def __init__(self) -> None:
        super().__init__()
        self.clip = vendored_clip.build()

    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.clip.visual(pixels)

    def embed_words(self, ids: torch.Tensor) -> torch.Tensor:
        return vendored_clip.VendoredCLIP.encode_text(self.clip, ids)


@pytest.fixture
def registered_embedder():
    runtime_check.register_model_class(Embedder, encoders={"embed_pixels": "image", "embed_words": "text"})
    yield Embedder().eval()
    runtime_check.forget_model_class(Embedder)


def test_registered_class_is_checked_under_assert_mode_and_guard(registered_embedder) -> None:
    for checked in (runtime_check.assert_mode(), _guarded(registered_embedder)):
        with checked, torch.no_grad():
            image, text = registered_embedder.embed_pixels(images()), registered_embedder.embed_words(tokens())
            assert provenance_of(image).encoder == "Embedder.embed_pixels"
            with pytest.raises(runtime_check.UnnormalizedFeaturesError):
                image @ text.T  # noqa: CLN001 (deliberate)
            F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T


def _guarded(model):
    class Guarded:
        def __enter__(self):
            runtime_check.guard(model)

        def __exit__(self, *exc):
            runtime_check.unguard(model)

    return Guarded()


def test_register_model_class_rejects_what_it_cannot_check() -> None:
    with pytest.raises(TypeError, match="nn.Module subclass"):
        runtime_check.register_model_class(object)
    with pytest.raises(ValueError, match="has no method embed_audio"):
        runtime_check.register_model_class(Embedder, encoders={"embed_audio": "image"})
    with pytest.raises(ValueError, match="no CLIP encoder method"):
        runtime_check.register_model_class(Embedder)


class LookAlike(vendored_clip.VendoredCLIP):
    """Has encode_image and encode_text, so assert_mode takes it for a CLIP model by its structure."""


def test_structure_finds_a_project_class_and_exclusion_leaves_it_alone() -> None:
    model = vendored_clip.build(LookAlike)
    with runtime_check.assert_mode(), torch.no_grad():
        assert provenance_of(model.encode_image(images())) is not None
    runtime_check.exclude_model_class(vendored_clip.VendoredCLIP)
    try:
        with runtime_check.assert_mode(), torch.no_grad():
            assert provenance_of(model.encode_image(images())) is None
            assert provenance_of(model.visual(images())) is None
    finally:
        runtime_check.forget_model_class(vendored_clip.VendoredCLIP)
    with runtime_check.assert_mode(), torch.no_grad():  # and guard() of it still works
        runtime_check.guard(model)
        assert provenance_of(model.encode_image(images())) is not None
        runtime_check.unguard(model)


def test_guard_finds_a_vendored_model_inside_a_wrapper() -> None:
    class Retrieval(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = vendored_clip.build()
            self.head = torch.nn.Linear(vendored_clip.EMBED_DIM, 2)

    pipeline = runtime_check.guard(Retrieval())
    assert type(pipeline) is Retrieval  # the wrapper itself has no encoder
    with torch.no_grad():
        image = pipeline.backbone.visual(images())
        pipeline.head(image)  # a linear head on raw features: not a similarity
        with pytest.raises(runtime_check.UnnormalizedFeaturesError, match="VendoredCLIP.visual"):
            image @ image.T  # noqa: CLN001 (deliberate)
    runtime_check.unguard(pipeline)
    assert type(pipeline.backbone) is vendored_clip.VendoredCLIP
