"""Print findings as text, JSON, SARIF 2.1.0, GitHub workflow commands or JUnit XML.

Every format shows 1-based columns, as flake8 and editors do. A notebook finding is at
``cell N:line M`` (N: the 1-based index in the notebook's cell list, M: the line in that
cell); formats that only know file lines (SARIF, GitHub) point at the line of the
notebook's JSON text that holds the code and name the cell in the message.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

from clip_lint import __version__
from clip_lint.runner import FileResult, Reported

FORMATS = ("text", "json", "sarif", "github", "junit")
JSON_SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/clip-lint/clip-lint"


@dataclass(frozen=True)
class Summary:
    """Counts for the one-line summary and the machine formats."""

    files_checked: int
    findings: int
    fixable: int
    unsafe_fixable: int
    fixed: int
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
            errors=sum(len(result.errors) for result in results),
            skipped_blocks=sum(result.skipped_blocks for result in results),
        )


def position(result: FileResult, finding: Reported) -> str:
    """``path:line:col`` or, in a notebook, ``path:cell N:line M:col`` (1-based column)."""
    if finding.cell is not None:
        return f"{result.path}:cell {finding.cell}:line {finding.line}:{finding.col + 1}"
    return f"{result.path}:{finding.line}:{finding.col + 1}"


def render(format_name: str, results: Sequence[FileResult], color: bool = False, fix_mode: bool = False) -> str:
    """The whole report in ``format_name``."""
    renderers: Dict[str, Callable[[Sequence[FileResult]], str]] = {
        "json": render_json,
        "sarif": render_sarif,
        "github": render_github,
        "junit": render_junit,
    }
    if format_name == "text":
        return render_text(results, color, fix_mode)
    return renderers[format_name](results)


# --- text -------------------------------------------------------------------------------------


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render_text(results: Sequence[FileResult], color: bool = False, fix_mode: bool = False) -> str:
    lines = []
    for result in results:
        for finding in result.findings:
            where = _paint(position(result, finding), "1", color)
            lines.append(f"{where}: {_paint(finding.code, '1;31', color)} {finding.message}")
        lines.extend(f"{result.path}: error: {error}" for error in result.errors)
    lines.append(summary_line(Summary.of(results), fix_mode))
    return "\n".join(lines) + "\n"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(summary: Summary, fix_mode: bool = False) -> str:
    """``Checked 3 files: 2 findings (1 fixable with --fix).``, or what --fix did."""
    checked = f"Checked {_plural(summary.files_checked, 'file')}"
    errors = f", {_plural(summary.errors, 'error')}" if summary.errors else ""
    if summary.skipped_blocks:
        errors += f", {_plural(summary.skipped_blocks, 'unparsable block')} skipped"
    if fix_mode and summary.fixed:
        remaining = f"{summary.findings} remaining{_fixable_note(summary, True)}"
        return f"{checked}: fixed {_plural(summary.fixed, 'finding')}, {remaining}{errors}."
    if not summary.findings:
        return f"{checked}: no findings{errors}."
    return f"{checked}: {_plural(summary.findings, 'finding')}{_fixable_note(summary, False)}{errors}."


def _fixable_note(summary: Summary, fix_mode: bool) -> str:
    notes = []
    if summary.fixable:
        notes.append(f"{summary.fixable} fixable" + ("" if fix_mode else " with --fix"))
    if summary.unsafe_fixable:
        notes.append(f"{summary.unsafe_fixable} more with --unsafe-fixes")
    if not notes:
        return " (0 fixable)" if summary.findings else ""
    return " (" + ", ".join(notes) + ")"


# --- json -------------------------------------------------------------------------------------


def finding_record(result: FileResult, finding: Reported) -> dict:
    """One finding in the JSON schema (documented in docs/cli.md)."""
    fix = None
    if finding.fix_title is not None:
        fix = {"title": finding.fix_title, "safe": bool(finding.fix_safe), "applicable": finding.fixable}
    return {
        "path": result.path,
        "kind": result.kind,
        "code": finding.code,
        "message": finding.message,
        "line": finding.line,
        "column": finding.col + 1,
        "cell": finding.cell,
        "fix": fix,
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
        summary = getattr(rule, "summary", code)
        descriptors.append(
            {
                "id": code,
                "name": getattr(rule, "name", code),
                "shortDescription": {"text": summary},
                "fullDescription": {"text": getattr(rule, "what_it_does", "") or summary},
                "help": {"text": summary, "markdown": render_rule_markdown(code)},
                "defaultConfiguration": {"level": "error"},
            }
        )
    return descriptors


def _uri(path: str) -> str:
    return path.replace(os.sep, "/")


def _sarif_result(result: FileResult, finding: Reported, rule_index: Dict[str, int]) -> dict:
    region: dict = {"startLine": max(finding.file_line, 1)}
    message = finding.message
    if finding.cell is None:
        region["startColumn"] = finding.col + 1
    else:
        message = f"cell {finding.cell}:line {finding.line}:{finding.col + 1}: {message}"
    record: dict = {
        "ruleId": finding.code,
        "level": "error",
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(result.path), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
    }
    if finding.code in rule_index:
        record["ruleIndex"] = rule_index[finding.code]
    if finding.cell is not None:
        record["properties"] = {"cell": finding.cell, "cellLine": finding.line, "cellColumn": finding.col + 1}
    return record


def _artifact(result: FileResult) -> dict:
    return {"uri": _uri(result.path), "uriBaseId": "%SRCROOT%"}


def _sarif_invocation(results: Sequence[FileResult]) -> dict:
    """Paths that could not be read or written, as the run's error notifications."""
    notifications = [
        {
            "level": "error",
            "message": {"text": error},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(result)}}],
        }
        for result in results
        for error in result.errors
    ]
    return {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}


def render_sarif(results: Sequence[FileResult]) -> str:
    rules = _rule_descriptors()
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    root = os.getcwd().replace(os.sep, "/").rstrip("/") + "/"
    run = {
        "tool": {
            "driver": {
                "name": "clip-lint",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + ("" if root.startswith("/") else "/") + root}},
        "columnKind": "unicodeCodePoints",
        "results": [_sarif_result(result, finding, rule_index) for result in results for finding in result.findings],
        "invocations": [_sarif_invocation(results)],
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
            else:
                message = f"cell {finding.cell}:line {finding.line}:{finding.col + 1}: {message}"
            properties.append(f"title={_escape_property('clip-lint ' + finding.code)}")
            lines.append(f"::error {','.join(properties)}::{_escape_data(finding.code + ' ' + message)}")
        for error in result.errors:
            lines.append(f"::error file={_escape_property(result.path)},title=clip-lint::{_escape_data(error)}")
    return "".join(line + "\n" for line in lines)


# --- junit ------------------------------------------------------------------------------------


def render_junit(results: Sequence[FileResult]) -> str:
    """One test suite per file, one failing test case per finding (a passing one if clean)."""
    summary = Summary.of(results)
    suites = ElementTree.Element(
        "testsuites", name="clip-lint", tests=str(summary.findings + summary.errors + _clean_files(results)),
        failures=str(summary.findings), errors=str(summary.errors),
    )  # fmt: skip
    for result in results:
        count = len(result.findings)
        suite = ElementTree.SubElement(
            suites, "testsuite", name=result.path, tests=str(max(count + len(result.errors), 1)), failures=str(count),
            errors=str(len(result.errors)),
        )  # fmt: skip
        for error in result.errors:
            case = ElementTree.SubElement(suite, "testcase", name="clip-lint", classname=result.path)
            ElementTree.SubElement(case, "error", message=error).text = f"{result.path}: {error}"
        if not result.findings and not result.errors:
            ElementTree.SubElement(suite, "testcase", name="clip-lint", classname=result.path)
        for finding in result.findings:
            where = position(result, finding)
            case = ElementTree.SubElement(suite, "testcase", name=f"{finding.code} at {where}", classname=result.path)
            failure = ElementTree.SubElement(case, "failure", message=finding.message, type=finding.code)
            failure.text = f"{where}: {finding.code} {finding.message}"
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def _clean_files(results: Sequence[FileResult]) -> int:
    return sum(1 for result in results if not result.findings and not result.errors)
