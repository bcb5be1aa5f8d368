"""The ``clip-lint`` command: check, fix and report Python files, notebooks and Markdown.

Exit codes: 0 clean, 1 findings (after ``--fix``: findings left), 2 usage or configuration
error. Analysis lives in ``clip_lint.engine``; this module only wires the parts together.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

from clip_lint import __version__
from clip_lint.config import ConfigError, load_config
from clip_lint.discovery import Discovery, iter_files
from clip_lint.engine.cache import NO_CACHE, CacheConfig
from clip_lint.options import Options
from clip_lint.reporting import FORMATS, Summary, render, summary_line
from clip_lint.runner import CHECK, DIFF, FIX, FileResult, Settings, check_bytes, check_path

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
STDIN = "-"


def _comma_list(value: str) -> Tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clip-lint",
        description="Find CLIP embeddings compared without L2 normalization, in Python files, "
        "Jupyter notebooks and Markdown code blocks.",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories to check (default: .); - reads stdin"
    )
    fixing = parser.add_argument_group("fixing")
    fixing.add_argument("--fix", action="store_true", help="apply fixes in place")
    fixing.add_argument("--diff", action="store_true", help="print the fixes as a unified diff and write nothing")
    fixing.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes marked unsafe")
    choosing = parser.add_argument_group("choosing rules and files")
    choosing.add_argument("--select", type=_comma_list, metavar="CODES", help="codes or prefixes (default: CLN)")
    choosing.add_argument("--ignore", type=_comma_list, metavar="CODES", help="codes or prefixes to leave out")
    choosing.add_argument("--exclude", type=_comma_list, metavar="PATTERNS", help="replace the default excludes")
    choosing.add_argument("--extend-exclude", type=_comma_list, metavar="PATTERNS", help="more patterns to skip")
    choosing.add_argument("--extra-encoders", type=_comma_list, metavar="NAMES", help="more encoder methods")
    choosing.add_argument("--extra-normalizers", type=_comma_list, metavar="NAMES", help="more normalizer names")
    choosing.add_argument("--config", metavar="FILE", help="pyproject.toml or setup.cfg to use (default: nearest)")
    output = parser.add_argument_group("output")
    output.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    output.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text format")
    output.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    running = parser.add_argument_group("running")
    running.add_argument("-j", "--jobs", type=_positive_int, metavar="N", help="worker processes (default: CPUs)")
    running.add_argument("--stdin-filename", metavar="NAME", help="the name (and kind) of the code read from stdin")
    _add_cache_arguments(parser)
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    parser.add_argument("--version", action="version", version=f"clip-lint {__version__}")
    return parser


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


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def merge_options(config: Options, args: argparse.Namespace) -> Options:
    """Command-line select/ignore/exclude replace the config's; encoders and normalizers add to it."""
    return replace(
        config,
        select=args.select if args.select is not None else config.select,
        ignore=args.ignore if args.ignore is not None else config.ignore,
        exclude=args.exclude if args.exclude is not None else config.exclude,
        extend_exclude=config.extend_exclude + (args.extend_exclude or ()),
        extra_encoders=config.extra_encoders + (args.extra_encoders or ()),
        extra_normalizers=config.extra_normalizers + (args.extra_normalizers or ()),
    )


def explain(code: str) -> int:
    """Print the documentation of rule ``code`` (the source of the README's rule sections)."""
    from clip_lint.rules import RULES, render_rule_markdown

    code = code.strip().upper()
    if code not in RULES:
        print(f"clip-lint: error: unknown rule {code!r}; known rules: {', '.join(sorted(RULES))}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render_rule_markdown(code).rstrip("\n") + "\n")
    return EXIT_CLEAN


def run_checks(files: Sequence[str], settings: Settings, jobs: int) -> List[FileResult]:
    """Check ``files`` in ``jobs`` worker processes (in this process when one is enough)."""
    if jobs <= 1 or len(files) < 2:
        return [check_path(path, settings) for path in files]
    if not settings.cache.enabled:  # with a cache, a warm run needs no engine at all
        import clip_lint.engine.entry  # noqa: F401  (imported once here, inherited by forked workers)

    workers = min(jobs, len(files))
    chunksize = max(1, len(files) // (workers * 4))
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(check_path, files, [settings] * len(files), chunksize=chunksize))
    except (OSError, NotImplementedError, BrokenProcessPool):
        # no usable process pool here (a sandbox without semaphores): check serially
        return [check_path(path, settings) for path in files]


def _mode(args: argparse.Namespace) -> str:
    return DIFF if args.diff else FIX if args.fix else CHECK


def _use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _exit_code(results: Sequence[FileResult], args: argparse.Namespace) -> int:
    failed = any(result.findings or result.write_error for result in results)
    return EXIT_FINDINGS if failed and not args.exit_zero else EXIT_CLEAN


def _check_stdin(args: argparse.Namespace, settings: Settings) -> int:
    name = args.stdin_filename or STDIN
    data = sys.stdin.buffer.read()
    result = check_bytes(name, data, settings, None if args.stdin_filename else "python")
    if settings.mode == FIX:
        if result.output is not None:
            sys.stdout.write(result.output)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)  # unchanged, byte for byte, even if it isn't UTF-8
        sys.stderr.write(render(args.format, [result], False, fix_mode=True))
    elif settings.mode == DIFF:
        sys.stdout.write(result.diff)
        sys.stderr.write(summary_line(Summary.of([result])) + "\n")
    else:
        sys.stdout.write(render(args.format, [result], _use_color(args.color)))
    return _exit_code([result], args)


def _report(results: Sequence[FileResult], args: argparse.Namespace, mode: str) -> None:
    if mode == DIFF:
        sys.stdout.write("".join(result.diff for result in results))
        sys.stderr.write(summary_line(Summary.of(results)) + "\n")
        return
    sys.stdout.write(render(args.format, results, _use_color(args.color), fix_mode=mode == FIX))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.explain:
        return explain(args.explain)
    try:
        loaded = load_config(args.config)
    except ConfigError as error:
        print(f"clip-lint: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    options = merge_options(loaded.options, args)
    settings = Settings(options.analysis, options.select, options.ignore, _mode(args), args.unsafe_fixes)
    settings = replace(settings, cache=cache_config(options, args, loaded.root))
    paths = args.paths or ["."]
    if STDIN in paths:
        if len(paths) > 1:
            print("clip-lint: error: '-' (stdin) can't be combined with other paths", file=sys.stderr)
            return EXIT_USAGE
        return _check_stdin(args, replace(settings, cache=NO_CACHE))
    discovery = Discovery(options.exclude, options.extend_exclude, loaded.root)
    files = iter_files(paths, discovery)
    results = run_checks(files, settings, args.jobs or os.cpu_count() or 1)
    _report(results, args, settings.mode)
    return _exit_code(results, args)


if __name__ == "__main__":
    sys.exit(main())
