"""The gates that run before any parse: text tests that need neither libcst nor the engine.

A warm cache answers right after them, so nothing here may import libcst.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, List, Optional, Tuple

from clip_lint import facts
from clip_lint.options import AnalysisOptions

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.engine.project import Project

DEFAULT_OPTIONS = AnalysisOptions()

#: Text that compares or normalizes (narrower than the slicer's test): a module that never
#: names an encoder is parsed only with one of these and an import that leads to features.
COMPARISON = re.compile(
    r"(?m)^[ \t]*[^@\s#].*@|matmul|einsum|\bmm\(|bmm\(|\bdot\(|\binner\(|tensordot|\bnorm\s*\(|normalize"
)


def passes_gate(source: str, options: AnalysisOptions = DEFAULT_OPTIONS) -> bool:
    """A substring test that runs before any parse: no encoder word, no finding."""
    return any(word in source for word in facts.GATE_WORDS) or any(
        word in source for word in options.extra_encoders
    )


def needs_analysis(source: str, options: AnalysisOptions, path: Optional[str], project: Optional["Project"]) -> bool:
    """The gate, with a project: an encoder word, or an import that leads to one and code that
    may compare or normalize what it hands over."""
    if passes_gate(source, options):
        return True
    if project is None or path is None or not COMPARISON.search(source):
        return False
    return project_imports(source, options, path, project)[1]


def project_imports(
    source: str, options: AnalysisOptions, path: str, project: "Project"
) -> Tuple[Tuple[str, ...], bool]:
    """The local names a module imports from project modules that may matter, and whether
    one of those may hand it features.

    A cheap test from the import lines' text: it lets a module that never names an encoder
    through the gate when one of its imports leads to one, and keeps the code that calls a
    helper which may compare or normalize what it is given.
    """
    names: List[str] = []
    hands_features = False
    for module, level, imported in scan_imports(source):
        target = project.resolve(path, module, level)
        if target is None:
            continue
        for name, local in imported:
            sub = project.submodule(target, name) if name else None
            features = project.mentions_features(sub or target, options.extra_encoders)
            if features or project.mentions_comparisons(sub or target):
                names.append(local)
            hands_features = hands_features or features
    return tuple(sorted(set(names))), hands_features


# --- import lines, without a parse -------------------------------------------------------------

_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([^\n#)]*)", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_AS = re.compile(r"^([\w.]+)(?:\s+as\s+(\w+))?$")


@functools.lru_cache(maxsize=512)  # the gate and the cache's checks ask it of the same modules again and again
def scan_imports(text: str) -> List[Tuple[str, int, List[Tuple[str, str]]]]:
    """(module, level, [(imported name, local name)]) for each import line of ``text``; shared, don't mutate.

    ``import a.b`` gives ``("a.b", 0, [])`` with local name ``a``; names of a ``from``
    import that continue on later lines are missed (the gate only needs some of them).
    """
    found: List[Tuple[str, int, List[Tuple[str, str]]]] = []
    for match in _FROM_IMPORT.finditer(text):
        names = []
        for part in match.group(3).split(","):
            alias = _AS.match(part.strip())
            if alias and alias.group(1) != "*":
                names.append((alias.group(1), alias.group(2) or alias.group(1)))
        found.append((match.group(2), len(match.group(1)), names))
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            alias = _AS.match(part.strip())
            if alias:
                module = alias.group(1)
                found.append((module, 0, [("", alias.group(2) or module.split(".")[0])]))
    return found
