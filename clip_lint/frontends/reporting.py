"""Print findings as text, JSON, SARIF 2.1.0, GitHub workflow commands or JUnit XML.

Every format shows 1-based columns, as flake8 and editors do. A notebook finding is at
``cell N:LINE:COL`` (N: the 1-based index in the notebook's cell list, LINE: the line in that
cell), as ruff prints it; formats that only know file lines (SARIF, GitHub) point at the line of
the notebook's JSON text that holds the code and name the cell in the message.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from clip_lint import __version__
from clip_lint.frontends.runner import FileEdit, FileResult, Reported

FORMATS = ("text", "json", "sarif", "github", "junit")
JSON_SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
STDIN = "-"


@dataclass(frozen=True)
class Summary:
    """Counts for the one-line summary and the machine formats."""

    files_checked: int
    findings: int
    fixable: int
    unsafe_fixable: int
    fixed: int
    files_fixed: int = 0
    errors: int = 0
    skipped_blocks: int = 0  # unparsable notebook cells and Markdown blocks that mention no encoder

    @classmethod
    def of(cls, results: Sequence[FileResult]) -> "Summary":
        findings = [finding for result in results for finding in result.findings]
        return cls(
            files_checked=sum(result.checked for result in results),
            findings=len(findings),
            fixable=sum(finding.fixable for finding in findings),
            unsafe_fixable=sum(finding.fix_safe is False and not finding.fixable for finding in findings),
            fixed=sum(result.fixed for result in results),
            files_fixed=sum(1 for result in results if result.fixed),
            errors=sum(len(result.errors) for result in results),
            skipped_blocks=sum(result.skipped_blocks for result in results),
        )


def position(result: FileResult, finding: Reported) -> str:
    """``path:line:col`` or, in a notebook, ``path:cell N:line:col`` (1-based column), as ruff prints them."""
    if finding.cell is not None:
        return f"{result.path}:{cell_position(finding)}"
    return f"{result.path}:{finding.line}:{finding.col + 1}"


def cell_position(finding: Reported) -> str:
    """``cell N:line:col`` of a notebook finding: where formats that know only file lines name it."""
    return f"cell {finding.cell}:{finding.line}:{finding.col + 1}"


@dataclass(frozen=True)
class View:
    """How the report is shown: the command's output flags."""

    color: bool = False
    fix_mode: bool = False
    show_source: bool = False
    statistics: bool = False
    quiet: int = 0  # 1: no summary line; 2: nothing at all


STATISTICS_FORMATS = ("text", "json")


def render(format_name: str, results: Sequence[FileResult], view: View = View()) -> str:
    """The whole report in ``format_name``."""
    renderers: Dict[str, Callable[[Sequence[FileResult]], str]] = {
        "json": render_json,
        "sarif": render_sarif,
        "github": render_github,
        "junit": render_junit,
    }
    if view.quiet >= 2:
        return ""
    if view.statistics:
        return render_statistics(format_name, results, view)
    if format_name == "text":
        return render_text(results, view)
    return renderers[format_name](results)


# --- where the rule pages are -----------------------------------------------------------------
# The project's home is its repository (there is no public host yet), and each rule's page is
# docs/rules/CODE.md there. A rule URL is the file:// URL of that page in the copy of the
# repository this clip-lint came from, so it opens wherever clip-lint runs, offline; a page that
# can't be found gets no URL rather than a dead one.


@functools.lru_cache(maxsize=None)
def home() -> Optional[str]:
    """The folder of the repository this clip-lint runs from or was installed from, or None.

    From a checkout (``pip install -e .``, or the source on ``PYTHONPATH``) that is the folder
    above the package. An installed copy finds its source through pip's record of where it was
    installed from (``direct_url.json``, PEP 610): a local folder or clone, as pre-commit's is.
    """
    import clip_lint
    from clip_lint.rules import RULE_PAGES

    checkout = os.path.dirname(os.path.dirname(os.path.abspath(clip_lint.__file__)))
    if os.path.isdir(os.path.join(checkout, *RULE_PAGES.split("/"))):
        return checkout
    installed_from = _installed_from()
    if installed_from and os.path.isdir(os.path.join(installed_from, *RULE_PAGES.split("/"))):
        return installed_from
    return None


def _installed_from() -> Optional[str]:
    """The local folder pip installed clip-lint from, if it recorded one."""
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        record = json.loads(metadata.distribution("clip-lint").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return None
    url = urlparse(record.get("url", "") if isinstance(record, dict) else "")
    return unquote(url.path) if url.scheme == "file" and url.path else None


def rule_url(code: str) -> Optional[str]:
    """The ``file://`` URL of rule ``code``'s page, or None when no page can be found."""
    from clip_lint.rules import RULES

    root = home()
    if root is None or code not in RULES:
        return None
    page = os.path.join(root, *RULES[code].page.split("/"))
    return file_uri(page) if os.path.isfile(page) else None


def home_url() -> Optional[str]:
    """The ``file://`` URL of the project's home, the repository's folder (None: not found)."""
    root = home()
    return file_uri(root).rstrip("/") + "/" if root else None


# --- text -------------------------------------------------------------------------------------


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render_text(results: Sequence[FileResult], view: View = View()) -> str:
    lines = []
    for result in results:
        for finding in result.findings:
            where = _paint(position(result, finding), "1", view.color)
            lines.append(f"{where}: {_paint(finding.code, '1;31', view.color)} {finding.message}")
            if view.show_source and finding.source:
                lines.extend(source_with_caret(finding.source, finding.col))
        lines.extend(f"{result.path}: error: {error}" for error in result.errors)
    if not view.quiet:
        lines.append(summary_line(Summary.of(results), view.fix_mode))
    return "".join(line + "\n" for line in lines)


def source_with_caret(source: str, col: int) -> List[str]:
    """The line and a caret under column ``col`` (0-based), as flake8's --show-source prints them.

    Tabs before the column are kept so the caret lines up in a terminal.
    """
    indent = "".join(char if char == "\t" else " " for char in source[:col])
    return [source.rstrip("\r\n"), indent + "^"]


def render_statistics(format_name: str, results: Sequence[FileResult], view: View = View()) -> str:
    """The number of findings per code (``--statistics``), instead of the findings themselves."""
    from clip_lint.rules import RULES

    counts: Dict[str, List[Reported]] = {}
    for result in results:
        for finding in result.findings:
            counts.setdefault(finding.code, []).append(finding)
    rows = [
        {
            "code": code,
            "name": RULES[code].name if code in RULES else code,
            "count": len(found),
            "fixable": sum(finding.fixable for finding in found),
        }
        for code, found in sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    if format_name == "json":
        return json.dumps(rows, indent=2) + "\n"
    width = max((len(str(row["count"])) for row in rows), default=1)
    lines = [
        f"{row['count']:>{width}}  {row['code']}  {'[*] ' if row['fixable'] else ''}{row['name']}" for row in rows
    ]
    if not view.quiet:
        lines.append(summary_line(Summary.of(results), view.fix_mode))
    return "".join(line + "\n" for line in lines)


def plural(count: int, word: str) -> str:
    ending = "" if count == 1 else "es" if word.endswith(("x", "s")) else "s"
    return f"{count} {word}{ending}"


def summary_line(summary: Summary, fix_mode: bool = False) -> str:
    """``Checked 3 files: 2 findings (1 fixable with --fix).``, or what --fix did.

    After ``--fix`` a finding still marked fixable is one whose fix was not applied (its file
    could not be written, or the fixed text would not parse): it is never "fixable with --fix".
    """
    checked = f"Checked {plural(summary.files_checked, 'file')}"
    errors = f", {plural(summary.errors, 'error')}" if summary.errors else ""
    if summary.skipped_blocks:
        errors += f", {plural(summary.skipped_blocks, 'unparsable block')} skipped"
    notes = _fixable_notes(summary, fix_mode)
    if fix_mode and summary.fixed:
        fixed = f"Fixed {plural(summary.fixed, 'finding')} in {plural(summary.files_fixed, 'file')}"
        return f"{fixed} ({summary.findings} left{''.join(', ' + note for note in notes)}{errors})."
    if not summary.findings:
        return f"{checked}: no findings{errors}."
    if not notes:
        notes = ["0 fixable"]
    return f"{checked}: {plural(summary.findings, 'finding')} ({', '.join(notes)}){errors}."


def _fixable_notes(summary: Summary, fix_mode: bool) -> List[str]:
    notes = []
    if summary.fixable and fix_mode:
        notes.append(f"{plural(summary.fixable, 'fix')} not applied")
    elif summary.fixable:
        notes.append(f"{summary.fixable} fixable with --fix")
    if summary.unsafe_fixable:
        notes.append(f"{summary.unsafe_fixable} more with --unsafe-fixes")
    return notes


# --- json -------------------------------------------------------------------------------------


def finding_record(result: FileResult, finding: Reported) -> dict:
    """One finding in the JSON schema (docs/formats.md, checked against docs/clip-lint.schema.json)."""
    from clip_lint.rules import RULES

    fix = None
    if finding.fix_title is not None:
        edits = None if finding.edits is None else [edit_record(edit) for edit in finding.edits]
        fix = {"title": finding.fix_title, "safe": bool(finding.fix_safe), "applicable": finding.fixable}
        fix["edits"] = edits
    return {
        "path": result.path,
        "kind": result.kind,
        "code": finding.code,
        "name": RULES[finding.code].name if finding.code in RULES else None,
        "url": rule_url(finding.code),
        "message": finding.message,
        "cell": finding.cell,
        "line": finding.line,
        "column": finding.col + 1,
        "end_line": finding.end_line or finding.line,
        "end_column": (finding.end_col if finding.end_line else finding.col) + 1,
        "fix": fix,
    }


def edit_record(edit: FileEdit) -> dict:
    """One edit of a fix: replace from (line, column) up to (end_line, end_column) with ``text``."""
    return {
        "cell": edit.cell,
        "line": edit.line,
        "column": edit.col + 1,
        "end_line": edit.end_line,
        "end_column": edit.end_col + 1,
        "text": edit.text,
    }


def render_json(results: Sequence[FileResult]) -> str:
    summary = Summary.of(results)
    report = {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "clip-lint", "version": __version__},
        "summary": {
            "files_checked": summary.files_checked,
            "findings": summary.findings,
            "fixable": summary.fixable,
            "fixed": summary.fixed,
            "errors": summary.errors,
            "skipped_blocks": summary.skipped_blocks,
        },
        "findings": [finding_record(result, finding) for result in results for finding in result.findings],
        "errors": [{"path": result.path, "message": error} for result in results for error in result.errors],
    }
    return json.dumps(report, indent=2) + "\n"


# --- sarif ------------------------------------------------------------------------------------


def _rule_descriptors() -> List[dict]:
    from clip_lint.rules import RULES, render_rule_markdown

    descriptors = []
    for code, rule in sorted(RULES.items()):
        markdown = render_rule_markdown(code)
        descriptors.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.short_description},
                "fullDescription": {
                    "text": rule.what_it_does.replace("`", "") or rule.short_description,
                    "markdown": rule.what_it_does or rule.short_description,
                },
                "help": {"text": _markdown_to_text(markdown), "markdown": markdown},
                "defaultConfiguration": {"level": "error", "enabled": rule.default},
                "properties": {"page": rule.page},
            }
        )
        url = rule_url(code)
        if url is not None:
            descriptors[-1]["helpUri"] = url
    return descriptors


def _markdown_to_text(markdown: str) -> str:
    """The rule's docs as plain text: no heading marks, emphasis, fences or backticks."""
    lines = []
    for line in markdown.splitlines():
        if line.startswith("```"):
            continue
        lines.append(line.lstrip("#").strip() if line.startswith("#") else line.replace("**", "").replace("`", ""))
    return "\n".join(lines).strip() + "\n"


def file_uri(absolute: str) -> str:
    """A ``file://`` URI for an absolute path, percent-encoded (``100%.py`` -> ``100%25.py``)."""
    from urllib.parse import quote  # deferred, as every format's own imports: only SARIF needs it

    posix = absolute.replace(os.sep, "/")
    if not posix.startswith("/"):  # a Windows drive path
        posix = "/" + posix
    return "file://" + quote(posix, safe="/:")


def artifact_location(path: str, root: str) -> dict:
    """The file's URI: relative to ``%SRCROOT%`` (``root``) when it lies under it, else absolute."""
    from urllib.parse import quote

    if path == STDIN:
        return {"uri": "stdin"}
    absolute = os.path.abspath(path)
    same_drive = os.path.splitdrive(absolute)[0] == os.path.splitdrive(root)[0]
    relative = os.path.relpath(absolute, root) if same_drive else ""
    if not relative or relative == ".." or relative.startswith(".." + os.sep) or os.path.isabs(relative):
        return {"uri": file_uri(absolute)}
    return {"uri": quote(relative.replace(os.sep, "/"), safe="/"), "uriBaseId": "%SRCROOT%"}


def _sarif_result(result: FileResult, finding: Reported, rule_index: Dict[str, int], root: str) -> dict:
    region: dict = {"startLine": max(finding.file_line, 1)}
    message = finding.message
    if finding.cell is None:
        region["startColumn"] = finding.col + 1
        if finding.end_line:
            region.update(endLine=finding.end_line, endColumn=finding.end_col + 1)
    else:
        message = f"{cell_position(finding)}: {message}"
    record: dict = {
        "ruleId": finding.code,
        "level": "error",
        "message": {"text": message},
        "locations": [
            {"physicalLocation": {"artifactLocation": artifact_location(result.path, root), "region": region}}
        ],
    }
    if finding.code in rule_index:
        record["ruleIndex"] = rule_index[finding.code]
    if finding.cell is not None:
        record["properties"] = {"cell": finding.cell, "cellLine": finding.line, "cellColumn": finding.col + 1}
    elif finding.edits:  # a notebook's edits are in its cells, which SARIF regions can't name
        record["fixes"] = [_sarif_fix(result, finding, root)]
    return record


def _sarif_fix(result: FileResult, finding: Reported, root: str) -> dict:
    """The finding's fix as SARIF replacements: the same edits as the JSON report's."""
    replacements = [
        {
            "deletedRegion": {"startLine": edit.line, "startColumn": edit.col + 1,
                              "endLine": edit.end_line, "endColumn": edit.end_col + 1},
            "insertedContent": {"text": edit.text},
        }  # fmt: skip
        for edit in finding.edits or ()
    ]
    unsafe = "" if finding.fix_safe else " (unsafe: applied only with --unsafe-fixes)"
    return {
        "description": {"text": (finding.fix_title or "") + unsafe},
        "artifactChanges": [{"artifactLocation": artifact_location(result.path, root), "replacements": replacements}],
    }


def _sarif_invocation(results: Sequence[FileResult], root: str) -> dict:
    """Paths that could not be read or written, as the run's error notifications."""
    notifications = [
        {
            "level": "error",
            "message": {"text": error},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_location(result.path, root)}}],
        }
        for result in results
        for error in result.errors
    ]
    return {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}


def render_sarif(results: Sequence[FileResult]) -> str:
    rules = _rule_descriptors()
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    root = os.getcwd()
    driver = {"name": "clip-lint", "version": __version__, "rules": rules}
    if home_url() is not None:
        driver["informationUri"] = home_url()
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": file_uri(root).rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [
            _sarif_result(result, finding, rule_index, root) for result in results for finding in result.findings
        ],
        "invocations": [_sarif_invocation(results, root)],
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


# --- github -----------------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(results: Sequence[FileResult]) -> str:
    """``::error file=...,line=...,col=...,title=...::message`` workflow commands."""
    lines = []
    for result in results:
        for finding in result.findings:
            properties = [f"file={_escape_property(result.path)}", f"line={max(finding.file_line, 1)}"]
            message = finding.message
            if finding.cell is None:
                properties.append(f"col={finding.col + 1}")
                if finding.end_line:
                    properties += [f"endLine={finding.end_line}", f"endColumn={finding.end_col + 1}"]
            else:
                message = f"{cell_position(finding)}: {message}"
            properties.append(f"title={_escape_property('clip-lint ' + finding.code)}")
            lines.append(f"::error {','.join(properties)}::{_escape_data(finding.code + ' ' + message)}")
        for error in result.errors:
            lines.append(f"::error file={_escape_property(result.path)},title=clip-lint::{_escape_data(error)}")
    return "".join(line + "\n" for line in lines)


# --- junit ------------------------------------------------------------------------------------


def junit_classname(path: str) -> str:
    """The module path, dotted and without its extension: ``src/pkg/mod.py`` -> ``src.pkg.mod``."""
    if path == STDIN:
        return "stdin"
    relative = os.path.relpath(os.path.abspath(path))
    if relative.startswith(".."):
        relative = os.path.abspath(path)
    stem, _ = os.path.splitext(relative)
    parts = [part for part in stem.replace(os.sep, "/").split("/") if part not in ("", ".", "..")]
    return ".".join(parts) or "stdin"


_SUBJECT = re.compile(r"'([^']+)'")


def junit_test_names(findings: Sequence[Reported]) -> List[str]:
    """Names that survive lines moving: the code and the subject the message names.

    A second finding with the same code and subject in one file gets ``#2``, in file order.
    """
    names, seen = [], Counter()  # type: List[str], Counter
    for finding in findings:
        subject = _SUBJECT.search(finding.message)
        name = f"{finding.code} {subject.group(1)}" if subject and finding.code != "CLN900" else finding.code
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return names


def render_junit(results: Sequence[FileResult]) -> str:
    """One test suite for the run; one failing test case per finding, and a passing one per clean
    file that had code to check (a Markdown file without a Python block is no test)."""
    import xml.etree.ElementTree as ElementTree  # deferred: only JUnit output needs an XML writer

    summary = Summary.of(results)
    counts = {
        "tests": str(summary.findings + summary.errors + _clean_files(results)),
        "failures": str(summary.findings),
        "errors": str(summary.errors),
    }
    suites = ElementTree.Element("testsuites", name="clip-lint", **counts)
    suite = ElementTree.SubElement(suites, "testsuite", name="clip-lint", skipped="0", **counts)
    for result in results:
        classname = junit_classname(result.path)
        for error in result.errors:
            case = ElementTree.SubElement(suite, "testcase", name="clip-lint", classname=classname, file=result.path)
            ElementTree.SubElement(case, "error", message=error).text = f"{result.path}: {error}"
        if _is_clean_test(result):
            ElementTree.SubElement(suite, "testcase", name="clip-lint", classname=classname, file=result.path)
        for finding, name in zip(result.findings, junit_test_names(result.findings)):
            where = position(result, finding)
            case = ElementTree.SubElement(
                suite, "testcase", name=name, classname=classname, file=result.path, line=str(finding.file_line)
            )
            failure = ElementTree.SubElement(case, "failure", message=finding.message, type=finding.code)
            failure.text = f"{where}: {finding.code} {finding.message}"
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def _is_clean_test(result: FileResult) -> bool:
    return result.has_code and not result.findings and not result.errors


def _clean_files(results: Sequence[FileResult]) -> int:
    return sum(1 for result in results if _is_clean_test(result))
