"""Composition roots: the only code that reads Hydra configs."""
