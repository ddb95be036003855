"""Context features: cheap query understanding, user and time signals, and per-arm result statistics."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from ltrr.types import ArmResult, Query
from ltrr.utils.text import tokens

TYPE_WORDS = frozenset({"podcast", "podcasts", "episode", "album", "albums", "discography", "playlist", "artist"})
NEW_WORDS = frozenset({"new", "latest", "fresh", "recent", "release", "releases"})
ARM_STATS = ("n", "top", "gap")
ALL_ARM_STATS = ("n", "top", "gap", "mean", "std", "latency")


class ContextFeaturizer:
    """Build the context vector a policy sees.

    Parameters
    ----------
    arms : sequence of str
        Arm order; each contributes :data:`ARM_STATS` from its :class:`ArmResult.features`.
    facet_words : iterable of str
        Words of the catalogue's facets (genres, moods, topics): a match signals a topical query.
    arm_stats : sequence of str
        Which :attr:`ArmResult.features` each arm contributes: any of ``n``, ``top``, ``gap``, ``mean``, ``std``,
        ``latency``. ``latency`` is wall time, so a policy that sees it is no longer reproducible from its seed.
    """

    QUERY_FEATURES = ("bias", "len1", "len2", "len3", "len4+", "chars", "digit", "type_word", "new_word",
                      "facet_word", "hour_sin", "hour_cos", "history")

    def __init__(self, arms: Sequence[str], facet_words: Iterable[str] = (), arm_stats: Sequence[str] = ARM_STATS) -> None:
        unknown = set(arm_stats) - set(ALL_ARM_STATS)
        if unknown:
            raise ValueError(f"arm_stats: unknown {sorted(unknown)}; choose from {ALL_ARM_STATS}")
        self.arm_stats = tuple(arm_stats)
        self.arms = list(arms)
        self.facet_words = frozenset(w for phrase in facet_words for w in tokens(phrase))

    @property
    def names(self) -> list[str]:
        """Feature names, aligned with :meth:`__call__`'s output."""
        return list(self.QUERY_FEATURES) + [f"{a}.{s}" for a in self.arms for s in self.arm_stats]

    @property
    def dim(self) -> int:
        """Length of the context vector."""
        return len(self.names)

    def __call__(self, query: Query, arm_results: Mapping[str, ArmResult]) -> np.ndarray:
        """Featurise one query.

        Parameters
        ----------
        query : Query
            ``metadata`` may hold ``hour`` (0-23) and ``history_len``.
        arm_results : mapping of arm name to ArmResult
            Results of every arm (missing arms contribute zeros).

        Returns
        -------
        numpy.ndarray, shape ``(dim,)``
        """
        toks = tokens(query.text)
        n = len(toks)
        hour = float(query.metadata.get("hour", 12)) * 2 * np.pi / 24
        hist = float(query.metadata.get("history_len", 0))
        q = [1.0, n == 1, n == 2, n == 3, n >= 4, min(len(query.text) / 30, 2.0),
             any(t.isdigit() for t in toks), bool(TYPE_WORDS & set(toks)), bool(NEW_WORDS & set(toks)),
             bool(self.facet_words & set(toks)), np.sin(hour), np.cos(hour), np.log1p(hist) / 5]
        arm = [float(arm_results[a].features.get(s, 0.0)) if a in arm_results else 0.0
               for a in self.arms for s in self.arm_stats]
        return np.asarray(q + arm, dtype=float)
