"""Domain facts for the runtime checker, as plain data tables.

Which model classes produce CLIP features and where, which torch ops compare, carry,
scale, aggregate or normalize them, and how close to 1 a unit norm must be per dtype.
Adding a model family or an op means editing a table here; the mechanism reads them.
This module must not import torch (the pytest plugin imports the package without it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderSite:
    """One method that returns raw (unnormalized) features, and where in its result they are."""

    method: str
    modality: str
    output_field: str | None = None  # attribute of a ModelOutput; None: the return value itself
    tuple_index: int | None = None  # position of the features when the method returned a tuple
    normalize_arg: str | None = None  # keyword that makes the method normalize by itself


@dataclass(frozen=True)
class TowerSite:
    """A submodule of the model whose output is its final, raw features for one modality.

    With `projection`, the submodule's output is hidden states instead, which the model turns into
    features by a matmul with its parameter of that name, inline (OpenAI's and open_clip's
    `x @ self.text_projection`: no submodule makes the text features).
    """

    path: str  # dotted attribute path from the model: "visual", "vision_model.head"
    modality: str
    tuple_index: int | None = None  # position of the features when the submodule returns a tuple
    projection: str | None = None  # the model's parameter that projects these hidden states


@dataclass(frozen=True)
class ModelFamily:
    """A model family: the classes to instrument, their encoders, towers and own internal scopes."""

    name: str
    module: str
    classes: tuple[str, ...]
    encoders: tuple[EncoderSite, ...]
    # Methods of the model that run its own normalization and similarity: nothing inside is checked.
    internal_scopes: tuple[str, ...] = ("forward",)
    # Submodules that make the final features, whatever method (or captured method) calls them.
    towers: tuple[TowerSite, ...] = ()


_OPEN_CLIP_ENCODERS = (
    EncoderSite("encode_image", "image", normalize_arg="normalize"),
    EncoderSite("encode_text", "text", normalize_arg="normalize"),
)
_HF_FEATURE_ENCODERS = (
    # transformers 5.x: BaseModelOutputWithPooling.pooler_output (tuple position 1 with
    # return_dict=False); transformers 4.x: the tensor itself.
    EncoderSite("get_image_features", "image", output_field="pooler_output", tuple_index=1),
    EncoderSite("get_text_features", "text", output_field="pooler_output", tuple_index=1),
)

# The vision tower returns the features (a tuple `(pooled, tokens)` when it outputs tokens).
_VISUAL = TowerSite("visual", "image", tuple_index=0)
# Text: an nn.Linear projection where the config asks for one, else `ln_final`'s hidden states
# projected inline by the `text_projection` parameter. Only the one that fits the model applies.
_TEXT_LINEAR = TowerSite("text_projection", "text")
_TEXT_INLINE = TowerSite("ln_final", "text", projection="text_projection")
_HF_PROJECTIONS = (TowerSite("visual_projection", "image"), TowerSite("text_projection", "text"))

MODEL_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        "open_clip",
        "open_clip.model",
        ("CLIP",),
        _OPEN_CLIP_ENCODERS,
        ("forward", "get_logits", "forward_intermediates"),
        (_VISUAL, _TEXT_LINEAR, _TEXT_INLINE),
    ),
    ModelFamily(
        "open_clip custom text",
        "open_clip.model",
        ("CustomTextCLIP",),
        _OPEN_CLIP_ENCODERS,
        ("forward", "get_logits", "forward_intermediates"),
        (_VISUAL, TowerSite("text", "text", tuple_index=0)),
    ),
    ModelFamily(
        "open_clip CoCa",
        "open_clip.coca_model",
        ("CoCa",),
        _OPEN_CLIP_ENCODERS,  # CoCa's encode_* default to normalize=True; read from the signature
        ("forward", "generate", "forward_intermediates"),
        (_VISUAL, TowerSite("text", "text", tuple_index=0)),
    ),
    ModelFamily(
        "OpenAI CLIP",
        "clip.model",
        ("CLIP",),
        (EncoderSite("encode_image", "image"), EncoderSite("encode_text", "text")),
        towers=(_VISUAL, _TEXT_INLINE),
    ),
    ModelFamily(
        "HF CLIP",
        "transformers.models.clip.modeling_clip",
        ("CLIPModel",),
        _HF_FEATURE_ENCODERS,
        towers=_HF_PROJECTIONS,
    ),
    ModelFamily(
        "HF SigLIP",
        "transformers.models.siglip.modeling_siglip",
        ("SiglipModel",),
        _HF_FEATURE_ENCODERS,
        towers=(TowerSite("vision_model.head", "image"), TowerSite("text_model.head", "text")),
    ),
    ModelFamily(
        "HF CLIP vision tower with projection",
        "transformers.models.clip.modeling_clip",
        ("CLIPVisionModelWithProjection",),
        (EncoderSite("forward", "image", output_field="image_embeds", tuple_index=0),),
        internal_scopes=(),
        towers=(TowerSite("visual_projection", "image"),),
    ),
    ModelFamily(
        "HF CLIP text tower with projection",
        "transformers.models.clip.modeling_clip",
        ("CLIPTextModelWithProjection",),
        (EncoderSite("forward", "text", output_field="text_embeds", tuple_index=0),),
        internal_scopes=(),
        towers=(TowerSite("text_projection", "text"),),
    ),
)

# guard() on a class that no family lists: wrap whichever of these methods it has.
GENERIC_ENCODERS: tuple[EncoderSite, ...] = (
    EncoderSite("encode_image", "image", output_field="image_embeds", normalize_arg="normalize"),
    EncoderSite("encode_text", "text", output_field="text_embeds", normalize_arg="normalize"),
    EncoderSite("get_image_features", "image", output_field="pooler_output", tuple_index=1),
    EncoderSite("get_text_features", "text", output_field="pooler_output", tuple_index=1),
)
GENERIC_INTERNAL_SCOPES: tuple[str, ...] = ("forward", "get_logits")
# ... and whichever of these towers it has (the names OpenAI's, open_clip's and HF's code use,
# which vendored copies keep).
GENERIC_TOWERS: tuple[TowerSite, ...] = (
    _VISUAL, TowerSite("text", "text", tuple_index=0), *_HF_PROJECTIONS, _TEXT_INLINE,
)
# assert_mode also checks project classes found by structure: an nn.Module subclass that has both
# methods of one of these pairs is a CLIP model, and gets the generic encoders, scopes and towers.
STRUCTURAL_ENCODER_PAIRS: tuple[tuple[str, str], ...] = (
    ("encode_image", "encode_text"),
    ("get_image_features", "get_text_features"),
)
# Classes defined in these packages are never taken for project CLIP classes.
NOT_PROJECT_PACKAGES: tuple[str, ...] = ("torch", "runtime_check")


@dataclass(frozen=True)
class Contraction:
    """Which dims of each operand a similarity op sums away (negative indices), and where they are.

    `right_if_vector` is used when the right operand is 1-D (`a @ v`). `operands` gives the
    position and keyword name of the left and right operand. A `None` dims entry means the op
    needs its arguments to find them (einsum, tensordot).
    """

    left: tuple[int, ...] | None
    right: tuple[int, ...] | None
    right_if_vector: tuple[int, ...] = (-1,)
    operands: tuple[tuple[int, str], tuple[int, str]] = ((0, "input"), (1, "other"))


_MATMUL = Contraction(left=(-1,), right=(-2,))
_MM = Contraction(left=(-1,), right=(-2,), operands=((0, "input"), (1, "mat2")))
_LAST = Contraction(left=(-1,), right=(-1,))
_ADDMM = Contraction(left=(-1,), right=(-2,), operands=((1, "mat1"), (2, "mat2")))
_BADDBMM = Contraction(left=(-1,), right=(-2,), operands=((1, "batch1"), (2, "batch2")))
_ADDMV = Contraction(left=(-1,), right=(-1,), operands=((1, "mat"), (2, "vec")))

# torch names (function or Tensor method) of ops that compare two feature tensors.
SIMILARITY_OPS: dict[str, Contraction] = {
    "matmul": _MATMUL,
    "__matmul__": _MATMUL,
    "__rmatmul__": _MATMUL,
    "mm": _MM,
    "bmm": _MM,
    "dot": Contraction(left=(-1,), right=(-1,), operands=((0, "input"), (1, "tensor"))),
    "vdot": _LAST,
    "inner": _LAST,
    "linear": Contraction(left=(-1,), right=(-1,), operands=((0, "input"), (1, "weight"))),
    "addmm": _ADDMM, "addmm_": _ADDMM,
    "baddbmm": _BADDBMM, "baddbmm_": _BADDBMM, "addbmm": _BADDBMM, "addbmm_": _BADDBMM,
    "addmv": _ADDMV, "addmv_": _ADDMV,
    "einsum": Contraction(left=None, right=None),
    "tensordot": Contraction(left=None, right=None),
}

# Ops that carry features unchanged in norm: dtype, device, copies, views, indexing, joins.
CARRYING_OPS: frozenset[str] = frozenset(
    {
        "float", "half", "bfloat16", "double", "to", "type", "type_as", "cuda", "cpu",
        "clone", "detach", "contiguous", "requires_grad_", "pin_memory", "neg", "__neg__",
        "__getitem__", "T", "mT", "t", "transpose", "swapaxes", "permute", "view", "reshape",
        "view_as", "reshape_as", "squeeze", "unsqueeze", "flatten", "narrow", "select",
        "index_select", "expand", "expand_as", "chunk", "split", "unbind", "tensor_split",
        "cat", "concat", "concatenate", "stack", "roll", "flip", "unflatten", "repeat",
        "long", "int", "short", "cfloat", "cdouble",
    }
)
# Carrying ops after which a recognized unit axis is still known (others fall back to numerics).
AXIS_KEEPING_OPS: frozenset[str] = frozenset(
    {
        "float", "half", "bfloat16", "double", "to", "type", "type_as", "cuda", "cpu",
        "clone", "detach", "contiguous", "requires_grad_", "pin_memory", "neg", "__neg__",
        "roll", "flip",
    }
)
# Reshapes: a unit last axis is kept when the last dim keeps its size (each row stays one row).
RESHAPING_OPS: frozenset[str] = frozenset(
    {"view", "reshape", "view_as", "reshape_as", "flatten", "unflatten", "squeeze", "expand", "expand_as",
     "repeat"}
)
# Ops along one dim: name -> (position, keyword, default, whether the dim disappears).
# Along the unit axis they cut rows apart; along another they keep it (shifted if a dim goes).
DIM_OPS: dict[str, tuple[int, str, int | None, bool]] = {
    "select": (1, "dim", None, True),
    "unbind": (1, "dim", 0, True),
    "narrow": (1, "dim", None, False),
    "index_select": (1, "dim", None, False),
    "chunk": (2, "dim", 0, False),
    "split": (2, "dim", 0, False),
    "tensor_split": (2, "dim", 0, False),
}
JOIN_OPS: frozenset[str] = frozenset({"cat", "concat", "concatenate", "stack"})
TRANSPOSE_OPS: frozenset[str] = frozenset({"T", "mT", "t", "transpose", "swapaxes"})

# Multiplication or division: by a scalar it is a scale, by a tensor a (re)normalization attempt.
SCALING_OPS: dict[str, str] = {
    "mul": "*", "multiply": "*", "__mul__": "*", "__rmul__": "*", "mul_": "*", "__imul__": "*",
    "div": "/", "divide": "/", "true_divide": "/", "__truediv__": "/", "div_": "/",
    "__itruediv__": "/", "true_divide_": "/",
}
IN_PLACE_OPS: frozenset[str] = frozenset({"mul_", "__imul__", "div_", "__itruediv__", "true_divide_"})
# Writes into a tensor in place (besides scaling): after one, a unit mark is stale and numerics decide.
# Any other Tensor method whose name ends in `_` counts as one too, unless listed as not a write.
IN_PLACE_WRITES: frozenset[str] = frozenset(
    {"__setitem__", "__iadd__", "__isub__", "__ipow__", "__iand__", "__ior__", "__ixor__",
     "__ilshift__", "__irshift__", "__ifloordiv__", "__imod__"}
)
NOT_WRITES: frozenset[str] = frozenset({"requires_grad_", "share_memory_", "detach_", "retain_grad_"})

# Reductions over the batch: the mean of unit vectors is not a unit vector.
AGGREGATE_OPS: frozenset[str] = frozenset({"mean", "sum", "nanmean"})
# Reductions that complete a `(a * b).sum(-1)` similarity.
PRODUCT_REDUCTIONS: frozenset[str] = frozenset({"sum"})

# Ops that compute a norm; dividing features by that norm is a normalization.
NORM_OPS: frozenset[str] = frozenset({"norm", "vector_norm", "linalg_vector_norm", "linalg_norm"})
# Ops that keep a norm a norm (an epsilon guard, a broadcast, a cast).
NORM_CARRYING_OPS: frozenset[str] = frozenset(
    {"clamp", "clamp_min", "clip", "clamp_", "clamp_min_", "add", "__add__", "__radd__",
     "expand_as", "expand", "detach", "float", "to", "half", "bfloat16", "maximum"}
)
# Ops that return unit vectors by themselves, with the name of their dim argument and default.
NORMALIZING_OPS: dict[str, tuple[str, int]] = {"normalize": ("dim", 1)}
# Similarities that normalize by themselves: nothing to check.
SELF_NORMALIZING_OPS: frozenset[str] = frozenset({"cosine_similarity"})

# Max allowed |norm - 1|, by dtype name. A freshly normalized vector is within about one unit of
# roundoff of 1 (fp32 2.4e-7, fp16 4.9e-4, bf16 4.0e-3); fp32/fp64 allow for features normalized
# in fp16 and cast up. Raw CLIP features have norms of 5 and more.
TOLERANCES: dict[str, float] = {
    "float64": 1e-3,
    "float32": 1e-3,
    "float16": 5e-3,
    "bfloat16": 3e-2,
    "complex128": 1e-3,
    "complex64": 1e-3,
}
DEFAULT_TOLERANCE = 3e-2  # any other floating dtype (fp8 and friends)

# Packages whose frames are not the user's code, for "where did this happen". A frame belongs to
# one when its module (`__name__`) is in the package and its file lies in that package's installed
# folder: a user's own folder that happens to be called `open_clip` or `torch` is not a library.
LIBRARY_PACKAGES: tuple[str, ...] = (
    "torch", "runtime_check", "open_clip", "clip", "transformers", "_pytest", "pytest", "pluggy",
    "contextlib", "functools", "typing",
)

# Why an operand is not unit, by what the checker saw; the static rule with the same meaning is named.
CAUSES: dict[str, str] = {
    "nan": "a row has a NaN or Inf norm (a zero row divided by its norm gives NaN; F.normalize keeps it at zero)",
    "zero": "a row is all zeros (norm 0): an empty feature can't be compared by cosine",
    "mean": "CLN004: it is the mean of unit vectors, which is not a unit vector: renormalize after .mean()",
    "no_axis": ("CLN002: it was divided by a norm taken over all elements (no dim): "
                "each row must be normalized on its own"),
    "no_keepdim": ("CLN003: it was divided by a norm taken without keepdim=True: "
                   "the norms broadcast along the wrong dim"),
    "wrong_axis": "CLN002: it was normalized along dim {axis}, but the similarity contracts dim {contracted}",
    "changed": "it was normalized, then changed by a later op (see the ops since)",
    "never": "CLN001: it was never L2-normalized",
}

FIX_HINT = (
    "normalize along the feature dim before comparing: "
    "`x = x / x.norm(dim=-1, keepdim=True)` or `F.normalize(x, dim=-1)`"
    " (open_clip: `encode_image(..., normalize=True)`)"
)
