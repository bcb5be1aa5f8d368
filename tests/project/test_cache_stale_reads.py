"""The reproductions of "The cache is never stale" (../shared/repro/cache/), as tests: an edit to
anything the analysis read shows at once in both front ends' warm runs.

Each scenario is a small package: its files, then an edit, then what its caller ``use.py`` must
report. The scenarios of one reproduction share a project, so that one warm-up and one
comparison cover them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from front_ends import codes_in, warm_equals_uncached, warm_up, write_files

USE = (
    "from PKG.feats import img\n\n\n"
    "def score(model, x, t):\n"
    "    a = img(model, x)\n"
    "    b = model.encode_text(t)\n"
    "    b = b / b.norm(dim=-1, keepdim=True)\n"
    "    return a @ b.T\n"
)
UNIT = "f / f.norm(dim=-1, keepdim=True)"
HELPER_CALLS_SAME_MODULE = "def _unit(f):\n    return {}\n\n\ndef img(model, x):\n    return _unit(model.encode_image(x))\n"
OBJECT_BEHIND_A_GLOBAL = (
    "class Encoder:\n    def img(self, model, x):\n        f = model.encode_image(x)\n        return {}\n\n\n"
    "ENC = Encoder()\n"
)
TWO_IMPORTS_AWAY = {
    "h.py": "def raw(model, x):\n    return model.encode_image(x)\n",
    "g.py": "import PKG.h as h\n\n\ndef inner(model, x):\n{}    return h.raw(model, x)\n",
    "feats.py": "from PKG import g\n\n\ndef img(model, x):\n    return g.inner(model, x)\n",
}
RAW_FEATURES = "def img(model, x):\n    f = model.encode_image(x)\n    return f\n"
UNIT_FEATURES = "def img(model, x):\n    f = model.encode_image(x)\n    return f / f.norm(dim=-1, keepdim=True)\n"
BODY = USE.split("\n", 1)[1]

#: name -> (files before, files written by the edit, what use.py reports after it)
Scenario = Tuple[Dict[str, str], Dict[str, str], List[str]]
SCENARIOS: Dict[str, Scenario] = {
    # cache_01: a helper's callee in the same module, a method behind a module-level instance
    "c01a_same_module_callee_stops_normalizing": (
        {"feats.py": HELPER_CALLS_SAME_MODULE.format(UNIT)},
        {"feats.py": HELPER_CALLS_SAME_MODULE.format("f.clone()")},
        ["CLN001"],
    ),
    "c01b_same_module_callee_starts_normalizing": (
        {"feats.py": HELPER_CALLS_SAME_MODULE.format("f.clone()")},
        {"feats.py": HELPER_CALLS_SAME_MODULE.format(UNIT)},
        [],
    ),
    "c01c_method_behind_a_global_instance": (
        {"feats.py": OBJECT_BEHIND_A_GLOBAL.format(UNIT), "use.py": USE.replace("import img", "import ENC")
         .replace("img(model, x)", "ENC.img(model, x)")},
        {"feats.py": OBJECT_BEHIND_A_GLOBAL.format("f")},
        ["CLN001"],
    ),
    # cache_02: a comment or a docstring two imports away, read by the relevance text test
    "c02a_comment_names_an_encoder": (
        {**TWO_IMPORTS_AWAY, "g.py": TWO_IMPORTS_AWAY["g.py"].format("    # plain\n")},
        {"g.py": TWO_IMPORTS_AWAY["g.py"].format("    # encode_image\n")},
        ["CLN001"],
    ),
    "c02b_comment_stops_naming_an_encoder": (
        {**TWO_IMPORTS_AWAY, "g.py": TWO_IMPORTS_AWAY["g.py"].format("    # encode_image\n")},
        {"g.py": TWO_IMPORTS_AWAY["g.py"].format("    # plain\n")},
        [],
    ),
    "c02c_docstring_names_an_encoder": (
        {**TWO_IMPORTS_AWAY, "g.py": TWO_IMPORTS_AWAY["g.py"].format('    """Plain."""\n')},
        {"g.py": TWO_IMPORTS_AWAY["g.py"].format('    """Calls encode_image."""\n')},
        ["CLN001"],
    ),
    # cache_03: a module read only by the relevance test
    "c03_module_read_only_by_relevance": (
        {
            "h.py": TWO_IMPORTS_AWAY["h.py"],
            "k.py": "import PKG.h as h\n\n\ndef raw2(model, x):\n    return h.raw(model, x)\n",
            "g.py": "from PKG.k import raw2\n\n\ndef inner(model, x):\n    return raw2(model, x)\n",
            "feats.py": TWO_IMPORTS_AWAY["feats.py"],
        },
        {"k.py": "import PKG.h as h\n\n\ndef raw2(model, x):\n    return model.encode_image(x)\n"},
        ["CLN001"],
    ),
    # cache_09: import forms a line scanner misses; then a package shadows the module
    "c09a_backslash_before_import": (
        {"feats.py": RAW_FEATURES, "use.py": "from PKG.feats \\\n    import img" + BODY},
        {"feats/__init__.py": UNIT_FEATURES},
        [],
    ),
    "c09b_after_a_semicolon": (
        {"feats.py": RAW_FEATURES, "use.py": "import os; from PKG.feats import img" + BODY},
        {"feats/__init__.py": UNIT_FEATURES},
        [],
    ),
    "c09c_space_after_the_dot": (
        {"feats.py": RAW_FEATURES, "use.py": "from . feats import img" + BODY},
        {"feats/__init__.py": UNIT_FEATURES},
        [],
    ),
    "c09d_continued_import_in_a_helper": (
        {
            "enc.py": "def raw_img(m, x):\n    return m.visual(x)\n",
            "feats.py": "from PKG.enc \\\n    import raw_img\n\n\ndef img(m, x):\n    return raw_img(m, x)\n\n\n"
                        "def other(m, t):\n    return m.encode_text(t)\n",
            "use.py": "from PKG.feats import img\n\n\ndef s(m, x, y):\n    a = img(m, x)\n    b = img(m, y)\n"
                      "    return a @ b.T\n",
        },
        {"enc.py": "def raw_img(m, x):\n    return m.encode_image(x)\n"},
        ["CLN001"],
    ),
}


def _package(name: str) -> str:
    return name.split("_")[0]


def _in_package(files: Dict[str, str], package: str) -> Dict[str, str]:
    return {f"{package}/{name}": text.replace("PKG", package) for name, text in files.items()}


@pytest.fixture(scope="module")
def edited_project(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Dict[str, str]]:
    """Every scenario in its own package of one project: warmed by both front ends, then edited.
    Returns the project and the outputs of both front ends without a cache."""
    project = tmp_path_factory.mktemp("stale")
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for name, (before, _, _) in SCENARIOS.items():
        package = _package(name)
        write_files(project, _in_package({"__init__.py": "", "use.py": USE, **before}, package))
    warm_up(project, ".")
    for name, (_, edit, _) in SCENARIOS.items():
        write_files(project, _in_package(edit, _package(name)))
    return project, warm_equals_uncached(project, ".")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_an_edit_to_what_the_analysis_read_shows_in_warm_runs(edited_project, name: str) -> None:
    _, outputs = edited_project
    expected = SCENARIOS[name][2]
    for front_end, output in outputs.items():
        assert codes_in(output, f"{_package(name)}/use.py") == expected, front_end


# --- cache_05: the project root moves, and messages are written relative to it -------------------

MODULES = {
    "__init__.py": "",
    "feats.py": "def img(model, x):\n    f = model.encode_image(x)\n    return f\n",
    "use.py": USE.replace("from PKG.feats", "from .feats"),
}


def test_a_root_that_moves_changes_the_messages_of_warm_runs(tmp_path: Path) -> None:
    """No project marker: the root is the top package's parent; a new top/__init__.py moves it."""
    write_files(tmp_path, {f"top/pkg/{name}": text for name, text in MODULES.items()})
    warm_up(tmp_path, "top")
    (tmp_path / "top" / "__init__.py").write_text("")
    outputs = warm_equals_uncached(tmp_path, "top")
    assert all("via top/pkg/feats.py:2" in output for output in outputs.values()), outputs


def test_a_shared_cache_folder_keeps_roots_apart(tmp_path: Path) -> None:
    from front_ends import clean_env, clip_lint, flake8

    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write_files(project / "pkg", MODULES)
    env = clean_env(CLIP_LINT_CACHE_DIR=str(tmp_path / "shared-cache"))
    clip_lint("pkg", cwd=project, env=env)
    flake8("pkg", cwd=project, env=env)
    (project / "pkg" / "setup.py").write_text("")  # pkg/ is a project of its own now
    for front_end, no_cache in ((clip_lint, "--no-cache"), (flake8, "--clip-no-cache")):
        warm = front_end("pkg", cwd=project, env=env).stdout
        assert warm == front_end(no_cache, "pkg", cwd=project, env=env).stdout
        assert "via feats.py:2" in warm
