"""``python -m clip_lint.cli``: the ``clip-lint`` command, kept at its first address.

The command lives in ``clip_lint.frontends.cli``.
"""

import sys

from clip_lint.frontends.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
