"""The ``clip-lint`` command: check, fix and report Python files, notebooks and Markdown.

Exit codes: 0 clean, 1 findings (after ``--fix``: findings left), 2 usage or configuration
error. Analysis lives in ``clip_lint.engine``; this module only wires the parts together.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, TextIO, Tuple

from clip_lint import __version__
from clip_lint.config.files import ConfigError, ConfigResolver, LoadedConfig
from clip_lint.sources.discovery import Discovery, Found, find_files
from clip_lint.project.cache import NO_CACHE, STDIN as STDIN_CACHE, CacheConfig, CacheFolderError, check_cache_folders
from clip_lint.options import Options, split_list
from clip_lint.frontends.progress import Progress
from clip_lint.frontends.reporting import FORMATS, STATISTICS_FORMATS, Summary, View, plural, render, summary_line
from clip_lint.frontends.runner import CHECK, DIFF, FIX, FileResult, Settings, check_bytes, check_path
from clip_lint.config.selection import UnknownCodeError, check_codes, matches_glob

if TYPE_CHECKING:  # pragma: no cover
    from clip_lint.rules import Rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
STDIN = "-"
RULES_COMMAND = "rules"
CHECK_COMMAND = "check"  # ruff's spelling: `clip-lint check PATH` is `clip-lint PATH`
SERVER_COMMAND = "server"  # `clip-lint server`: the language server (a folder named "server" is ./server)

Worker = Callable[[str, Settings], FileResult]


class UsageError(Exception):
    """A command line that can't run; exit code 2."""


def _comma_list(value: str) -> List[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _jobs(value: str) -> int:
    if value == "auto":
        return os.cpu_count() or 1
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _list_option(group: argparse._ArgumentGroup, flag: str, metavar: str, help: str) -> None:
    """A comma-separated list (names and codes: commas or whitespace, as flake8 reads them);
    given twice, the lists add up."""
    kind = _comma_list if metavar == "PATTERNS" else lambda value: list(split_list(value))
    group.add_argument(flag, type=kind, action="extend", metavar=metavar, help=help)


class _Parser(argparse.ArgumentParser):
    """argparse, with the nearest known option or choice suggested for a mistyped one."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {self._with_suggestions(message)}\n")

    def _with_suggestions(self, message: str) -> str:
        import difflib

        unknown = re.match(r"unrecognized arguments: (.*)", message)
        if unknown:
            options = [flag for action in self._actions for flag in action.option_strings]
            words = []
            for word in unknown.group(1).split():
                flag = word.split("=", 1)[0]
                nearest = difflib.get_close_matches(flag, options, n=1, cutoff=0.6) if flag.startswith("-") else []
                words.append(f"{word} (did you mean '{nearest[0]}'?)" if nearest else word)
            return "unrecognized arguments: " + " ".join(words)
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            choices = re.findall(r"'([^']*)'", choice.group(2))
            nearest = difflib.get_close_matches(choice.group(1).lower(), choices, n=1, cutoff=0.5)
            return f"{message}; did you mean '{nearest[0]}'?" if nearest else message
        return message


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="clip-lint",
        description="Find CLIP embeddings compared without L2 normalization, in Python files, "
        "Jupyter notebooks and Markdown code blocks. 'clip-lint check [PATH...]' is the same as "
        "'clip-lint [PATH...]'; 'clip-lint rules' lists the rules.",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories to check (default: .); - reads stdin"
    )
    fixing = parser.add_argument_group("fixing")
    fixing.add_argument("--fix", action="store_true", help="apply fixes in place")
    fixing.add_argument("--diff", action="store_true", help="print the fixes as a unified diff and write nothing")
    fixing.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes marked unsafe")
    fixing.add_argument("--add-noqa", action="store_true", help="append '# noqa: CODE' to each finding's line")
    choosing = parser.add_argument_group("choosing rules and files")
    _list_option(choosing, "--select", "CODES", "codes or prefixes to report (default: every rule)")
    _list_option(choosing, "--extend-select", "CODES", "codes or prefixes to add to the selection")
    _list_option(choosing, "--ignore", "CODES", "codes or prefixes to leave out")
    _list_option(choosing, "--exclude", "PATTERNS", "replace the default excludes")
    _list_option(choosing, "--extend-exclude", "PATTERNS", "more patterns to skip")
    _list_option(choosing, "--extra-encoders", "NAMES", "more encoder methods")
    _list_option(choosing, "--extra-normalizers", "NAMES", "more normalizer names")
    choosing.add_argument("--config", metavar="FILE", help="the config file to use for every file (default: nearest)")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format", "--output-format", dest="format", choices=FORMATS, default="text",
        help="report format (default: text)",
    )  # fmt: skip
    output.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text format")
    output.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    output.add_argument("-q", "--quiet", action="count", default=0, help="no summary line; -qq: no output at all")
    output.add_argument("--statistics", action="store_true", help="the number of findings per code, not the findings")
    output.add_argument("--show-source", action="store_true", help="show each finding's line with a caret")
    output.add_argument("--output-file", metavar="FILE", help="write the report to FILE instead of stdout")
    output.add_argument(
        "-v", "--verbose", action="store_true",
        help="on stderr: each project root's config file, the cache's hits, the files slower than 1 s",
    )  # fmt: skip
    showing = parser.add_argument_group("showing what a run would do")
    showing.add_argument("--show-files", action="store_true", help="list the files a run would check, and check none")
    showing.add_argument(
        "--show-settings", metavar="FILE", help="print the settings that apply to FILE and where each came from"
    )
    running = parser.add_argument_group("running")
    running.add_argument("-j", "--jobs", type=_jobs, metavar="N", help="worker processes, or 'auto' (default: CPUs)")
    running.add_argument("--stdin-filename", metavar="NAME", help="read stdin; NAME is its name, kind and config")
    _add_cache_arguments(parser)
    parser.add_argument("--explain", metavar="RULE", help="print a rule's documentation (its code or name) and exit")
    parser.add_argument("--list-rules", action="store_true", help="list every rule (as 'clip-lint rules')")
    parser.add_argument("--version", action="version", version=f"clip-lint {__version__}")
    return parser


# --- rules ----------------------------------------------------------------------------------


def explain(wanted: str) -> int:
    """Print the documentation of a rule, named by its code or its name in any case."""
    from clip_lint.rules import render_rule_markdown

    rule = find_rule(wanted)
    if rule is None:
        print(f"clip-lint: error: unknown rule {wanted!r}; {_nearest_rules(wanted)}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render_rule_markdown(rule.code).rstrip("\n") + "\n")
    return EXIT_CLEAN


def _lookup_key(text: str) -> str:
    """A lookup, not a selection: any case, and ``_`` for ``-``, find the rule."""
    return text.strip().lower().replace("_", "-")


def find_rule(wanted: str) -> "Optional[Rule]":
    """The rule whose code or name is ``wanted`` (any case), or None."""
    from clip_lint.rules import RULES

    key = _lookup_key(wanted)
    return next((rule for rule in RULES.values() if key in (rule.code.lower(), rule.name)), None)


def _nearest_rules(wanted: str) -> str:
    import difflib

    from clip_lint.rules import RULES

    spellings = {spelling: rule for rule in RULES.values() for spelling in (rule.code.lower(), rule.name)}
    nearest = difflib.get_close_matches(_lookup_key(wanted), list(spellings), n=1, cutoff=0.6)
    known = ", ".join(f"{rule.code} ({rule.name})" for rule in RULES.values())
    if nearest:
        rule = spellings[nearest[0]]
        return f"did you mean {rule.code} ({rule.name})? Known rules: {known}"
    return f"known rules: {known}"


def list_rules(format_name: str) -> int:
    """Every code with its one-line summary; ``json`` gives the same as data."""
    import json

    from clip_lint.frontends.reporting import rule_url
    from clip_lint.rules import RULES

    rules = [RULES[code] for code in sorted(RULES)]
    if format_name == "json":
        records = [
            {"code": rule.code, "name": rule.name, "summary": rule.short_description, "fixable": bool(rule.fix_title),
             "default": rule.default, "page": rule.page, "url": rule_url(rule.code)}
            for rule in rules
        ]  # fmt: skip
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        return EXIT_CLEAN
    if format_name != "text":
        print(f"clip-lint: error: the rules list is text or json, not {format_name}", file=sys.stderr)
        return EXIT_USAGE
    width = max(len(rule.name) for rule in rules)
    for rule in rules:
        off = "" if rule.default else f" (off by default: --extend-select {rule.code})"
        sys.stdout.write(f"{rule.code}  {rule.name:<{width}}  {rule.short_description}{off}\n")
    return EXIT_CLEAN


def _rules_command(argv: Sequence[str]) -> int:
    parser = _Parser(prog="clip-lint rules", description="List every rule with its summary.")
    parser.add_argument("--format", "--output-format", dest="format", choices=("text", "json"), default="text")
    return list_rules(parser.parse_args(argv).format)


# --- options per file -----------------------------------------------------------------------


def merge_options(config: Options, args: argparse.Namespace) -> Options:
    """Command-line select/ignore/exclude replace the config's; the extend- and extra- lists add."""
    return replace(
        config,
        select=tuple(args.select) if args.select is not None else config.select,
        extend_select=config.extend_select + tuple(args.extend_select or ()),
        ignore=tuple(args.ignore) if args.ignore is not None else config.ignore,
        exclude=tuple(args.exclude) if args.exclude is not None else config.exclude,
        extend_exclude=config.extend_exclude + tuple(args.extend_exclude or ()),
        extra_encoders=config.extra_encoders + tuple(args.extra_encoders or ()),
        extra_normalizers=config.extra_normalizers + tuple(args.extra_normalizers or ()),
    )


def _add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    caching = parser.add_argument_group("cache")
    caching.add_argument("--no-cache", action="store_true", help="don't read or write the cache")
    caching.add_argument(
        "--cache-dir", metavar="DIR", help="the cache's folder (default: .clip_lint_cache at the project root)"
    )


def cache_config(options: Options, args: argparse.Namespace, config_root: str) -> CacheConfig:
    """--no-cache or ``cache = false`` turn it off; --cache-dir, then CLIP_LINT_CACHE_DIR, then
    ``cache-dir`` (relative to its config file) say where it lives."""
    if args.no_cache or not options.cache:
        return NO_CACHE
    configured = os.path.join(config_root, options.cache_dir) if options.cache_dir else None
    chosen = CacheConfig(directory=args.cache_dir).with_environment()
    return CacheConfig(chosen.enabled, chosen.directory or configured)


class FileSettings:
    """Each file's options: its config (``--config``, or the nearest one) with the flags on top."""

    def __init__(self, args: argparse.Namespace, mode: str) -> None:
        self._args = args
        self._mode = mode
        self._resolver = ConfigResolver(args.config)
        self._options: Dict[int, Options] = {}

    def config(self, path: str) -> Tuple[LoadedConfig, Options]:
        loaded = self._resolver.for_path(path)
        key = id(loaded)
        if key not in self._options:
            self._options[key] = merge_options(loaded.options, self._args)
        return loaded, self._options[key]

    def discovery(self, path: str) -> Discovery:
        loaded, options = self.config(path)
        return Discovery(options.exclude, options.extend_exclude, loaded.root)

    def excluded(self, path: str) -> bool:
        """Whether the user's excludes in the file's own config name it (nested configs)."""
        loaded, options = self.config(path)
        patterns = options.exclude + options.extend_exclude
        return any(matches_glob(pattern, path, loaded.root) for pattern in patterns)

    def settings(self, path: str) -> Settings:
        loaded, options = self.config(path)
        per_file = tuple(
            code
            for glob, codes in options.per_file_ignores
            if matches_glob(glob, path, loaded.root)
            for code in codes
        )
        return Settings(
            options.analysis,
            options.effective_select,
            options.ignore + per_file,
            self._mode,
            self._args.unsafe_fixes,
            cache_config(options, self._args, loaded.root),
            edits=self._args.format in ("json", "sarif") and not self._args.statistics,
        )


def _check_flag_codes(args: argparse.Namespace) -> None:
    for flag in ("select", "extend_select", "ignore"):
        check_codes(getattr(args, flag) or (), f"--{flag.replace('_', '-')}")


def collect_files(paths: Sequence[str], per_file: FileSettings) -> Found:
    """The files under ``paths``: each argument walked with its own config's excludes."""
    found = Found()
    files: Dict[str, None] = {}
    for path in paths:
        walk_config, _ = per_file.config(path)
        walked = find_files([path], per_file.discovery(path))
        for file in walked.files:
            # a config further down than the walked folder's excludes files of its own
            if per_file.config(file)[0] is walk_config or not per_file.excluded(file):
                files.setdefault(file, None)
        found.errors.extend(walked.errors)
        found.notes.extend(walked.notes)
        found.missing.extend(walked.missing)
    found.files = sorted(files)
    return found


def _walk_problems(found: Found) -> List[FileResult]:
    """Paths the walk could not read, as results that fail the run; skipped ones as notes."""
    for path, why in found.notes:
        print(f"clip-lint: note: {path}: {why}", file=sys.stderr)
    return [FileResult(path, errors=[why], checked=False) for path, why in found.errors]


# --- running --------------------------------------------------------------------------------


def run_checks(
    files: Sequence[str],
    settings: Sequence[Settings],
    jobs: int,
    worker: Worker = check_path,
    progress: Optional[Progress] = None,
) -> List[FileResult]:
    """Run ``worker`` on ``files`` in ``jobs`` worker processes; a file that crashes one is a CLN900."""
    from clip_lint.frontends.workers import run_checks as run_in_workers

    progress = progress or Progress(len(files), enabled=False)
    results = run_in_workers(files, settings, jobs, worker, on_result=progress.advance)
    progress.finish()
    return results


def _mode(args: argparse.Namespace) -> str:
    return DIFF if args.diff else FIX if args.fix else CHECK


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ


def _exit_code(results: Sequence[FileResult], args: argparse.Namespace) -> int:
    failed = any(result.findings or result.errors for result in results)
    return EXIT_FINDINGS if failed and not args.exit_zero else EXIT_CLEAN


def _view(args: argparse.Namespace, stream: TextIO, fix_mode: bool = False) -> View:
    return View(
        color=_use_color(args.color, stream) and not args.output_file,
        fix_mode=fix_mode,
        show_source=args.show_source,
        statistics=args.statistics,
        quiet=args.quiet,
    )


def _check_stdin(args: argparse.Namespace, per_file: FileSettings, report: TextIO) -> int:
    name = args.stdin_filename or STDIN
    data = sys.stdin.buffer.read()
    settings = replace(per_file.settings(name), cache=STDIN_CACHE)  # analysed as given, never cached
    if args.stdin_filename and per_file.excluded(name):
        return _pass_through(data, settings.mode)  # excluded by name, as a file on the command line would be
    result = check_bytes(name, data, settings, None if args.stdin_filename else "python")
    if settings.mode == FIX:
        if result.output is not None:
            sys.stdout.write(result.output)
        else:
            _pass_through(data, FIX)
        stream = report if args.output_file else sys.stderr
        stream.write(render(args.format, [result], _view(args, stream, fix_mode=True)))
    elif settings.mode == DIFF:
        report.write(result.diff if args.quiet < 2 else "")
        if not args.quiet:
            sys.stderr.write(summary_line(Summary.of([result])) + "\n")
    else:
        report.write(render(args.format, [result], _view(args, report)))
    return _exit_code([result], args)


def _pass_through(data: bytes, mode: str) -> int:
    if mode == FIX:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)  # unchanged, byte for byte, even if it isn't UTF-8
    return EXIT_CLEAN


def _report(results: Sequence[FileResult], args: argparse.Namespace, mode: str, report: TextIO) -> None:
    if mode == DIFF:
        report.write("".join(result.diff for result in results) if args.quiet < 2 else "")
        if not args.quiet:
            sys.stderr.write(summary_line(Summary.of(results)) + "\n")
        return
    report.write(render(args.format, results, _view(args, report, fix_mode=mode == FIX)))


def _report_added_noqa(results: Sequence[FileResult], args: argparse.Namespace, report: TextIO) -> int:
    for result in results:
        report.writelines(f"{result.path}: error: {error}\n" for error in result.errors)
    if not args.quiet:
        added = sum(result.fixed for result in results)
        files = sum(1 for result in results if result.fixed)
        report.write(f"Added {plural(added, 'noqa comment')} in {plural(files, 'file')}.\n")
    return EXIT_FINDINGS if any(result.errors for result in results) else EXIT_CLEAN


@contextlib.contextmanager
def _report_stream(path: Optional[str]) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise UsageError(f"cannot write --output-file {path}: {error.strerror or error}") from error
    with handle:
        yield handle


def _validate(args: argparse.Namespace) -> None:
    if args.statistics and args.format not in STATISTICS_FORMATS:
        raise UsageError(f"--statistics works with --format {' or '.join(STATISTICS_FORMATS)}, not {args.format}")
    if args.add_noqa and (args.fix or args.diff):
        raise UsageError("--add-noqa can't be combined with --fix or --diff")
    if args.stdin_filename and args.add_noqa:
        raise UsageError("--add-noqa edits files; it can't read stdin")
    if args.show_files and (args.fix or args.diff or args.add_noqa or args.show_settings is not None):
        raise UsageError("--show-files checks nothing: it can't be combined with --fix, --diff, --add-noqa "
                         "or --show-settings")  # fmt: skip
    _check_flag_codes(args)


def run(args: argparse.Namespace) -> int:
    _validate(args)
    mode = _mode(args)
    per_file = FileSettings(args, FIX if args.add_noqa else mode)  # --add-noqa writes as --fix does
    if args.show_settings is not None:
        return _show_settings(args.show_settings, per_file, args)
    paths = args.paths or ([STDIN] if args.stdin_filename else ["."])
    if STDIN in paths or args.stdin_filename:
        if paths != [STDIN]:
            raise UsageError("stdin ('-' or --stdin-filename) can't be combined with other paths")
        if args.show_files:
            raise UsageError("--show-files lists the files a run would walk; it can't read stdin")
        with _report_stream(args.output_file) as report:
            return _check_stdin(args, per_file, report)
    found = collect_files(paths, per_file)
    if found.missing:
        for path in found.missing:
            print(f"clip-lint: error: {path}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    files = found.files
    if args.show_files:
        from clip_lint.frontends.showing import show_files

        with _report_stream(args.output_file) as report:
            show_files(files, report)
        return EXIT_CLEAN
    settings = [per_file.settings(path) for path in files]
    check_cache_folders([(file_settings.cache, path) for file_settings, path in zip(settings, files)])
    if args.verbose:
        from clip_lint.frontends.showing import verbose_configs

        verbose_configs(files, [per_file.config(path)[0] for path in files], sys.stderr)
    progress = Progress.for_stderr(len(files), quiet=args.quiet, color=args.color)
    jobs = args.jobs or os.cpu_count() or 1
    worker = check_path
    if args.add_noqa:
        from clip_lint.frontends.add_noqa import add_noqa_path as worker
    checked = run_checks(files, settings, jobs, worker, progress)
    if args.verbose:
        from clip_lint.frontends.showing import verbose_results

        verbose_results(checked, settings, sys.stderr)
    results = _walk_problems(found) + checked
    with _report_stream(args.output_file) as report:
        if args.add_noqa:
            return _report_added_noqa(results, args, report)
        _report(results, args, mode, report)
    return _exit_code(results, args)


def _show_settings(path: str, per_file: FileSettings, args: argparse.Namespace) -> int:
    from clip_lint.frontends.showing import render_settings, settings_rows

    if not os.path.exists(path):
        raise UsageError(f"--show-settings {path}: no such file or directory")
    loaded, options = per_file.config(path)
    rows = settings_rows(path, loaded, options, args, per_file.settings(path))
    if args.format not in ("text", "json"):
        raise UsageError(f"--show-settings prints text or json, not {args.format}")
    with _report_stream(args.output_file) as report:
        report.write(render_settings(path, rows, args.format))
    return EXIT_CLEAN


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [RULES_COMMAND]:  # a folder named "rules" is checked as ./rules
        return _rules_command(argv[1:])
    if argv[:1] == [SERVER_COMMAND]:  # the language server (docs/editors.md), with this command's per-file settings
        from clip_lint.frontends.server import main as serve

        return serve(argv[1:], partial(FileSettings, build_parser().parse_args([]), CHECK))
    if argv[:1] == [CHECK_COMMAND]:  # and one named "check" as ./check
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    if args.list_rules:
        return list_rules(args.format)
    if args.explain:
        return explain(args.explain.strip())
    try:
        return run(args)
    except (ConfigError, UnknownCodeError, UsageError, CacheFolderError) as error:
        print(f"clip-lint: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
