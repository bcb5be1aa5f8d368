"""Hypothesis property of the project layer: moving a helper into another module and
importing it never changes what is found."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Project
from clip_lint.options import AnalysisOptions

HELPER_BODIES = [
    "    return x\n",
    "    return x / x.norm(dim=-1, keepdim=True)\n",
    "    return x / x.norm(dim=0, keepdim=True)\n",
    "    return F.normalize(x, dim=-1).mean(dim=0, keepdim=True)\n",
    "    x /= x.norm(dim=-1, keepdim=True)\n    return x\n",
    "    return x @ y.T\n",
    "    return torch.matmul(y, x.T)\n",
    "    unit = x / x.norm(dim=-1, keepdim=True)\n    return unit @ y.T\n",
]
PREPARE = ["", "    b = b / b.norm(dim=-1, keepdim=True)\n", "    a = F.normalize(a, dim=-1)\n"]
USES = ["    c = helper(a, b)\n    return c @ b.T\n", "    helper(a, b)\n    return a @ b.T\n",
        "    return helper(b, a)\n", "    c = helper(a, b)\n    return c\n"]
HEADER = "import torch\nimport torch.nn.functional as F\n"
CALLER = (
    "\n\ndef caller(model, images, tokens):\n"
    "    a = model.encode_image(images)\n"
    "    b = model.encode_text(tokens)\n"
)
OPTIONS = AnalysisOptions()


def found(folder: Path, name: str, text: str) -> Counter:
    path = folder / name
    path.write_text(text)
    findings = analyze_file(str(path), text, OPTIONS, Project(str(folder))).findings
    return Counter(f.code if f.code in ("CLN002", "CLN003") else (f.code, f.line) for f in findings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(HELPER_BODIES), st.sampled_from(PREPARE), st.sampled_from(USES))
def test_moving_a_helper_into_another_module_keeps_the_findings(body: str, prepare: str, use: str) -> None:
    helper = "\n\ndef helper(x, y):\n" + body
    caller = CALLER + prepare + use
    with tempfile.TemporaryDirectory() as folder:
        one, two = Path(folder) / "one", Path(folder) / "two"
        one.mkdir(), two.mkdir()
        for root in (one, two):
            (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
        # The import line stands where the single module has a blank line: the caller's lines match.
        together = found(one, "main.py", HEADER + "\n" + caller + helper)
        (two / "helpers.py").write_text(HEADER + helper)
        apart = found(two, "main.py", HEADER + "from helpers import helper\n" + caller)
    # A wrong-axis normalization inside the helper is reported in the helper when it is local
    # and at the call when it is in another module: the same finding, at another line.
    assert apart == together
