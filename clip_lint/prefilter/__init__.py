"""Everything that skips work before the engine, and never changes a finding by doing so.

``gate``: the text tests before any parse (an encoder word; an import that may hand features
over and code that may compare them). ``ast_filter``: the ``ast`` pre-filter, which proves that
no encoder output can reach a similarity op or a normalization. ``relevance``: which top-level
definitions of a module may matter. ``slicing``: blank out the ones that can't, before the libcst
parse. ``speedups``: the private switches that turn each of these off, for the tests that prove
the findings are the same either way. Nothing here imports libcst.
"""
