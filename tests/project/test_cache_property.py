"""The promise "the cache is never stale", tried as the adversary tried it (issue 18, item 7).

Hypothesis builds a project (a caller, a helper module, the modules behind it) out of the shapes
that broke the cache before: helpers and their same-module callees, a method behind a
module-level instance, a chain of modules where a comment or a docstring decides relevance,
import forms a line scanner misses, re-exports through a package, import cycles, a package that
shadows a module. Then it edits the project step by step, some edits saved while a run is
reading the project. After every step, a warm run of each front end (the command and flake8)
must report exactly what a run without the cache reports.

A bounded number of examples runs in the default suite; ``-m nightly`` runs many more.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from front_ends import clean_env

DRIVER = Path(__file__).with_name("cache_driver.py")
NORMALIZED = "f / f.norm(dim=-1, keepdim=True)"

KNOBS = {
    "helper": ["direct", "callee", "instance", "chain"],
    "unit": [True, False],
    "hint": ["none", "comment", "docstring"],  # does the chain's relay name an encoder, and where
    "form": ["plain", "backslash", "semicolon", "relative", "reexport"],
    "cycle": [False, True],
    "shadow": [None, True, False],  # a package pkg/feats/ that shadows feats.py (normalizing or not)
}
State = Dict[str, object]


def _finish(unit: object) -> str:
    return NORMALIZED if unit else "f * 1"


def helper_module(state: State) -> str:
    back = "import pkg.inner as _back\n" if state["cycle"] else ""
    finish = _finish(state["unit"])
    if state["helper"] == "direct":
        body = f"def img(model, x):\n    f = model.encode_image(x)\n    return {finish}\n"
    elif state["helper"] == "callee":
        body = f"def _finish(f):\n    return {finish}\n\n\ndef img(model, x):\n    return _finish(model.encode_image(x))\n"
    elif state["helper"] == "instance":
        body = (
            f"class Encoder:\n    def img(self, model, x):\n        f = model.encode_image(x)\n        return {finish}\n\n\n"
            "ENC = Encoder()\n\n\ndef img(model, x):\n    return ENC.img(model, x)\n"
        )
    else:
        body = "from pkg import inner\n\n\ndef img(model, x):\n    return inner.relay(model, x)\n"
    return back + ("\n\n" if back else "") + body


def inner_module(state: State) -> str:
    back = "import pkg.feats as _back\n\n\n" if state["cycle"] else ""
    hint = {"none": "", "comment": "    # encode_image\n", "docstring": '    """Calls encode_image."""\n'}[str(state["hint"])]
    # ``import ... as`` leads nowhere by itself: the relay is followed only when its text names an encoder
    return back + f"import pkg.deep as deep\n\n\ndef relay(model, x):\n{hint}    return deep.raw(model, x)\n"


def deep_module(state: State) -> str:
    return f"def raw(model, x):\n    f = model.encode_image(x)\n    return {_finish(state['unit'])}\n"


def caller_module(state: State) -> str:
    body = (
        "\n\n\ndef score(model, x, t):\n    a = img(model, x)\n    b = model.encode_text(t)\n"
        "    b = b / b.norm(dim=-1, keepdim=True)\n    return a @ b.T\n"
    )
    imports = {
        "plain": "from pkg.feats import img",
        "backslash": "from pkg.feats \\\n    import img",
        "semicolon": "import os; from pkg.feats import img",
        "relative": "from . feats import img",
        "reexport": "from pkg import img",
    }
    return imports[str(state["form"])] + body


def render(state: State) -> Dict[str, Optional[str]]:
    """The project's files for a state (None: the path is removed)."""
    shadow = state["shadow"]
    return {
        "pyproject.toml": "[project]\nname = 'p'\n",
        "pkg/__init__.py": "from pkg.feats import img\n" if state["form"] == "reexport" else "",
        "pkg/feats.py": helper_module(state),
        "pkg/inner.py": inner_module(state),
        "pkg/deep.py": deep_module(state),
        "pkg/use.py": caller_module(state),
        "pkg/feats": None if shadow is None else "<folder>",
        "pkg/feats/__init__.py": None if shadow is None else
        f"def img(model, x):\n    f = model.encode_image(x)\n    return {_finish(shadow)}\n",
    }


def files_of(state: State, root: Path) -> Dict[str, Optional[str]]:
    return {str(root / path): text for path, text in render(state).items() if text != "<folder>"}


def removed_folders(state: State, root: Path) -> Dict[str, Optional[str]]:
    return {str(root / path): None for path, text in render(state).items() if text is None}


def edit(state: State, root: Path) -> Dict[str, Optional[str]]:
    """The writes that turn the project into ``state``: folders removed first."""
    return {**removed_folders(state, root), **{p: t for p, t in files_of(state, root).items() if t is not None}}


states = st.fixed_dictionaries({knob: st.sampled_from(values) for knob, values in KNOBS.items()})
steps = st.tuples(
    st.sampled_from(sorted(KNOBS)),
    st.data(),
    st.sampled_from(["between runs", "during a clip-lint run", "during a flake8 run"]),
    st.sampled_from(["pkg/feats.py", "pkg/inner.py", "pkg/deep.py", "pkg/__init__.py"]),
)


def run_driver(root: Path, during: Optional[dict] = None) -> Dict[str, list]:
    request = json.dumps({"during": during})
    result = subprocess.run([sys.executable, str(DRIVER), str(root), request], capture_output=True, text=True,
                            env=clean_env(), timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def check_project(initial: State, script: list) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        from front_ends import write_files

        write_files(root, {p: t for p, t in render(initial).items() if t not in (None, "<folder>")})
        state = dict(initial)
        outputs = run_driver(root)  # cold: fills the cache
        for knob, data, when, trigger in script:
            state[knob] = data.draw(st.sampled_from([v for v in KNOBS[knob] if v != state[knob]]), label=knob)
            writes = edit(state, root)
            if when == "between runs":
                for path, text in writes.items():
                    _write(path, text)
                outputs = run_driver(root)
            else:
                front_end = when.split()[2]
                outputs = run_driver(root, {"front_end": front_end, "after_reading": str(root / trigger), "files": writes})
            for front_end, (warm, uncached) in outputs.items():
                assert warm == uncached, f"{front_end} after {knob} -> {state[knob]!r} ({when}), state {state}"


def _write(path: str, text: Optional[str]) -> None:
    import shutil

    target = Path(path)
    if text is None:
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(states, st.lists(steps, min_size=1, max_size=3))
def test_warm_runs_equal_runs_without_the_cache_after_every_edit(initial: State, script: list) -> None:
    check_project(initial, script)


@pytest.mark.nightly
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(states, st.lists(steps, min_size=1, max_size=6))
def test_warm_runs_equal_runs_without_the_cache_after_every_edit_nightly(initial: State, script: list) -> None:
    check_project(initial, script)
