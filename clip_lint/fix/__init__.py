"""From what the engine reports to findings with fixes, and fixes applied to documents.

``finding_builder``: positions, messages and fix edits for the engine's pending findings, with
``names`` (the names a fix may bind) and ``linewrap`` (fixed lines kept within the line length).
``fixer``: apply the edits to a document (a file, a notebook, a Markdown file) and show a diff.
A fix touches only the file being checked.
"""
