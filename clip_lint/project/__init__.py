"""A checked file inside its project: the module graph, the check of one file, and the cache.

``modules``: find the project's root, resolve imports as Python would from it, read and
summarize the modules a file imports (``Project``). ``checking``: check one module, on its own
(``analyze_source``) or with its project (``analyze_file``). ``cache``: findings kept on disk
between runs, checked before the engine is even imported (``check_source``, which both front
ends call).
"""
