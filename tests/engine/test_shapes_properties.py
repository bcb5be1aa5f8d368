"""Properties of the shapes real CLIP code keeps models and callables in (issue "Real CLIP code's shapes").

A model, an object of the project's own class or a callable that gives features is the same thing
wherever the code keeps it and however it wraps it: the findings of a program never change when the
value passes through behaviour-keeping wrappers, or is kept in an attribute, a global, a dict, a
list or a tuple, or handed through a function, and read back.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.checking import analyze_source

PROGRAM = '''import torch
import torch.nn.functional as F
from functools import partial
from accelerate import Accelerator
from torch import nn
from transformers import CLIPVisionModelWithProjection

CKPT = "openai/clip-vit-base-patch32"
BACKBONE = load_backbone()
accelerator = Accelerator()


class Tower(nn.Module):
    def forward(self, images):
        return BACKBONE.encode_image(images)


def handed_through(value):
    return value


GLOBAL = {global_slot}


class Runner:
    def __init__(self):
        self.slot = {attribute_slot}

    def run(self, pixels, other):
        stored = {local_slot}
        model = {read}
        feats = {use}
        {normalize}
        return feats @ other.T
'''
SINK_LINE = PROGRAM.splitlines().index("        return feats @ other.T") + 1

#: What gives features, and how the code uses it once read back.
KINDS = {
    "projection tower": ("CLIPVisionModelWithProjection.from_pretrained(CKPT)", "model(pixel_values=pixels).image_embeds"),
    "own module": ("Tower()", "model(pixels)"),
    "bound method": ("BACKBONE.encode_image", "model(pixels)"),
    "lambda": ("lambda batch: BACKBONE.encode_image(batch)", "model(pixels)"),
    "partial": ("partial(BACKBONE.encode_image)", "model(pixels)"),
}
MODULES = ("projection tower", "own module")

#: Wrappers that keep a module's behaviour, and those that also keep a function's.
MODULE_WRAPPERS = [
    "{}.eval()", "{}.train(False)", "{}.to('cuda')", "{}.cuda()", "{}.cpu()", "{}.half()", "{}.float()",
    "{}.bfloat16()", "{}.requires_grad_(False)", "nn.DataParallel({}).module", "nn.DataParallel({})",
    "nn.parallel.DistributedDataParallel({})", "accelerator.prepare({})",
]
ANY_WRAPPERS = ["torch.compile({})", "torch.jit.script({})"]

#: Where the value is kept: (global slot, attribute slot, local slot, how it is read back).
STORAGES = {
    "local": ("None", "None", "{}", "stored"),
    "attribute": ("None", "{}", "None", "self.slot"),
    "global": ("{}", "None", "None", "GLOBAL"),
    "dict": ("None", "None", '{{"model": {}, "other": None}}', 'stored["model"]'),
    "dict in an attribute": ("None", '{{"model": {}}}', "None", 'self.slot["model"]'),
    "list": ("None", "None", "[{}]", "stored[0]"),
    "tuple": ("None", "None", "({}, None)", "stored[0]"),
    "global list": ("[{}]", "None", "None", "GLOBAL[-1]"),
    "argument": ("None", "None", "{}", "handed_through(stored)"),
}
NORMALIZE = "feats = F.normalize(feats, dim=-1)"
KEEP = "feats = feats.float()"


def program(kind: str, wrappers: list, storage: str, normalized: bool) -> str:
    made, use = KINDS[kind]
    for wrapper in wrappers:
        made = wrapper.format(made)
    global_slot, attribute_slot, local_slot, read = (part.format(made) for part in STORAGES[storage])
    return PROGRAM.format(
        global_slot=global_slot, attribute_slot=attribute_slot, local_slot=local_slot, read=read, use=use,
        normalize=NORMALIZE if normalized else KEEP,
    )


def findings(source: str) -> list:
    return [(finding.line, finding.code) for finding in analyze_source(source)]


@st.composite
def wrapped_values(draw: st.DrawFn) -> tuple:
    kind = draw(st.sampled_from(sorted(KINDS)))
    pool = MODULE_WRAPPERS + ANY_WRAPPERS if kind in MODULES else ANY_WRAPPERS
    wrappers = draw(st.lists(st.sampled_from(pool), max_size=4))
    return kind, wrappers


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_plain_programs_are_a_bug_and_its_correct_twin() -> None:
    for kind in KINDS:
        assert findings(program(kind, [], "local", normalized=False)) == [(SINK_LINE, "CLN001")], kind
        assert findings(program(kind, [], "local", normalized=True)) == [], kind


@SETTINGS
@given(wrapped_values(), st.booleans())
def test_a_behaviour_keeping_wrapper_never_changes_a_finding(value: tuple, normalized: bool) -> None:
    kind, wrappers = value
    plain = findings(program(kind, [], "local", normalized))
    wrapped = program(kind, wrappers, "local", normalized)
    assert findings(wrapped) == plain, wrapped


@SETTINGS
@given(wrapped_values(), st.sampled_from(sorted(STORAGES)), st.booleans())
def test_keeping_a_value_anywhere_and_reading_it_back_never_changes_a_finding(
    value: tuple, storage: str, normalized: bool
) -> None:
    kind, wrappers = value
    plain = findings(program(kind, wrappers, "local", normalized))
    kept = program(kind, wrappers, storage, normalized)
    assert findings(kept) == plain, kept
