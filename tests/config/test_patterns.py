"""Exclude and .gitignore patterns: plain names are matched without pathspec, exactly as pathspec would."""

from __future__ import annotations

from typing import List

import pathspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clip_lint.sources.discovery import DEFAULT_EXCLUDE
from clip_lint.config.patterns import NamePatterns, compile_patterns

# Characters that matter to gitignore (and a few that don't), in patterns and in file names.
PATTERN_TEXT = st.one_of(
    st.text(alphabet="ab.*?-_/[]!#\\ ", min_size=0, max_size=6),
    st.sampled_from(["*", "**", "***", "build", "*.py", "a?", "#a", "a b", "!a", "a/"]),
)
NAME = st.text(alphabet="ab.*?-_[]!# \n", min_size=1, max_size=5)


@st.composite
def paths(draw: st.DrawFn) -> str:
    parts = draw(st.lists(NAME, min_size=1, max_size=4))
    prefix = draw(st.sampled_from(["", "./", "/"]))
    suffix = draw(st.sampled_from(["", "/"]))  # a folder is matched with a trailing slash
    return prefix + "/".join(parts) + suffix


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(PATTERN_TEXT, min_size=0, max_size=4), tested=st.lists(paths(), min_size=1, max_size=6))
@example(lines=["*"], tested=["\n", "\n/", "a"])  # pathspec's "*" passes over a name of newlines alone
def test_compiled_patterns_match_as_pathspec_does(lines: List[str], tested: List[str]) -> None:
    try:
        expected = pathspec.GitIgnoreSpec.from_lines(lines)
    except ValueError:  # pathspec refuses the pattern: so must we
        with pytest.raises(ValueError):
            compile_patterns(lines)
        return
    matcher = compile_patterns(lines)
    for path in tested:
        assert matcher.match_file(path) == expected.match_file(path), (lines, path)


@settings(max_examples=200, deadline=None)
@given(tested=st.lists(paths(), min_size=1, max_size=8))
def test_the_default_excludes_match_as_pathspec_does(tested: List[str]) -> None:
    expected = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDE)
    matcher = compile_patterns(DEFAULT_EXCLUDE)
    for path in tested + ["a/build/x.py", "x.egg-info/y", "src/.venv", "builds/x.py", "node_modules/"]:
        assert matcher.match_file(path) == expected.match_file(path), path


def test_plain_names_need_no_pathspec() -> None:
    assert isinstance(compile_patterns(DEFAULT_EXCLUDE), NamePatterns)
    cache_gitignore = ["# Automatically created by clip-lint.", "*", ""]  # the cache folder's own .gitignore
    assert isinstance(compile_patterns([*DEFAULT_EXCLUDE, "", "# comment", "*.log", "tmp?"]), NamePatterns)
    assert isinstance(compile_patterns(cache_gitignore), NamePatterns)
    assert compile_patterns(cache_gitignore).match_file("findings/abc.json")


@pytest.mark.parametrize("pattern", ["/build", "docs/", "src/*.py", "!keep.py", "[ab].py", "a\\*", " x", "a b"])
def test_gitignore_rules_beyond_plain_names_go_to_pathspec(pattern: str) -> None:
    assert isinstance(compile_patterns([pattern]), pathspec.GitIgnoreSpec)


def test_a_plain_name_matches_the_path_or_a_folder_above_it() -> None:
    matcher = compile_patterns(["build", "*.egg-info"])
    assert matcher.match_file("build")
    assert matcher.match_file("src/build/")
    assert matcher.match_file("src/build/module.py")
    assert matcher.match_file("pkg.egg-info/PKG-INFO")
    assert not matcher.match_file("builds/module.py")
    assert not matcher.match_file("src/rebuild.py")
    assert not compile_patterns([]).match_file("anything.py")
