"""Property test of ``--fix`` (issue 4): generated programs with a missing normalization are
clean after ``clip-lint --fix``, and running the fixed program on random torch tensors gives
unit-norm operands at every similarity op, which equal the original operands normalized:
the fix adds the normalization and changes nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import run_cli

torch = pytest.importorskip("torch")
from torch.overrides import TorchFunctionMode  # noqa: E402

BATCH, CLASSES, DIM = 4, 3, 16
PASS_THROUGH = (".float()", ".detach()", ".clone()", ".contiguous()", ".cpu()")
NORMALIZERS = {
    "divide": "{x} = {x} / {x}.norm(dim=-1, keepdim=True)",
    "in_place": "{x} /= {x}.norm(dim=-1, keepdim=True)",
    "functional": "{x} = F.normalize({x}, dim=-1)",
    "vector_norm": "{x} = {x} / torch.linalg.vector_norm({x}, dim=-1, keepdim=True)",
}
# each sink with the dims it contracts: (left operand, right operand)
SINKS = {
    "{a} @ {b}.T": (-1, -2),
    "{a} @ {b}.t()": (-1, -2),
    "torch.matmul({a}, {b}.T)": (-1, -2),
    "{a}.mm({b}.t())": (-1, -2),
    "torch.einsum('bd,cd->bc', {a}, {b})": (-1, -1),
}
MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.Tensor.mm}


@dataclass(frozen=True)
class Operand:
    encoder: str  # encode_image or encode_text
    chain: Tuple[str, ...]
    normalizer: str  # a NORMALIZERS key, or "" for the missing normalization
    inline: bool  # used directly in the sink, without a variable


@dataclass(frozen=True)
class Comparison:
    image: Operand
    text: Operand
    sink: str
    scaled: bool


def operands(encoder: str) -> st.SearchStrategy[Operand]:
    return st.builds(
        Operand,
        encoder=st.just(encoder),
        chain=st.lists(st.sampled_from(PASS_THROUGH), max_size=2).map(tuple),
        normalizer=st.sampled_from(["", *NORMALIZERS]),
        inline=st.booleans(),
    )


comparisons = st.builds(
    Comparison,
    image=operands("encode_image"),
    text=operands("encode_text"),
    sink=st.sampled_from(sorted(SINKS)),
    scaled=st.booleans(),
)


def needs_fix(operand: Operand) -> bool:
    return operand.inline or not operand.normalizer


programs = st.tuples(st.lists(comparisons, min_size=1, max_size=3), st.booleans()).filter(
    lambda program: any(needs_fix(c.image) or needs_fix(c.text) for c in program[0])
)


def operand_code(operand: Operand, name: str, lines: List[str], indent: str) -> str:
    """Write the statements that produce ``operand``; return how the sink refers to it."""
    inputs = "images" if operand.encoder == "encode_image" else "texts"
    call = f"model.{operand.encoder}({inputs}){''.join(operand.chain)}"
    if operand.inline:
        return call
    lines.append(f"{indent}{name} = {call}")
    if operand.normalizer:
        lines.append(indent + NORMALIZERS[operand.normalizer].format(x=name))
    return name


def render(program: Tuple[List[Comparison], bool]) -> str:
    """The program's source: module-level code, or the same inside a function."""
    comparisons_, in_function = program
    indent = "    " if in_function else ""
    lines = ["import torch", "import torch.nn.functional as F", ""]
    if in_function:
        lines.append("def compare(model, images, texts):")
    results = []
    for number, comparison in enumerate(comparisons_):
        a = operand_code(comparison.image, f"image_features_{number}", lines, indent)
        b = operand_code(comparison.text, f"text_features_{number}", lines, indent)
        similarity = comparison.sink.format(a=a, b=b)
        lines.append(f"{indent}similarity_{number} = {similarity}")
        if comparison.scaled:
            lines.append(f"{indent}logits_{number} = 100.0 * similarity_{number}")
        results.append(f"similarity_{number}")
    if in_function:
        lines.append(f"{indent}return [{', '.join(results)}]")
        lines += ["", "", "outputs = compare(model, images, texts)"]
    return "\n".join(lines) + "\n"


class RawEncoders:
    """Encoders returning fixed random raw features (norms far from 1), the same on every run."""

    def __init__(self) -> None:
        self.calls = 0

    def _features(self, rows: int) -> Any:
        self.calls += 1
        generator = torch.Generator().manual_seed(self.calls)
        return torch.randn(rows, DIM, generator=generator) * 3.0 + 0.5

    def encode_image(self, images: Any) -> Any:
        return self._features(images.shape[0])

    def encode_text(self, texts: Any) -> Any:
        return self._features(texts.shape[0])


class SimilarityRecorder(TorchFunctionMode):
    """Records the operands of every similarity op, with the dim each one contracts."""

    def __init__(self) -> None:
        super().__init__()
        self.operands: List[Tuple[Any, int]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func in MATMULS:
            self.operands += [(args[0].detach().clone(), -1), (args[1].detach().clone(), -2)]
        elif func is torch.einsum:
            self.operands += [(operand.detach().clone(), -1) for operand in args[1:]]
        return func(*args, **kwargs)


def execute(source: str) -> List[Tuple[Any, int]]:
    recorder = SimilarityRecorder()
    namespace = {"model": RawEncoders(), "images": torch.zeros(BATCH, 3), "texts": torch.zeros(CLASSES, 5)}
    with recorder:
        exec(compile(source, "<generated>", "exec"), namespace)
    return recorder.operands


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs)
def test_fix_normalizes_every_similarity_operand_and_nothing_else(tmp_path: Path, program) -> None:
    source = render(program)
    path = tmp_path / "generated.py"
    path.write_text(source, encoding="utf-8")

    result = run_cli("--fix", "--format", "json", "generated.py", cwd=tmp_path)
    report = json.loads(result.stdout)
    fixed = path.read_text(encoding="utf-8")
    assert result.returncode == 0 and report["findings"] == [], (source, fixed, report)
    assert report["summary"]["fixed"] >= 1 and fixed != source

    before, after = execute(source), execute(fixed)
    assert len(before) == len(after) == 2 * len(program[0])
    for (raw, dim), (operand, fixed_dim) in zip(before, after):
        assert dim == fixed_dim
        norms = torch.linalg.vector_norm(operand, dim=dim, dtype=torch.float32)
        assert bool(((norms - 1).abs() <= 1e-4).all()), (fixed, norms)
        expected = torch.nn.functional.normalize(raw, dim=dim)
        assert torch.allclose(operand, expected, atol=1e-5), fixed
