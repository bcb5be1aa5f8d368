"""Run flake8, optionally with the clip-lint plugin unregistered (the "flake8 alone" baseline).

flake8 runs every installed plugin whatever ``--select`` says, so the baseline must remove
the plugin itself: ``python bench/flake8_runner.py --without-clip-lint [flake8 args]``.
"""

from __future__ import annotations

import sys

from flake8.plugins import finder

WITHOUT = "--without-clip-lint"


def main() -> int:
    if WITHOUT in sys.argv:
        sys.argv.remove(WITHOUT)
        find_plugins = finder.find_plugins

        def without_clip_lint(*args, **kwargs):  # type: ignore[no-untyped-def]
            return [p for p in find_plugins(*args, **kwargs) if p.package != "clip-lint"]

        finder.find_plugins = without_clip_lint  # type: ignore[assignment]
    from flake8.main.cli import main as flake8_main

    return flake8_main(sys.argv[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main())
