"""Non-learning policies: an even split of the budget, and a uniformly random feasible allocation."""

from __future__ import annotations

import numpy as np

from ltrr.bandit.base import Policy
from ltrr.types import Decision


class UniformPolicy(Policy):
    """Every arm gets ``B / K`` candidates, rounded down to the depth grid (deterministic, propensity 1)."""

    def __init__(self, *args, name: str = "uniform", **kwargs) -> None:
        super().__init__(*args, name=name, **kwargs)
        share = self.space.budget // len(self.arms)
        fit = [d for d in self.space.depths if d <= share]
        if not fit:
            raise ValueError(f"budget {self.space.budget} over {len(self.arms)} arms leaves {share} per arm, "
                             f"below the smallest depth {self.space.depths[0]}")
        self.allocation = (fit[-1],) * len(self.arms)

    def select(self, context: np.ndarray) -> Decision:
        return self._decision(self.allocation, 1.0)

    def pmf(self, context: np.ndarray) -> dict[tuple[int, ...], float]:
        """Full action distribution (a point mass)."""
        return {self.allocation: 1.0}


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
