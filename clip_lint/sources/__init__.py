"""Sources: find the files to check, and turn each kind into Python text with a position map.

``discovery`` walks folders (with ``clip_lint.config.patterns`` for excludes and .gitignore);
``documents`` cuts a ``.py`` file, a notebook or a Markdown file into segments of Python,
with ``ipython`` (cells and doctest blocks as their runners see them) and ``jsonspans``
(where each notebook value lies); ``indentation`` and ``parse_guard`` look at a text's shape
before a parse; ``textedits`` splits lines and splices edits. Nothing here parses with libcst.
"""
