"""The flake8 plugin class, at its first address; it lives in ``clip_lint.frontends.flake8_plugin``."""

from clip_lint.frontends.flake8_plugin import Plugin

__all__ = ["Plugin"]
