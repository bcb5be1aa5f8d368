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
class ModelFamily:
    """A model family: the classes to instrument, their encoders, and their own internal scopes."""

    name: str
    module: str
    classes: tuple[str, ...]
    encoders: tuple[EncoderSite, ...]
    # Methods of the model that run its own normalization and similarity: nothing inside is checked.
    internal_scopes: tuple[str, ...] = ("forward",)


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

MODEL_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        "open_clip",
        "open_clip.model",
        ("CLIP", "CustomTextCLIP"),
        _OPEN_CLIP_ENCODERS,
        ("forward", "get_logits", "forward_intermediates"),
    ),
    ModelFamily(
        "open_clip CoCa",
        "open_clip.coca_model",
        ("CoCa",),
        _OPEN_CLIP_ENCODERS,  # CoCa's encode_* default to normalize=True; read from the signature
        ("forward", "generate", "forward_intermediates"),
    ),
    ModelFamily(
        "OpenAI CLIP",
        "clip.model",
        ("CLIP",),
        (EncoderSite("encode_image", "image"), EncoderSite("encode_text", "text")),
    ),
    ModelFamily(
        "HF CLIP",
        "transformers.models.clip.modeling_clip",
        ("CLIPModel",),
        _HF_FEATURE_ENCODERS,
    ),
    ModelFamily(
        "HF SigLIP",
        "transformers.models.siglip.modeling_siglip",
        ("SiglipModel",),
        _HF_FEATURE_ENCODERS,
    ),
    ModelFamily(
        "HF CLIP vision tower with projection",
        "transformers.models.clip.modeling_clip",
        ("CLIPVisionModelWithProjection",),
        (EncoderSite("forward", "image", output_field="image_embeds", tuple_index=0),),
        internal_scopes=(),
    ),
    ModelFamily(
        "HF CLIP text tower with projection",
        "transformers.models.clip.modeling_clip",
        ("CLIPTextModelWithProjection",),
        (EncoderSite("forward", "text", output_field="text_embeds", tuple_index=0),),
        internal_scopes=(),
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


@dataclass(frozen=True)
class Contraction:
    """Which dims of each operand a similarity op sums away (negative indices).

    `right_if_vector` is used when the right operand is 1-D (`a @ v`).
    A `None` dims entry means the op needs its arguments to find them (einsum, tensordot).
    """

    left: tuple[int, ...] | None
    right: tuple[int, ...] | None
    right_if_vector: tuple[int, ...] = (-1,)


_MATMUL = Contraction(left=(-1,), right=(-2,))
_LAST = Contraction(left=(-1,), right=(-1,))

# torch names (function or Tensor method) of ops that compare two feature tensors.
SIMILARITY_OPS: dict[str, Contraction] = {
    "matmul": _MATMUL,
    "__matmul__": _MATMUL,
    "mm": _MATMUL,
    "bmm": _MATMUL,
    "dot": _LAST,
    "vdot": _LAST,
    "inner": _LAST,
    "linear": _LAST,  # F.linear(input, weight): a similarity only when the weight is features
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
        "cat", "concat", "concatenate", "stack", "roll", "flip",
    }
)
# Carrying ops after which a recognized unit axis is still known (others fall back to numerics).
AXIS_KEEPING_OPS: frozenset[str] = frozenset(
    {
        "float", "half", "bfloat16", "double", "to", "type", "type_as", "cuda", "cpu",
        "clone", "detach", "contiguous", "requires_grad_", "pin_memory", "neg", "__neg__",
        "chunk", "split", "unbind", "roll", "flip",
    }
)
JOIN_OPS: frozenset[str] = frozenset({"cat", "concat", "concatenate", "stack"})
TRANSPOSE_OPS: frozenset[str] = frozenset({"T", "mT", "t", "transpose", "swapaxes"})

# Multiplication or division: by a scalar it is a scale, by a tensor a (re)normalization attempt.
SCALING_OPS: dict[str, str] = {
    "mul": "*", "multiply": "*", "__mul__": "*", "__rmul__": "*", "mul_": "*", "__imul__": "*",
    "div": "/", "divide": "/", "true_divide": "/", "__truediv__": "/", "div_": "/",
    "__itruediv__": "/", "true_divide_": "/",
}
IN_PLACE_OPS: frozenset[str] = frozenset({"mul_", "__imul__", "div_", "__itruediv__", "true_divide_"})

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
}
DEFAULT_TOLERANCE = 3e-2  # any other floating dtype (fp8 and friends)

# Path fragments of frames that are not the user's code, for "where did this happen".
LIBRARY_PATH_FRAGMENTS: tuple[str, ...] = (
    "/torch/", "/runtime_check/", "/open_clip/", "/clip/model.py", "/clip/clip.py",
    "/transformers/", "/_pytest/", "/pluggy/", "/contextlib.py", "/functools.py",
)

FIX_HINT = (
    "normalize along the feature dim before comparing: "
    "`x = x / x.norm(dim=-1, keepdim=True)` or `F.normalize(x, dim=-1)`"
    " (open_clip: `encode_image(..., normalize=True)`)"
)
