"""Explicit random number generators: every component owns one, nothing touches global RNG."""

from __future__ import annotations

import hashlib

import numpy as np


def make_rng(seed: int, *salt: str | int) -> np.random.Generator:
    """Build an independent ``numpy`` generator from a seed and optional salt.

    Parameters
    ----------
    seed : int
        Base seed.
    *salt : str or int
        Extra values (e.g. a component name) so that components seeded alike still draw independent streams.

    Returns
    -------
    numpy.random.Generator
    """
    if not salt:
        return np.random.default_rng(seed)
    digest = hashlib.sha256("|".join(map(str, (seed, *salt))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
