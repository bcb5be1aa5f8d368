"""Domain knowledge about CLIP code, as plain data the engine reads.

To support a new encoder, normalizer spelling or similarity op, add a row here (and a
fixture under ``fixtures/``). The engine (``clip_lint/engine/``) holds no names of its own.

Function names are fully qualified after import aliases are resolved (``F.normalize``
becomes ``torch.nn.functional.normalize``); method names are bare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Tuple, Union

# --- Sources: calls and fields that produce CLIP features -----------------------------

#: Methods (on any receiver) that return raw, unnormalized ``[B, D]`` features.
ENCODER_METHODS: FrozenSet[str] = frozenset(
    {"encode_image", "encode_text", "get_image_features", "get_text_features"}
)

#: Encoder methods whose result may be a transformers 5.x output object rather than a
#: tensor: ``.pooler_output`` or ``[0]`` of it holds the raw features.
OUTPUT_OBJECT_ENCODERS: FrozenSet[str] = frozenset({"get_image_features", "get_text_features"})

#: Field of a transformers 5.x features output that holds the raw features.
FEATURES_OUTPUT_FIELDS: FrozenSet[str] = frozenset({"pooler_output"})

#: A keyword argument that, set to True, makes an encoder return unit features (open_clip).
NORMALIZE_KEYWORD = "normalize"


@dataclass(frozen=True)
class ModelOutputs:
    """The fields of what a model class's forward returns (``m(...)``, ``m.forward(...)``),
    by what they hold: raw features, or features it normalized itself."""

    raw: FrozenSet[str] = frozenset()
    unit: FrozenSet[str] = frozenset()


_IMAGE_AND_TEXT = frozenset({"image_embeds", "text_embeds"})

#: Model classes (by class name) whose forward output carries embeddings, and their state.
MODEL_OUTPUTS: Dict[str, ModelOutputs] = {
    # transformers: the *WithProjection towers project and stop there
    "CLIPVisionModelWithProjection": ModelOutputs(raw=frozenset({"image_embeds"})),
    "CLIPTextModelWithProjection": ModelOutputs(raw=frozenset({"text_embeds"})),
    "MetaClip2VisionModelWithProjection": ModelOutputs(raw=frozenset({"image_embeds"})),
    "MetaClip2TextModelWithProjection": ModelOutputs(raw=frozenset({"text_embeds"})),
    # BLIP-2's towers normalize after the projection
    "Blip2VisionModelWithProjection": ModelOutputs(unit=frozenset({"image_embeds"})),
    "Blip2TextModelWithProjection": ModelOutputs(unit=frozenset({"text_embeds"})),
    # the two-tower models normalize both in forward
    "CLIPModel": ModelOutputs(unit=_IMAGE_AND_TEXT),
    "SiglipModel": ModelOutputs(unit=_IMAGE_AND_TEXT),
    "Siglip2Model": ModelOutputs(unit=_IMAGE_AND_TEXT),
    "AltCLIPModel": ModelOutputs(unit=_IMAGE_AND_TEXT),
    "ChineseCLIPModel": ModelOutputs(unit=_IMAGE_AND_TEXT),
    "MetaClip2Model": ModelOutputs(unit=_IMAGE_AND_TEXT),
}

#: Model classes whose forward output carries raw embeddings, and those that normalize them.
PROJECTION_MODEL_CLASSES: FrozenSet[str] = frozenset(name for name, out in MODEL_OUTPUTS.items() if out.raw)
NORMALIZING_MODEL_CLASSES: FrozenSet[str] = frozenset(name for name, out in MODEL_OUTPUTS.items() if not out.raw)

#: Class methods that build a model of the class they are called on.
MODEL_FACTORY_METHODS: FrozenSet[str] = frozenset({"from_pretrained", "_from_config", "from_config"})

#: Output fields that hold embeddings (raw or unit, by the model class above).
EMBEDDING_FIELDS: FrozenSet[str] = frozenset({"image_embeds", "text_embeds"})

#: Words whose presence lets a file through the cheap gate before any parse.
GATE_WORDS: Tuple[str, ...] = tuple(sorted(ENCODER_METHODS | EMBEDDING_FIELDS))

# --- Pass-through: operations that keep what a value is ------------------------------

#: Methods that change dtype, device or layout but keep the rank.
PASSTHROUGH_METHODS: FrozenSet[str] = frozenset(
    {
        "float", "half", "double", "bfloat16", "to", "cpu", "cuda", "detach", "clone",
        "contiguous", "numpy", "astype", "type", "type_as", "requires_grad_", "detach_", "copy",
    }
)

#: Methods that keep the state and change the rank, by the change they make (the engine's
#: ``shapes`` implements each): "insert" adds a size-1 axis where its axis argument says,
#: "squeeze" drops size-1 axes, "expand" and "repeat" broadcast to sizes (literal sizes are
#: followed, so ``expand(B, -1)`` of a ``[1, D]`` row is a batch again), "atleast_2d" makes a
#: vector a row, and "unknown" loses the rank.
RANK_CHANGE_METHODS: Dict[str, str] = {
    "unsqueeze": "insert",
    "squeeze": "squeeze",
    "expand": "expand",
    "broadcast_to": "expand",
    "repeat": "repeat",
    "tile": "repeat",
    "view": "unknown",
    "reshape": "unknown",
    "flatten": "unknown",
    "ravel": "unknown",
    "unflatten": "unknown",
    "view_as": "unknown",
    "reshape_as": "unknown",
    "expand_as": "unknown",
}

#: The same as functions whose first argument is the input (then the axis or the sizes).
RANK_CHANGE_FUNCTIONS: Dict[str, str] = {
    "torch.unsqueeze": "insert",
    "numpy.expand_dims": "insert",
    "torch.squeeze": "squeeze",
    "numpy.squeeze": "squeeze",
    "torch.broadcast_to": "expand",
    "numpy.broadcast_to": "expand",
    "torch.tile": "repeat",
    "numpy.tile": "repeat",
    "torch.atleast_2d": "atleast_2d",
    "numpy.atleast_2d": "atleast_2d",
    "torch.reshape": "unknown",
    "numpy.reshape": "unknown",
    "torch.flatten": "unknown",
    "numpy.ravel": "unknown",
}

#: Spellings of a new axis in an index, besides ``None``: ``x[np.newaxis]``.
NEW_AXIS_NAMES: FrozenSet[str] = frozenset({"numpy.newaxis"})

#: Methods on a norm that make its rank unknown (a norm reshaped is trusted to broadcast).
RESHAPE_METHODS: FrozenSet[str] = frozenset({"squeeze", "view", "reshape", "flatten", "ravel"})

#: Attributes that keep the state (transposes, the underlying data).
PASSTHROUGH_ATTRIBUTES: FrozenSet[str] = frozenset({"T", "mT", "H", "mH", "data"})

#: Transposes: attributes and methods that reverse every axis, or swap the last two, or
#: swap two given ones. They keep the state and move the feature axis.
REVERSING_TRANSPOSES: FrozenSet[str] = frozenset({"T", "H", "t"})
LAST_TWO_TRANSPOSES: FrozenSet[str] = frozenset({"mT", "mH"})
SWAPPING_TRANSPOSES: FrozenSet[str] = frozenset({"transpose", "swapaxes", "swapdims"})

#: Methods whose result is a numpy array.
TO_NUMPY_METHODS: FrozenSet[str] = frozenset({"numpy", "astype"})

#: Functions that convert without changing values, with the library of the result.
CONVERTER_FUNCTIONS: Dict[str, str] = {
    "torch.from_numpy": "torch",
    "torch.as_tensor": "torch",
    "torch.tensor": "torch",
    "numpy.asarray": "numpy",
    "numpy.ascontiguousarray": "numpy",
    "numpy.float32": "numpy",
}

#: Functions that join a container of features: the rank change they make (1: a new axis,
#: at ``dim``/``axis``, default 0). ``None`` means "rank of the elements, at least 2" (vstack).
COMBINER_FUNCTIONS: Dict[str, Optional[int]] = {
    "torch.cat": 0,
    "torch.concat": 0,
    "torch.concatenate": 0,
    "torch.vstack": None,
    "torch.stack": 1,
    "numpy.concatenate": 0,
    "numpy.vstack": None,
    "numpy.stack": 1,
    "numpy.array": 1,
}

#: Library (torch or numpy) that a combiner returns.
COMBINER_LIBRARY: Dict[str, str] = {name: name.split(".")[0] for name in COMBINER_FUNCTIONS}

#: Reductions: a mean or sum over the batch axis pools features (CLN004 for unit ones).
REDUCTION_METHODS: FrozenSet[str] = frozenset({"mean", "sum", "nanmean"})
REDUCTION_FUNCTIONS: FrozenSet[str] = frozenset(
    {"torch.mean", "torch.sum", "numpy.mean", "numpy.sum", "numpy.average"}
)

#: Ops where multiplying or dividing by a non-feature operand keeps the state (scaling).
SCALING_METHODS: FrozenSet[str] = frozenset({"mul", "mul_", "multiply"})
SCALING_FUNCTIONS: FrozenSet[str] = frozenset({"torch.mul", "torch.multiply", "numpy.multiply"})

# --- Normalizers ---------------------------------------------------------------------


@dataclass(frozen=True)
class NormSignature:
    """A norm call's parameters in positional order, as the call spells them.

    A function lists its input first; a method's receiver is its input and is not listed.
    A name missing from ``parameters`` is keyword-only.
    """

    parameters: Tuple[str, ...]
    axis: str = "dim"
    keepdim: str = "keepdim"
    library: str = "torch"


#: ``x.norm(p, dim, keepdim)``: the receiver is the input.
NORM_METHOD = "norm"
NORM_METHOD_SIGNATURE = NormSignature(("p", "dim", "keepdim", "dtype"))

#: Functions that compute a norm (the value to divide by).
NORM_FUNCTIONS: Dict[str, NormSignature] = {
    "torch.norm": NormSignature(("input", "p", "dim", "keepdim", "out", "dtype")),
    "torch.linalg.norm": NormSignature(("input", "ord", "dim", "keepdim")),
    "torch.linalg.vector_norm": NormSignature(("x", "ord", "dim", "keepdim")),
    "numpy.linalg.norm": NormSignature(
        ("x", "ord", "axis", "keepdims"), axis="axis", keepdim="keepdims", library="numpy"
    ),
}

#: The sum in a spelled-out norm (``x.pow(2).sum(-1).sqrt()``): the method by the library
#: of the summed value, and the functions.
SUM_METHOD_SIGNATURES: Dict[str, NormSignature] = {
    "torch": NormSignature(("dim", "keepdim")),
    "numpy": NormSignature(("axis", "dtype", "out"), axis="axis", keepdim="keepdims", library="numpy"),
}
SUM_FUNCTION_SIGNATURES: Dict[str, NormSignature] = {
    "torch.sum": NormSignature(("input", "dim", "keepdim")),
    "numpy.sum": NormSignature(
        ("a", "axis", "dtype", "out", "keepdims"), axis="axis", keepdim="keepdims", library="numpy"
    ),
}

#: Methods on a norm that keep it a norm of the same axis (guards against zero norms).
NORM_PASSTHROUGH_METHODS: FrozenSet[str] = frozenset(
    {"clamp", "clamp_min", "clip", "add", "float", "to", "detach", "type_as", "expand_as", "maximum", "fmax"}
)

#: Functions of a norm and a floor that keep it a norm of the same axis:
#: ``torch.clamp(n, min=eps)``, ``torch.clamp_min(n, eps)``, ``torch.max(n, torch.tensor(eps))``.
#: The norm is the first argument, and there is a second one (``torch.max(n)`` alone reduces).
NORM_GUARD_FUNCTIONS: FrozenSet[str] = frozenset(
    {
        "torch.clamp", "torch.clamp_min", "torch.clip", "torch.max", "torch.maximum", "torch.fmax",
        "numpy.clip", "numpy.maximum", "numpy.fmax",
    }
)

#: The reciprocal of a norm: multiplying by it normalizes (``x * (1.0 / n)``, ``x * n.reciprocal()``).
RECIPROCAL_FUNCTIONS: FrozenSet[str] = frozenset({"torch.reciprocal", "numpy.reciprocal"})
RECIPROCAL_METHODS: FrozenSet[str] = frozenset({"reciprocal"})

#: Inverse square roots: of a sum of squares, the reciprocal of a norm (``x * torch.rsqrt(s)``).
RSQRT_FUNCTIONS: FrozenSet[str] = frozenset({"torch.rsqrt"})
RSQRT_METHODS: FrozenSet[str] = frozenset({"rsqrt"})

#: Methods on a norm that restore the reduced axis, as ``keepdim=True`` would.
NORM_KEEPDIM_METHODS: FrozenSet[str] = frozenset({"unsqueeze"})


@dataclass(frozen=True)
class NormalizeSignature:
    """A function that returns its input L2-normalized along an axis.

    ``parameters`` in positional order, the input first; a name missing from it is
    keyword-only.
    """

    parameters: Tuple[str, ...]
    axis: str
    default_axis: int
    keepdim: str = ""  # none: the result has its input's shape


#: Functions that return a normalized copy.
NORMALIZE_FUNCTIONS: Dict[str, NormalizeSignature] = {
    "torch.nn.functional.normalize": NormalizeSignature(("input", "p", "dim", "eps", "out"), "dim", 1),
    "sklearn.preprocessing.normalize": NormalizeSignature(("X", "norm"), "axis", 1),
}

#: Either kind: what the fixer reads to edit a norm or normalize call's arguments.
Signature = Union[NormSignature, NormalizeSignature]

#: Functions that normalize their argument in place, by position of that argument.
INPLACE_NORMALIZE_FUNCTIONS: Dict[str, int] = {"faiss.normalize_L2": 0}

#: Methods and functions that divide: ``x.div(n)``, ``torch.div(x, n)``. In-place ones
#: update the receiver.
DIVISION_METHODS: FrozenSet[str] = frozenset({"div", "divide", "true_divide"})
INPLACE_DIVISION_METHODS: FrozenSet[str] = frozenset({"div_", "divide_", "true_divide_"})
DIVISION_FUNCTIONS: FrozenSet[str] = frozenset(
    {"torch.div", "torch.divide", "torch.true_divide", "numpy.divide", "numpy.true_divide"}
)

#: An unknown call whose name contains this word counts as normalizing its argument.
NORMALIZING_NAME_FRAGMENT = "norm"

# --- Similarity ops (sinks) -----------------------------------------------------------

#: Functions that compare their first two arguments along the feature dim.
SIMILARITY_FUNCTIONS: FrozenSet[str] = frozenset(
    {
        "torch.matmul", "torch.mm", "torch.bmm", "torch.dot", "torch.inner",
        "torch.tensordot", "numpy.dot", "numpy.matmul", "numpy.inner", "numpy.tensordot",
        "numpy.vdot",
    }
)

#: The same, as methods of the left operand.
SIMILARITY_METHODS: FrozenSet[str] = frozenset({"matmul", "mm", "bmm", "dot", "inner"})

#: einsum: operands whose last label is summed away are compared.
EINSUM_FUNCTIONS: FrozenSet[str] = frozenset({"torch.einsum", "numpy.einsum"})

#: Reductions that turn an elementwise product of two feature tensors into a similarity.
PRODUCT_SUM_METHODS: FrozenSet[str] = frozenset({"sum"})
PRODUCT_SUM_FUNCTIONS: FrozenSet[str] = frozenset({"torch.sum", "numpy.sum"})

#: Inner-product vector indexes, and their methods that take vectors to compare.
INNER_PRODUCT_INDEXES: FrozenSet[str] = frozenset(
    {"faiss.IndexFlatIP", "faiss.IndexHNSWFlat_IP", "faiss.IndexIVFFlat_IP"}
)
INDEX_SINK_METHODS: FrozenSet[str] = frozenset({"add", "search", "add_with_ids", "range_search"})

#: Operands that make a product a linear head, not a similarity.
PARAMETER_CONSTRUCTORS: FrozenSet[str] = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
PARAMETER_ATTRIBUTES: FrozenSet[str] = frozenset({"weight"})

# --- Names ---------------------------------------------------------------------------

#: Aliases assumed when a snippet uses them without importing (README and notebook code).
DEFAULT_ALIASES: Dict[str, str] = {
    "torch": "torch",
    "F": "torch.nn.functional",
    "nn": "torch.nn",
    "np": "numpy",
    "numpy": "numpy",
    "faiss": "faiss",
}

#: The spelling the fixer writes after a binding, per library. ``{x}`` is the value's
#: name and ``{module}`` how the file refers to the library's module (``FIX_MODULES``).
NORMALIZE_SPELLING: Dict[str, str] = {
    "torch": "{x} / {x}.norm(dim={dim}, keepdim=True)",
    "numpy": "{x} / {module}.linalg.norm({x}, axis={dim}, keepdims=True)",
}

#: The spelling the fixer wraps around an expression where it is compared.
WRAP_SPELLING: Dict[str, str] = {
    "torch": "{module}.normalize({x}, dim={dim})",
    "numpy": "({x} / {module}.linalg.norm({x}, axis={dim}, keepdims=True))",
}

#: The module a spelling's ``{module}`` stands for, and the alias a fix imports it as
#: when the file uses that name for nothing else.
FIX_MODULES: Dict[str, Tuple[str, str]] = {"torch": ("torch.nn.functional", "F"), "numpy": ("numpy", "np")}

#: Keyword names of the axis and keepdim arguments (torch, numpy), and of pow's exponent.
AXIS_KEYWORDS: Tuple[str, ...] = ("dim", "axis")
KEEPDIM_KEYWORDS: Tuple[str, ...] = ("keepdim", "keepdims")
EXPONENT_KEYWORDS: Tuple[str, ...] = ("exponent",)

#: Methods that run a model's forward pass, and list methods that add elements.
MODEL_CALL_METHODS: FrozenSet[str] = frozenset({"forward", "__call__"})
CONTAINER_ADD_METHODS: FrozenSet[str] = frozenset({"append", "extend", "insert"})

#: Methods on a model that return the same model.
MODEL_PASSTHROUGH_METHODS: FrozenSet[str] = frozenset(
    {"eval", "train", "to", "cuda", "cpu", "half", "float", "double", "bfloat16", "requires_grad_"}
)

# --- Wrappers and callables: what keeps a model (or a function) what it is -----------

#: Functions that return their first argument wrapped, behaving as it does: a model, an object
#: or a function passed through one is the same thing (``torch.compile(model)``).
MODEL_WRAPPER_FUNCTIONS: FrozenSet[str] = frozenset(
    {
        "torch.jit.script", "torch.compile", "torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel", "torch.nn.DistributedDataParallel",
    }
)

#: Methods (of any receiver, as accelerate's ``Accelerator``) that return the models they are
#: given: one model as it is, several as a tuple in the same order.
MODEL_WRAPPER_METHODS: FrozenSet[str] = frozenset({"prepare", "prepare_model", "unwrap_model"})

#: Attributes of a wrapper that give back what it wraps (``DataParallel(m).module``).
WRAPPED_MODEL_ATTRIBUTES: FrozenSet[str] = frozenset({"module", "_orig_mod"})

#: Functions that make a callable from another one with some arguments fixed in advance.
PARTIAL_FUNCTIONS: FrozenSet[str] = frozenset({"functools.partial"})

#: Dict methods: a lookup by key, the values, the (key, value) pairs.
MAPPING_GET_METHODS: FrozenSet[str] = frozenset({"get"})
MAPPING_VALUES_METHODS: FrozenSet[str] = frozenset({"values"})
MAPPING_ITEMS_METHODS: FrozenSet[str] = frozenset({"items"})

#: A called class whose name contains this word, given keyword arguments, builds an output
#: record (transformers' ``BaseModelOutputWithPooling(pooler_output=...)``): its fields are
#: what the keywords gave.
OUTPUT_RECORD_NAME_FRAGMENT = "Output"

# --- Ranks: what a value's number of axes is, read from the code ----------------------
#
# These tables give ranks, never values: calls they name don't hand features on. They are
# grouped in one object each so that the pre-filter, which takes every plain table's names as
# calls that may pass features on, leaves them out.


@dataclass(frozen=True)
class ShapeGuards:
    """Code that tests a value's rank: ``x.dim()``, ``x.ndimension()``, ``x.ndim``, ``len(x.shape)``,
    ``len(x.size())``."""

    rank_methods: FrozenSet[str] = frozenset({"dim", "ndimension"})
    rank_attributes: FrozenSet[str] = frozenset({"ndim"})
    shape_attributes: FrozenSet[str] = frozenset({"shape"})
    shape_methods: FrozenSet[str] = frozenset({"size"})
    length_functions: FrozenSet[str] = frozenset({"len"})


SHAPE_GUARDS = ShapeGuards()


@dataclass(frozen=True)
class RankFacts:
    """What the layers, functions and methods a project's own encoder uses do to a tensor's rank."""

    #: Layers (by class name) whose output has the rank of their input.
    keeping_modules: FrozenSet[str] = frozenset(
        {
            "Linear", "LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d", "Dropout", "Identity",
            "GELU", "ReLU", "SiLU", "Tanh", "Sigmoid", "LeakyReLU", "Mish", "ELU", "Softmax", "Hardswish",
            "TransformerEncoder", "TransformerEncoderLayer", "TransformerDecoder", "TransformerDecoderLayer",
            "Conv1d", "Conv2d", "Conv3d",
        }
    )
    #: Layers whose output has one axis more than their input (token ids to vectors).
    adding_modules: FrozenSet[str] = frozenset({"Embedding"})
    #: Layers that return a tuple whose first item has the rank of their first input.
    tuple_keeping_modules: FrozenSet[str] = frozenset({"MultiheadAttention"})
    #: Containers that run their layers in order, and lists of layers run in a loop.
    sequential_modules: FrozenSet[str] = frozenset({"Sequential"})
    module_lists: FrozenSet[str] = frozenset({"ModuleList"})
    #: Functions whose result has the rank of their first argument (elementwise, normalizing, casting).
    keeping_functions: FrozenSet[str] = frozenset(
        {
            "torch.sigmoid", "torch.tanh", "torch.relu", "torch.exp", "torch.sqrt", "torch.softmax",
            "torch.nn.functional.gelu", "torch.nn.functional.relu", "torch.nn.functional.silu",
            "torch.nn.functional.dropout", "torch.nn.functional.layer_norm", "torch.nn.functional.linear",
            "torch.nn.functional.normalize", "torch.nn.functional.softmax", "torch.nn.Parameter",
            "torch.nn.parameter.Parameter",
        }
    )
    #: Methods whose result has the rank of their receiver, besides the pass-through ones
    #: (``permute`` gives one axis per argument).
    keeping_methods: FrozenSet[str] = frozenset(
        {"permute", "sigmoid", "relu", "softmax", "exp", "sqrt", "type", "masked_fill", "clamp", "abs"}
    )
    #: Methods that give one axis per size they are given.
    sized_methods: FrozenSet[str] = frozenset({"reshape", "view", "expand", "repeat"})
    #: Functions that make a new tensor of the sizes they are given (one per argument, or a tuple).
    tensor_factories: FrozenSet[str] = frozenset(
        {"torch.randn", "torch.rand", "torch.empty", "torch.zeros", "torch.ones", "torch.full"}
    )


RANKS = RankFacts()

# --- The spelled-out norm: sqrt of the sum of squares (transformers' own idiom) ------

SQUARE_METHODS: FrozenSet[str] = frozenset({"square"})
SQUARE_FUNCTIONS: FrozenSet[str] = frozenset({"torch.square", "numpy.square"})
POW_METHODS: FrozenSet[str] = frozenset({"pow"})
POW_FUNCTIONS: FrozenSet[str] = frozenset({"torch.pow", "numpy.power"})
SQRT_METHODS: FrozenSet[str] = frozenset({"sqrt"})
SQRT_FUNCTIONS: FrozenSet[str] = frozenset({"torch.sqrt", "numpy.sqrt"})
