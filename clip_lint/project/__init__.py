"""A checked file inside its project: the module graph, the check of one file, and the cache.

``modules``: find the project's root, resolve imports as Python would from it, and read the
modules a file imports (``Project``). ``reading``: the one reader every byte and every existence
probe goes through, a snapshot per run that records what each computation read. ``queries``:
memoized answers that carry the record of what they read. ``checking``: check one module, on
its own (``analyze_source``) or with its project (``analyze_file``), at a fixed stack depth
(``depth``). ``cache``: findings kept on disk between runs with the record of every read, checked
before the engine is even imported (``check_source``, which both front ends call).
"""
