"""Runtime checker: catch CLIP features compared without L2 normalization on real models."""
