"""Slicing before the parse never changes a finding: a hypothesis property over generated
programs, as written and as a formatter may lay them out (operators first, line breaks
anywhere inside brackets)."""

from __future__ import annotations

import io
import random
import re
import tokenize
from typing import List

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.checking import analyze_source

HELPERS = ["h0", "h1", "h2", "h3", "h4"]
FUNCTION_TEMPLATES = [
    "def {name}(model, x):\n    return model.encode_image(x)",
    "def {name}(model, x):\n    f = model.encode_text(x)\n    return f / f.norm(dim=-1, keepdim=True)",
    "def {name}(model, x):\n    return {g}(model, x)",
    "def {name}(a, b):\n    return a @ b.T",
    "def {name}(a, b):\n    return logit_scale.exp() * a @ b.t()",
    "def {name}(a, b):\n    return torch.matmul(a, b.T)",
    "def {name}(a, b):\n    return (a * b).sum(dim=-1)",
    "def {name}(a, b):\n    return torch.einsum('bd,nd->bn', a, b)",
    "def {name}(a, b):\n    index = faiss.IndexFlatIP(512)\n    index.add(b)\n    return index.search(a, 5)",
    "def {name}(a, b):\n    return {g}(a, b)",
    "def {name}(a, b):\n    a = {g}(a)\n    return {h}(a, b)",
    "def {name}(v):\n    return v / v.norm(dim=-1, keepdim=True)",
    "def {name}(v):\n    return F.normalize(v, dim=-1)",
    "def {name}(v):\n    return v.mean(dim=0)",
    "def {name}(v):\n    v = v / v.norm(dim=0, keepdim=True)\n    return v",
    "def {name}(x):\n    return x + 1",
]
DECORATORS = [
    "@torch.no_grad()",
    "@functools.lru_cache(maxsize=None)",
    "@register(lambda m: m @ m)",
    "@{g}",
]
CLASS_METHODS = [
    "    def __init__(self, model):\n        self.model = model",
    "    def build(self, x):\n        self.{attr} = self.model.encode_image(x)",
    "    def build_typed(self, x):\n        self.{attr}: torch.Tensor = self.model.encode_text(x)",
    "    def build_pair(self, x):\n        self.{attr}, self.count = self.model.encode_image(x), 0",
    "    def prepare(self):\n        self.{attr} = F.normalize(self.{attr}, dim=-1)",
    "    def prepare_helper(self):\n        self.{attr} = {g}(self.{attr})",
    "    def query(self, q):\n        return q @ self.{attr}.T",
    "    def pooled(self):\n        return self.{attr}.mean(dim=0)",
    "    def size(self):\n        return self.count + 1",
    "    def run(self, x, q):\n        self.build(x)\n        return self.query(q)",
]
MAIN_LINES = [
    "a = model.encode_image(images)",
    "a = {g}(model, images)",
    "b = model.encode_text(tokens)",
    "b = {g}(model, tokens)",
    "a = {g}(a)",
    "b /= b.norm(dim=-1, keepdim=True)",
    "s = {g}(a, b)",
    "s = a @ b.T",
    "s = 100.0 * a @ {g}(b).T",
    "bank = Bank(model)",
    "bank.build(images)",
    "r = bank.query(b)",
]

names = st.sampled_from(HELPERS)


@st.composite
def programs(draw: st.DrawFn) -> str:
    blocks = ["import functools", "import faiss", "import torch", "import torch.nn.functional as F"]
    for name in draw(st.lists(names, min_size=1, max_size=4, unique=True)):
        template = draw(st.sampled_from(FUNCTION_TEMPLATES))
        decorators = draw(st.lists(st.sampled_from(DECORATORS), max_size=2))
        text = "\n".join(decorators + [template])
        blocks.append(text.format(name=name, g=draw(names), h=draw(names)))
    if draw(st.booleans()):
        methods = draw(st.lists(st.sampled_from(CLASS_METHODS), min_size=1, max_size=5, unique=True))
        attr = draw(st.sampled_from(["store", "bank"]))
        body = "\n\n".join(m.format(attr=attr, g=draw(names)) for m in methods)
        decorator = draw(st.sampled_from(["", "@dataclass\n"]))
        blocks.append(f"{decorator}class Bank:\n{body}")
    sources = [draw(st.sampled_from(MAIN_LINES[0:2])), draw(st.sampled_from(MAIN_LINES[2:4]))]
    middle = draw(st.lists(st.sampled_from(MAIN_LINES), max_size=4))
    sink = draw(st.sampled_from(MAIN_LINES[6:9] + MAIN_LINES[11:]))
    main = [line.format(g=draw(names)) for line in sources + middle + [sink]]
    layout = draw(st.sampled_from(["module", "function", "main guard", "nested"]))
    if layout == "function":
        blocks.append("def main(model, images, tokens):\n" + "\n".join("    " + line for line in main))
    elif layout == "main guard":
        blocks.append('if __name__ == "__main__":\n' + "\n".join("    " + line for line in main))
    elif layout == "nested":
        inner = "\n".join("        " + line for line in main)
        blocks.append(f"def outer(model, images, tokens):\n    def inner():\n{inner}\n    return inner()")
    else:
        blocks.append("\n".join(main))
    return "\n\n\n".join(blocks) + "\n"


STATEMENT_HEAD = re.compile(r"^(?:return |[\w.]+(?:: [\w.]+)? *(?:[-+*/@]?=) )")
OPENING, CLOSING = "([{", ")]}"


def reflow(source: str, seed: int) -> str:
    """The same program laid out as a formatter might: each assigned or returned expression
    in parentheses, and line breaks (sometimes after a comment) before tokens inside brackets,
    operators included."""
    chooser = random.Random(seed)
    lines: List[str] = []
    for line in source.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        body = line.strip()
        head_match = STATEMENT_HEAD.match(body)
        head = head_match.group(0) if head_match else ""
        expression = body[len(head):]
        if head and expression:
            expression = f"({expression})"
        out = [indent + head]
        depth = 0
        for token in _tokens(expression):
            if depth > 0 and chooser.random() < 0.4:
                comment = "  # note" if chooser.random() < 0.2 else ""
                out.append(comment + "\n" + indent + " " * chooser.randint(0, 12))
            elif len(out) > 1:
                out.append(" ")
            out.append(token)
            depth += (token in OPENING) - (token in CLOSING)
        lines.append("".join(out))
    return "\n".join(lines) + "\n"


def _tokens(expression: str) -> List[str]:
    skipped = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
    return [t.string for t in tokenize.generate_tokens(io.StringIO(expression).readline) if t.type not in skipped]


def findings(source: str, use_slicing: bool) -> list:
    return [
        (f.code, f.line, f.col, f.message, f.fix)
        for f in analyze_source(source, use_slicing=use_slicing)
    ]


# Derandomized: the same 600 programs on every run, so the suite stays deterministic.
PROPERTY = settings(
    max_examples=600, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(programs(), st.integers(min_value=0, max_value=2**32))
def test_slicing_never_changes_a_finding(program: str, seed: int) -> None:
    assert findings(program, True) == findings(program, False), program
    reflowed = reflow(program, seed)
    compile(reflowed, "<reflowed>", "exec")
    assert findings(reflowed, True) == findings(reflowed, False), reflowed


def test_reflow_puts_operators_first_inside_parentheses() -> None:
    layouts = [reflow("logits = scale * a @ b.T\n", seed) for seed in range(20)]
    assert all(layout.startswith("logits = (") for layout in layouts)
    assert any(line.lstrip().startswith("@") for layout in layouts for line in layout.splitlines())


# Each of these was dropped by the slicing before: the finding must survive it.
DROPPED_BEFORE = {
    "a Black-style '@' first on its line": (
        "def zero_shot(model, images, tokens):\n"
        "    image_features = model.encode_image(images)\n"
        "    text_features = model.encode_text(tokens)\n"
        "    return (\n"
        "        100.0 * image_features\n"
        "        @ text_features.T\n"
        "    )\n"
    ),
    "a callee two calls deep": (
        "def compare(a, b):\n    return a @ b.T\n\n\n"
        "def score(a, b):\n    return compare(a, b)\n\n\n"
        "def main(model, i, t):\n"
        "    return score(model.encode_image(i), model.encode_text(t))\n"
    ),
    "a method that compares what another method stored": (
        "class Index:\n"
        "    def build(self, model, x):\n        self.emb = model.encode_image(x)\n\n"
        "    def query(self, q):\n        return q @ self.emb.T\n"
    ),
    "a method that stores what a module helper encodes": (
        "def embed(model, x):\n    return model.encode_image(x)\n\n\n"
        "class Bank:\n"
        "    def fill(self, model, x):\n        self.store = embed(model, x)\n\n"
        "    def query(self, q):\n        return q @ self.store.T\n"
    ),
    "an index's range_search": (
        "feats = model.encode_image(images)\nindex = faiss.IndexFlatIP(512)\nindex.range_search(feats, 0.5)\n"
    ),
    "numpy's vdot": "a = model.encode_image(x).numpy()\nb = model.encode_text(t).numpy()\ns = np.vdot(a[0], b[0])\n",
}


def test_findings_that_slicing_used_to_drop() -> None:
    for case, source in DROPPED_BEFORE.items():
        assert [f.code for f in analyze_source(source)] == ["CLN001"], case
