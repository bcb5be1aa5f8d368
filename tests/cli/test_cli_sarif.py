"""SARIF 2.1.0: rule descriptors from the rules table, percent-encoded URIs relative to
%SRCROOT%, absolute file:// URIs outside it, and stdin under its --stdin-filename; every report
validated against the OASIS schema with its URI formats checked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest

from cli_helpers import BUGGY, REPO, run_cli

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

# RFC 3986: what may appear in a URI (anything else must be percent-encoded)
_URI_CHARACTERS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*"
URI_REFERENCE = re.compile(_URI_CHARACTERS + r"\Z")
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:" + _URI_CHARACTERS + r"\Z")

FORMATS = jsonschema.FormatChecker()
FORMATS.checks("uri")(lambda value: not isinstance(value, str) or bool(URI.match(value)))
FORMATS.checks("uri-reference")(lambda value: not isinstance(value, str) or bool(URI_REFERENCE.match(value)))


def sarif_of(*args: str, cwd: Path, input: str = None) -> dict:
    result = run_cli("--format", "sarif", *args, cwd=cwd, input=input)
    assert result.returncode in (0, 1), result.stderr
    sarif = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=FORMATS).validate(sarif)
    return sarif


def locations(sarif: dict) -> list:
    return [result["locations"][0]["physicalLocation"]["artifactLocation"] for result in sarif["runs"][0]["results"]]


def test_the_uri_checker_rejects_what_it_must() -> None:
    validator = jsonschema.Draft4Validator({"format": "uri-reference"}, format_checker=FORMATS)
    for bad in ("100%.py", "a b.py", "caf\u00e9.py"):
        assert not validator.is_valid(bad)
    assert validator.is_valid("100%25.py")


@pytest.mark.parametrize(
    "name, uri",
    [
        ("100%.py", "100%25.py"),
        ("with space.py", "with%20space.py"),
        ("caf\u00e9/mod\u00e8le.py", "caf%C3%A9/mod%C3%A8le.py"),
        ("sub dir/#hash?.py", "sub%20dir/%23hash%3F.py"),
    ],
)
def test_odd_file_names_are_percent_encoded_relative_to_srcroot(tmp_path: Path, name: str, uri: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BUGGY, encoding="utf-8")
    sarif = sarif_of(".", cwd=tmp_path)
    assert locations(sarif) == [{"uri": uri, "uriBaseId": "%SRCROOT%"}]
    root = sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert root.startswith("file:///") and root.endswith("/")
    assert unquote(root[len("file://"):]) + unquote(uri) == str(path)


def test_files_outside_the_root_get_absolute_file_uris(tmp_path: Path) -> None:
    outside = tmp_path / "other place" / "100%.py"
    outside.parent.mkdir()
    outside.write_text(BUGGY, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    sarif = sarif_of(str(outside), cwd=work)
    [location] = locations(sarif)
    assert set(location) == {"uri"}
    assert location["uri"].startswith("file:///") and "%20" in location["uri"] and "%25" in location["uri"]
    assert unquote(location["uri"][len("file://"):]) == str(outside)
    relative = sarif_of("../other place/100%.py", cwd=work)
    assert locations(relative) == [location]


def test_stdin_uses_the_stdin_filename(tmp_path: Path) -> None:
    sarif = sarif_of("--stdin-filename", "src/my model.py", cwd=tmp_path, input=BUGGY)
    assert locations(sarif) == [{"uri": "src/my%20model.py", "uriBaseId": "%SRCROOT%"}]
    bare = sarif_of("-", cwd=tmp_path, input=BUGGY)
    assert locations(bare) == [{"uri": "stdin"}]


def test_rule_descriptors_carry_the_rules_docs() -> None:
    from clip_lint.rules import RULES, render_rule_markdown

    sarif = sarif_of("--exit-zero", "examples", cwd=REPO)
    driver = sarif["runs"][0]["tool"]["driver"]
    assert [rule["id"] for rule in driver["rules"]] == sorted(RULES)
    for descriptor in driver["rules"]:
        rule = RULES[descriptor["id"]]
        assert descriptor["shortDescription"]["text"] == rule.short_description
        assert descriptor["fullDescription"]["markdown"] == rule.what_it_does
        assert "`" not in descriptor["fullDescription"]["text"]
        assert descriptor["help"]["markdown"] == render_rule_markdown(rule.code)
        assert "**" not in descriptor["help"]["text"] and rule.code in descriptor["help"]["text"]
        # helpUri: the rule's page in this checkout, the very file docs/rules/CODE.md
        assert descriptor["helpUri"] == (REPO / rule.page).as_uri()
        assert (REPO / rule.page).read_text(encoding="utf-8") == render_rule_markdown(rule.code)
        assert descriptor["defaultConfiguration"]["enabled"] is rule.default
    assert driver["informationUri"] == REPO.as_uri() + "/"
    for result in sarif["runs"][0]["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
