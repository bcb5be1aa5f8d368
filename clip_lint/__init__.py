"""clip-lint: find CLIP embeddings compared without L2 normalization."""

__version__ = "0.1.0"
