"""The front ends: thin layers that read options, run checks and print. No analysis lives here.

``cli``: the ``clip-lint`` command; ``flake8_plugin``: the flake8 plugin class. Both check a
file through ``clip_lint.project.cache.check_source``. ``runner`` is the command's per-file
pipeline (read, check, map back, fix in rounds), ``workers`` runs it in processes, and
``reporting`` / ``progress`` print. ``add_noqa`` is ``--add-noqa``; ``docs`` regenerates the
README's generated sections.
"""
