"""The rule pages, docs/rules/CODE.md, are the project's home for each rule: generated from the
rules table, their examples run through the real command (and flake8), and every rule URL the
command prints opens them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List
from urllib.parse import unquote, urlparse

import pytest

from cli_helpers import REPO, run_cli, write
from clip_lint.frontends.docs import INDEX, readme_rules_section, rule_pages, with_rules
from clip_lint.rules import RULE_PAGES, RULES

PAGES = REPO / RULE_PAGES
FENCED = re.compile(r"^## (?P<section>[^\n]+)\n\n```python\n(?P<code>.*?)^```", re.DOTALL | re.MULTILINE)


def page_examples(code: str) -> Dict[str, str]:
    """The Python blocks of a rule's page as written on disk, by their section."""
    text = (PAGES / f"{code}.md").read_text(encoding="utf-8")
    return {match["section"]: match["code"] for match in FENCED.finditer(text)}


def path_of(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


def test_the_pages_on_disk_are_exactly_the_generated_ones() -> None:
    on_disk = {f"{RULE_PAGES}/{page.name}": page.read_text(encoding="utf-8") for page in PAGES.glob("*")}
    assert on_disk == rule_pages(), "run: python -m clip_lint.docs"
    assert set(on_disk) == {RULES[code].page for code in RULES} | {INDEX}


def test_the_readme_links_each_rule_to_its_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert with_rules(readme, REPO) == readme, "run: python -m clip_lint.docs"
    for rule in RULES.values():
        assert f"]({rule.page})" in readme_rules_section()
        assert (REPO / rule.page).is_file()
    assert f"]({INDEX})" in readme or f"]({RULE_PAGES}/)" in readme


def test_every_summary_is_one_short_line() -> None:
    for rule in RULES.values():
        summary = rule.short_description
        assert "\n" not in summary and len(summary) <= 100 and summary.endswith("."), rule.code
        assert "`" not in summary, rule.code  # shown as plain text by `clip-lint rules` and SARIF
    listing = run_cli("rules").stdout.splitlines()
    assert max(len(line) for line in listing) <= 160, listing


def test_each_page_starts_with_the_rule_and_says_where_it_is_reported() -> None:
    for rule in RULES.values():
        lines = (REPO / rule.page).read_text(encoding="utf-8").splitlines()
        assert lines[0] == f"# {rule.code} ({rule.name})"
        assert lines[2] == rule.short_description
        assert ("On by default" in lines[4]) is rule.default
        assert ("Reported by `clip-lint` only" in lines[4]) is (not rule.engine)


ENGINE_EXAMPLES = [code for code, rule in RULES.items() if rule.example and rule.engine]


@pytest.mark.parametrize("code", ENGINE_EXAMPLES)
def test_a_pages_example_is_its_finding_and_use_instead_is_clean(tmp_path: Path, code: str) -> None:
    blocks = page_examples(code)
    assert blocks["Example"] == RULES[code].example and blocks["Use instead"] == RULES[code].use_instead
    write(tmp_path, "example.py", blocks["Example"])
    write(tmp_path, "use_instead.py", blocks["Use instead"])
    report = json.loads(run_cli("--format", "json", "--no-cache", "example.py", "use_instead.py", cwd=tmp_path).stdout)
    assert [(f["path"], f["code"]) for f in report["findings"]] == [("example.py", code)]
    finding = report["findings"][0]
    assert finding["name"] == RULES[code].name and path_of(finding["url"]) == REPO / RULES[code].page
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "CLN", "example.py", "use_instead.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert [line.split()[1] for line in flake8.stdout.splitlines()] == [code], flake8.stdout + flake8.stderr
    assert flake8.stdout.startswith("example.py:")
    fixed = run_cli("--fix", "--no-cache", "example.py", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout
    assert run_cli("--no-cache", "example.py", cwd=tmp_path).returncode == 0


def test_every_rule_url_the_command_prints_opens_the_rules_page() -> None:
    listing = json.loads(run_cli("rules", "--format", "json").stdout)
    for entry in listing:
        page = path_of(entry["url"])
        assert page == REPO / RULES[entry["code"]].page and page.is_file()
        assert page.read_text(encoding="utf-8") == run_cli("--explain", entry["code"]).stdout


def _install_copy(tmp_path: Path) -> Path:
    """A copy of this repository's tracked files, installed (not editable) into a folder of its own."""
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files: List[str] = [name for name in tracked.decode().split("\0") if name]
    files += [str(page.relative_to(REPO)) for page in PAGES.glob("*.md")]  # committed or not yet
    for name in files:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)  # fmt: skip
    return source


@pytest.mark.slow
def test_an_installed_copy_points_at_the_folder_it_was_installed_from(tmp_path: Path) -> None:
    source = _install_copy(tmp_path)
    probe = "from clip_lint.frontends.reporting import rule_url\nimport clip_lint\nprint(clip_lint.__file__)\n"
    probe += "print(rule_url('CLN001'))"
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))

    def ask() -> List[str]:
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    package, url = ask()
    assert package.startswith(str(tmp_path / "site"))
    assert path_of(url) == source / "docs" / "rules" / "CLN001.md"
    shutil.rmtree(source / "docs" / "rules")
    assert ask()[1] == "None"  # no page to open: no URL, never a dead one
