"""Another project module is parsed one definition at a time: its top level first, then each
function, class method or class that an analysis looks up, at its own lines."""

from __future__ import annotations

import ast
from pathlib import Path

from clip_lint.project.checking import analyze_file
from clip_lint.project.modules import Layout, Project
from clip_lint.options import AnalysisOptions

OPTIONS = AnalysisOptions()

HELPERS = '''"""Helpers, one of them used."""
import torch
import torch.nn.functional as F

SCALE = 100.0


# a comment above a decorated class
@torch.no_grad()
class Scorer:
    """Scores."""

    temperature = 1.0

    def __init__(self, model):
        self.model = model

    def embed(self, images):
        return self.model.encode_image(images)

    # the one the caller uses
    @torch.no_grad()
    def score(self, image, text):
        return SCALE * image @ text.T


def never_called(x):
    return F.normalize(x, dim=-1)


def unparsable_by_libcst_alone(x):
    return x
'''

CALLER = '''import clip
from helpers import Scorer

model, _ = clip.load("ViT-B/32")
scorer = Scorer(model)
logits = scorer.score(model.encode_image(images), model.encode_text(tokens))
'''


def write(folder: Path) -> Path:
    (folder / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "main.py").write_text(CALLER)
    return folder / "main.py"


def helper_line(text: str) -> int:
    return next(n for n, line in enumerate(HELPERS.splitlines(), 1) if text in line)


def test_a_helper_method_cut_out_alone_keeps_its_line_in_the_message(tmp_path):
    main = write(tmp_path)
    project = Project(str(tmp_path))
    result = analyze_file(str(main), main.read_text(), OPTIONS, project)
    assert [f.code for f in result.findings] == ["CLN001"]
    assert f"in 'score()' at helpers.py:{helper_line('SCALE * image @ text.T')}" in result.findings[0].message


def test_only_what_the_analysis_looks_up_is_parsed(tmp_path):
    main = write(tmp_path)
    project = Project(str(tmp_path))
    analyze_file(str(main), main.read_text(), OPTIONS, project)
    loaded = project.load(str(tmp_path / "helpers.py"))
    parsed = {key for key, found in loaded._definitions.items() if found is not None}
    layout = loaded.layout()
    class_span = layout.classes["Scorer"]
    methods = layout.methods[class_span]
    assert parsed == {("method", methods["__init__"]), ("method", methods["score"])}
    assert layout.methods[class_span]["score"][1] == helper_line("SCALE * image @ text.T")


def test_the_skeleton_keeps_every_line_and_only_the_top_level():
    tree = ast.parse(HELPERS)
    layout = Layout.of(HELPERS, tree)
    skeleton = layout.skeleton.splitlines()
    assert len(skeleton) == len(HELPERS.splitlines())
    assert "SCALE = 100.0" in skeleton and "import torch" in skeleton
    assert not any("def " in line or "class " in line or "@" in line for line in skeleton)
    assert sorted(layout.functions) == ["never_called", "unparsable_by_libcst_alone"]
    # the span of a decorated class starts after the statement above it (its comment and decorator)
    start, end = layout.classes["Scorer"]
    assert start == helper_line("SCALE = 100.0") + 1 and end == helper_line("SCALE * image @ text.T")


def test_a_method_alone_parses_at_its_own_lines():
    layout = Layout.of(HELPERS, ast.parse(HELPERS))
    span = layout.methods[layout.classes["Scorer"]]["score"]
    alone = layout.method_alone(span)
    tree = ast.parse(alone)
    method = tree.body[0].body[0]
    assert method.name == "score" and method.lineno == helper_line("def score")
    assert method.decorator_list[0].lineno == helper_line("    @torch.no_grad()")  # the method's, not the class's


def test_a_method_on_the_header_line_makes_the_class_parse_whole():
    text = "class A: x = 1\nclass B:\n    def f(self): return 1\n"
    layout = Layout.of(text, ast.parse(text))
    assert layout.methods[layout.classes["A"]] is None
    assert layout.methods[layout.classes["B"]] == {"f": (3, 3)}
    text = "class A:\n    def f(self): return 1; \n    def g(self): pass\n"
    assert Layout.of(text, ast.parse(text)).methods[(1, 3)] == {"f": (2, 2), "g": (3, 3)}
    text = "class A: pass; \nclass B(\n    object): y = 2\n"
    layout = Layout.of(text, ast.parse(text))
    assert layout.methods[layout.classes["B"]] is None


def test_a_definition_libcst_cant_take_contributes_nothing_and_the_rest_still_works(tmp_path):
    main = write(tmp_path)
    # Python parses a 1,500-term sum; libcst's parser would overflow its stack, so it never sees it.
    huge = "    return " + " + ".join(["x"] * 1500) + "\n"
    text = HELPERS.replace("def unparsable_by_libcst_alone(x):\n    return x\n", "def unparsable_by_libcst_alone(x):\n" + huge)
    (tmp_path / "helpers.py").write_text(text)
    (tmp_path / "main.py").write_text(CALLER + "from helpers import unparsable_by_libcst_alone\n"
                                      "q = unparsable_by_libcst_alone(model.encode_text(tokens))\n")
    project = Project(str(tmp_path))
    result = analyze_file(str(main), main.read_text(), OPTIONS, project)
    assert [f.code for f in result.findings] == ["CLN001"]
    loaded = project.load(str(tmp_path / "helpers.py"))
    assert loaded.definition(loaded.layout().functions["unparsable_by_libcst_alone"]) is None


def test_a_later_definition_of_a_name_wins_and_both_are_blanked():
    text = "def f(a):\n    return a\n\nX = 1\n\ndef f(a, b):\n    return a @ b\n"
    layout = Layout.of(text, ast.parse(text))
    assert layout.functions == {"f": (5, 7)}
    assert layout.skeleton == "\n\n\nX = 1\n\n\n\n"


def test_findings_do_not_depend_on_how_many_trees_are_kept(monkeypatch):
    """A module's ``ast`` may be let go and parsed again: what the project layer learns is the same."""
    import clip_lint.project.modules as project_layer

    projects = Path(__file__).resolve().parents[2] / "fixtures" / "projects"
    files = sorted(projects.rglob("*.py"))

    def findings(kept: int):
        monkeypatch.setattr(project_layer, "KEPT_TREES", kept)
        monkeypatch.setattr(project_layer, "_LOADED", {})
        monkeypatch.setattr(project_layer, "_TREES", project_layer.OrderedDict())
        found = {}
        for path in files:
            result = analyze_file(str(path), path.read_text(), OPTIONS, Project.for_path(str(path)))
            found[path] = [(f.code, f.line, f.col, f.message) for f in result.findings]
        return found

    monkeypatch.setattr(project_layer, "_PROJECTS", {})
    many = findings(1000)
    monkeypatch.setattr(project_layer, "_PROJECTS", {})
    one = findings(1)
    assert one == many
    assert sum(map(len, many.values())) >= 15  # the fixture projects' expected findings
