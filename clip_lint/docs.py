"""``python -m clip_lint.docs``: regenerate the rule pages and the README's rules section, at its first address.

The generator lives in ``clip_lint.frontends.docs``.
"""

from clip_lint.frontends.docs import main, with_rules

__all__ = ["main", "with_rules"]

if __name__ == "__main__":
    raise SystemExit(main())
