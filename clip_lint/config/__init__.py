"""Configuration: where settings come from, which findings a user sees, and path patterns.

``files``: find and read the command's configuration per file, as ruff does.
``selection``: ``--select`` / ``--ignore`` prefixes and ``# noqa`` comments.
``patterns``: gitignore-style patterns for excludes, ``.gitignore`` and per-file ignores.
The option model itself is ``clip_lint.options``.
"""
