"""Norm and normalize calls with every mix of positional and keyword arguments (issue 8).

The analysis reads each argument where the call passes it, so a correct spelling is never
reported and a wrong one always is; the fix edits the argument that is there, and the fixed
code runs on small torch and numpy tensors and gives unit rows. The parameter orders below
are the libraries' own, written out here so that a wrong row in ``facts`` fails a test.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint import facts
from clip_lint.frontends.runner import CHECK, FIX, Settings, check_bytes

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

BATCH, DIM, CLASSES = 3, 5, 4


@dataclass(frozen=True)
class Family:
    """One way to spell a norm (the value to divide by) or a normalization."""

    template: str  # ``{args}`` is the argument list; a method's receiver is in the template
    parameters: Tuple[str, ...]  # positional order, after a function's input
    keyword_only: Tuple[str, ...] = ()
    input_name: Optional[str] = None  # a function's input parameter; None for a method
    input_expression: str = "a"
    library: str = "torch"
    divides: bool = True  # ``a / <norm>``; else the call returns the normalized value


FAMILIES: Dict[str, Family] = {
    "Tensor.norm": Family("a.norm({args})", ("p", "dim", "keepdim")),
    "torch.norm": Family("torch.norm({args})", ("p", "dim", "keepdim"), input_name="input"),
    "torch.linalg.norm": Family("torch.linalg.norm({args})", ("ord", "dim", "keepdim"), input_name="input"),
    "torch.linalg.vector_norm": Family("torch.linalg.vector_norm({args})", ("ord", "dim", "keepdim"), input_name="x"),
    "numpy.linalg.norm": Family(
        "np.linalg.norm({args})", ("ord", "axis", "keepdims"), input_name="x", library="numpy"
    ),
    "F.normalize": Family("F.normalize({args})", ("p", "dim"), input_name="input", divides=False),
    "Tensor.sum of squares": Family("a.pow(2).sum({args}).sqrt()", ("dim", "keepdim")),
    "torch.sum of squares": Family(
        "torch.sqrt(torch.sum({args}))", ("dim", "keepdim"), input_name="input", input_expression="a ** 2"
    ),
    "ndarray.sum of squares": Family(
        "np.sqrt((a ** 2).sum({args}))", ("axis", "dtype", "out"), keyword_only=("keepdims",), library="numpy"
    ),
    "numpy.sum of squares": Family(
        "np.sqrt(np.sum({args}))",
        ("axis", "dtype", "out", "keepdims"),
        input_name="a",
        input_expression="a ** 2",
        library="numpy",
    ),
}

#: The values a test passes for each parameter: the order, the axis, keepdim, and fillers.
VALUES: Dict[str, Tuple[str, ...]] = {
    "p": ("2", "2.0"),
    "ord": ("2",),
    "dim": ("-1", "1", "0", "None"),
    "axis": ("-1", "1", "0", "None"),
    "keepdim": ("True", "False"),
    "keepdims": ("True", "False"),
    "dtype": ("None",),
    "out": ("None",),
}


@dataclass(frozen=True)
class Spelling:
    family: str
    positional: Tuple[Tuple[str, str], ...]  # (parameter, value), in order
    keywords: Tuple[Tuple[str, str], ...]  # (parameter, value), in the order written
    input_by_keyword: bool

    def call(self) -> str:
        family = FAMILIES[self.family]
        args: List[str] = []
        if family.input_name is not None and not self.input_by_keyword:
            args.append(family.input_expression)
        args += [value for _, value in self.positional]
        args += [f"{name}={value}" for name, value in self.keywords]
        if family.input_name is not None and self.input_by_keyword:
            args.append(f"{family.input_name}={family.input_expression}")
        return family.template.format(args=", ".join(args))


@st.composite
def spellings(draw: Callable[..., Any]) -> Spelling:
    name = draw(st.sampled_from(sorted(FAMILIES)))
    family = FAMILIES[name]
    input_by_keyword = family.input_name is not None and draw(st.booleans())
    given_values = {}
    for parameter in family.parameters + family.keyword_only:
        if draw(st.booleans()):
            given_values[parameter] = draw(st.sampled_from(VALUES[parameter]))
    # Positional arguments are a prefix of the parameters; a skipped one in it gets a value.
    positional_count = 0 if input_by_keyword else draw(st.integers(0, len(family.parameters)))
    positional = tuple(
        (parameter, given_values.pop(parameter, VALUES[parameter][0]))
        for parameter in family.parameters[:positional_count]
    )
    keywords = tuple(draw(st.permutations(sorted(given_values.items()))))
    return Spelling(name, positional, keywords, input_by_keyword)


def program(spelling: Spelling) -> str:
    family = FAMILIES[spelling.family]
    to_library = ".numpy()" if family.library == "numpy" else ""
    normalized = f"a / {spelling.call()}" if family.divides else spelling.call()
    return "\n".join(
        [
            "import numpy as np",
            "import torch",
            "import torch.nn.functional as F",
            "",
            "",
            "def run(model, x, t):",
            f"    a = model.encode_image(x){to_library}",
            f"    a = {normalized}",
            "    scores = a @ t",
            "    return a",
            "",
        ]
    )


class RawEncoder:
    def encode_image(self, images: Any) -> Any:
        generator = torch.Generator().manual_seed(0)
        return torch.randn(images.shape[0], DIM, generator=generator) * 3.0 + 0.5


def normalized_rows(source: str, library: str) -> Any:
    """Run the program's ``run``; the rows it normalized, as a float64 numpy array."""
    namespace: Dict[str, Any] = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    classes = torch.randn(DIM, CLASSES)
    rows = namespace["run"](RawEncoder(), torch.zeros(BATCH, 1), classes.numpy() if library == "numpy" else classes)
    return np.asarray(rows, dtype=np.float64)


def is_unit_rows(source: str, library: str) -> bool:
    try:
        rows = normalized_rows(source, library)
    except (RuntimeError, ValueError, TypeError):
        return False
    return rows.shape == (BATCH, DIM) and bool(np.allclose(np.linalg.norm(rows, axis=-1), 1.0, atol=1e-5))


def codes(source: str) -> List[str]:
    result = check_bytes("generated.py", source.encode(), Settings(mode=CHECK))
    return [finding.code for finding in result.findings]


def fixed(source: str) -> str:
    result = check_bytes("generated.py", source.encode(), Settings(mode=FIX))
    return source if result.output is None else result.output


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spellings())
def test_every_argument_mix_is_read_right_and_fixed_to_unit_rows(spelling: Spelling) -> None:
    source = program(spelling)
    library = FAMILIES[spelling.family].library
    correct = is_unit_rows(source, library)
    found = codes(source)
    # reported exactly when the original code does not give unit rows
    assert (found == []) == correct, (source, found)
    after = fixed(source)
    if correct:
        assert after == source
        return
    compile(after, "<fixed>", "exec")
    assert is_unit_rows(after, library), after
    assert codes(after) == [], after
    assert fixed(after) == after


# --- the facts tables agree with the libraries -----------------------------------------------


def real_parameters(function: Callable[..., Any], name: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(positional parameters, keyword-only ones) of a library function or method."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return documented_parameters(function, name)
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in signature.parameters.values()):
        return documented_parameters(function, name)  # numpy's methods hide keepdims in **kwargs
    positional = tuple(
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD) and name != "self"
    )
    keyword_only = tuple(
        name for name, parameter in signature.parameters.items() if parameter.kind is parameter.KEYWORD_ONLY
    )
    return positional, keyword_only


def documented_parameters(function: Callable[..., Any], name: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """The widest overload in a builtin's docstring, such as ``sum(input, dim, keepdim=False, *, dtype=None)``."""
    pattern = rf"^\s*(?:.. function:: )?(?:[\w.]+\.)?{name}\((.*)\)"
    overloads = re.findall(pattern, function.__doc__ or "", re.MULTILINE)
    assert overloads, function
    widest = max(overloads, key=lambda text: text.count(","))
    before_star, _, after_star = widest.partition("*")
    return parameter_names(before_star), parameter_names(after_star)


def parameter_names(text: str) -> Tuple[str, ...]:
    names = (part.split("=")[0].strip() for part in text.split(","))
    return tuple(name for name in names if name and name != "/")


def resolve(qualified: str) -> Callable[..., Any]:
    module_name, _, attribute = qualified.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def facts_signatures() -> Dict[str, Tuple[Callable[..., Any], Any]]:
    """The real callable and the facts signature of every row the test environment can import."""
    rows: Dict[str, Tuple[Callable[..., Any], Any]] = {
        "Tensor.norm": (torch.Tensor.norm, facts.NORM_METHOD_SIGNATURE),
        "Tensor.sum": (torch.Tensor.sum, facts.SUM_METHOD_SIGNATURES["torch"]),
        "ndarray.sum": (np.ndarray.sum, facts.SUM_METHOD_SIGNATURES["numpy"]),
    }
    tables = {**facts.NORM_FUNCTIONS, **facts.SUM_FUNCTION_SIGNATURES, **facts.NORMALIZE_FUNCTIONS}
    for name, signature in tables.items():
        if not name.startswith("sklearn."):  # not installed here; its row follows sklearn's docs
            rows[name] = (resolve(name), signature)
    return rows


SIGNATURES = facts_signatures()


@pytest.mark.parametrize("label", sorted(SIGNATURES))
def test_facts_signatures_match_the_libraries(label: str) -> None:
    function, signature = SIGNATURES[label]
    positional, keyword_only = real_parameters(function, label.rsplit(".", 1)[-1])
    assert positional[: len(signature.parameters)] == signature.parameters, label
    for name in (signature.axis, signature.keepdim):
        if name and name not in signature.parameters:
            assert name in keyword_only, (label, name)
    assert signature.axis in positional + keyword_only, label
