"""Click models over graded relevance: position-based (PBM) and cascade (Craswell et al. 2008)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping, Sequence

import numpy as np

from ltrr.utils.seed import make_rng


class ClickModel(ABC):
    """Turns a ranking and the user's relevance judgments into clicks.

    Parameters
    ----------
    attractiveness : sequence of float
        Click probability once examined, indexed by relevance grade (grade 0 = noise clicks); grades above the
        last entry use the last entry.
    convert_prob : float
        Session conversion: when no relevant result was clicked, the probability that the user still finds and
        plays a wanted item elsewhere in the session (browsing, another query). Attributing that play to the
        search reveals the item the search missed or buried; ``0`` gives pure click feedback.
    seed : int
        Seed of the model's own generator.
    """

    def __init__(self, attractiveness: Sequence[float] = (0.02, 0.6, 0.95), convert_prob: float = 0.5,
                 seed: int = 0) -> None:
        if any(not 0 <= a <= 1 for a in attractiveness):
            raise ValueError(f"attractiveness values must be in [0, 1], got {list(attractiveness)}")
        if not 0 <= convert_prob <= 1:
            raise ValueError(f"convert_prob must be in [0, 1], got {convert_prob}")
        self.attract = np.asarray(attractiveness, dtype=float)
        self.convert_prob = convert_prob
        self.rng = make_rng(seed, type(self).__name__)

    def reset(self, seed: int) -> None:
        """Reseed (start of an independent run)."""
        self.rng = make_rng(seed, type(self).__name__)

    def _alpha(self, ranking: Sequence[str], relevance: Mapping[str, int]) -> np.ndarray:
        grades = np.array([min(int(relevance.get(d, 0)), len(self.attract) - 1) for d in ranking], dtype=int)
        return self.attract[grades] if len(ranking) else np.zeros(0)

    def session(self, ranking: Sequence[str], relevance: Mapping[str, int]) -> tuple[list[str], list[str]]:
        """Clicks on ``ranking``, then possibly a conversion.

        Returns
        -------
        clicked : list of str
        converted : list of str
            Empty, or one wanted item (highest grade) played later in the session without a relevant click.
        """
        clicked = self.click(ranking, relevance)
        if any(relevance.get(d, 0) > 0 for d in clicked) or not relevance or self.rng.random() >= self.convert_prob:
            return clicked, []
        best = max(relevance.values())
        wanted = sorted(d for d, g in relevance.items() if g == best)
        return clicked, [wanted[self.rng.integers(len(wanted))]]

    @abstractmethod
    def click(self, ranking: Sequence[str], relevance: Mapping[str, int]) -> list[str]:
        """Clicked document ids, in click order."""


class PositionBasedModel(ClickModel):
    """PBM: position ``r`` is examined with probability ``(1/r)^eta``; examined items are clicked with
    their attractiveness, independently.

    Parameters
    ----------
    eta : float
        Severity of position bias (1 as in Joachims et al. 2017).
    """

    def __init__(self, attractiveness: Sequence[float] = (0.02, 0.6, 0.95), eta: float = 1.0,
                 convert_prob: float = 0.5, seed: int = 0) -> None:
        super().__init__(attractiveness, convert_prob, seed)
        self.eta = eta

    def examination(self, n: int) -> np.ndarray:
        """Examination probabilities of positions ``1..n``, shape ``(n,)``."""
        return (1.0 / np.arange(1, n + 1)) ** self.eta

    def click(self, ranking: Sequence[str], relevance: Mapping[str, int]) -> list[str]:
        p = self.examination(len(ranking)) * self._alpha(ranking, relevance)
        hit = self.rng.random(len(ranking)) < p
        return [d for d, h in zip(ranking, hit) if h]


class CascadeModel(ClickModel):
    """Cascade: the user scans top-down, clicks an item with its attractiveness and stops at the first click."""

    def click(self, ranking: Sequence[str], relevance: Mapping[str, int]) -> list[str]:
        alpha = self._alpha(ranking, relevance)
        for d, a in zip(ranking, alpha):
            if self.rng.random() < a:
                return [d]
        return []
