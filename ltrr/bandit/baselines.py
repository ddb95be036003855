"""Non-learning policies: an even split of the budget, and a uniformly random feasible allocation."""

from __future__ import annotations

import itertools

import numpy as np

from ltrr.bandit.base import Policy
from ltrr.types import Decision


class UniformPolicy(Policy):
    """Every arm gets ``B / K`` candidates, rounded down to the depth grid (deterministic, propensity 1).

    When ``B / K`` is below the smallest depth ``d_min``, each round a uniformly random set of ``B // d_min`` arms
    gets ``d_min`` each (the even split in expectation; propensity ``1 / C(K, B // d_min)``).
    """

    def __init__(self, *args, name: str = "uniform", **kwargs) -> None:
        super().__init__(*args, name=name, **kwargs)
        K, d_min = len(self.arms), self.space.depths[0]
        share = self.space.budget // K
        fit = [d for d in self.space.depths if d <= share]
        if fit:
            self.allocations = [(fit[-1],) * K]
        else:
            m = self.space.budget // d_min
            self.allocations = [tuple(d_min if k in chosen else 0 for k in range(K))
                                for chosen in itertools.combinations(range(K), m)]

    def select(self, context: np.ndarray) -> Decision:
        i = int(self.rng.integers(len(self.allocations))) if len(self.allocations) > 1 else 0
        return self._decision(self.allocations[i], 1.0 / len(self.allocations))

    def pmf(self, context: np.ndarray) -> dict[tuple[int, ...], float]:
        """Full action distribution."""
        return {a: 1.0 / len(self.allocations) for a in self.allocations}


class RandomPolicy(Policy):
    """A feasible allocation drawn uniformly at random (propensity ``1/|A|``); the natural logging policy."""

    def __init__(self, *args, name: str = "random", **kwargs) -> None:
        super().__init__(*args, name=name, **kwargs)

    def select(self, context: np.ndarray) -> Decision:
        acts = self.space.all()
        return self._decision(acts[self.rng.integers(len(acts))], 1.0 / len(acts))

    def pmf(self, context: np.ndarray) -> dict[tuple[int, ...], float]:
        """Full action distribution (uniform)."""
        acts = self.space.all()
        return {a: 1.0 / len(acts) for a in acts}
