"""pytest plugin for the clip-lint runtime checker (placeholder while it is being built)."""
