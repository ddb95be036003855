"""Linear Thompson sampling over allocations (NIG posterior per arm x depth, exact DP oracle).

For every arm ``k`` and depth ``d`` a Bayesian linear model predicts ``p_{k,d}(x) = P(rank_k(i*) <= d | x)``
from the context. Each round draws one coefficient set per block, solves the knapsack
``argmax_n 1 − Π_k (1 − p̃_k(n_k))`` exactly, and plays it; with probability ``eps_mix`` a uniformly random
allocation is played instead, so every action keeps a propensity floor for off-policy evaluation.
Propensities are Monte-Carlo estimates over ``n_samples`` extra posterior draws (BANDIT.md §3).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ltrr.bandit.base import DepthLabels, PointEstimateMixin, Policy, ThompsonMixin
from ltrr.bandit.posterior import NIGPosterior
from ltrr.types import Decision


class LinTSPolicy(ThompsonMixin, Policy):
    """Combinatorial linear Thompson sampling with semi-bandit depth labels.

    Parameters
    ----------
    *args
        See :class:`~ltrr.bandit.base.Policy`.
    lam, a0, b0 : float
        NIG prior. Riquelme et al. (2018) use 0.25, 6, 6; the defaults 1, 6, 1 put the prior noise variance
        (b0 / (a0 - 1) = 0.2) on the scale of 0/1 hit labels.
    n_samples : int
        Extra posterior draws used to estimate the propensity of the played allocation.
    eps_mix : float
        Probability of playing a uniformly random allocation.
    initial_pulls : int
        Round-robin warm-up: each arm alone at the largest depth, this many times per arm x depth.
    noise_posterior : bool
        True: the noise variance is drawn from its inverse-gamma posterior (Riquelme's LinFullPost); False: fixed
        at 1, ``β̃ ~ N(μ, Λ⁻¹)`` (obp's LinTS).
    name : str
    """

    def __init__(self, *args, lam: float = 1.0, a0: float = 6.0, b0: float = 1.0, n_samples: int = 100,
                 eps_mix: float = 0.02, initial_pulls: int = 1, noise_posterior: bool = True, name: str = "lints",
                 **kwargs) -> None:
        super().__init__(*args, name=name, **kwargs)
        self.noise_posterior = bool(noise_posterior)
        if not 0 <= eps_mix <= 1:
            raise ValueError(f"eps_mix must be in [0, 1], got {eps_mix}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.hyper = dict(lam=lam, a0=a0, b0=b0)
        self.n_samples, self.eps_mix, self.initial_pulls = n_samples, eps_mix, initial_pulls
        self.n_depths = len(self.space.depths)
        self.reset(self.seed)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.post = NIGPosterior(len(self.arms) * self.n_depths, self.n_features, **self.hyper)
        self.t = 0

    def sample_probs(self, context: np.ndarray, m: int) -> np.ndarray:
        """Sampled hit probabilities, shape ``(m, n_arms, n_depths)``."""
        beta = self.post.sample(m, self.rng, None if self.noise_posterior else 1.0)
        return (beta @ np.asarray(context, dtype=float)).reshape(m, len(self.arms), self.n_depths)

    def mean_probs(self, context: np.ndarray) -> np.ndarray:
        """Posterior-mean hit probabilities, shape ``(n_arms, n_depths)`` (for calibration plots)."""
        return (self.post.mu @ np.asarray(context, dtype=float)).reshape(len(self.arms), self.n_depths)

    def update(self, context: np.ndarray, decision: Decision, labels: DepthLabels) -> None:
        cells = np.flatnonzero(labels.mask.ravel())
        if len(cells) == 0:
            return
        z = np.broadcast_to(np.asarray(context, dtype=float), (len(cells), self.n_features))
        self.post.update(cells, z, labels.y.ravel()[cells], labels.weight)

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, **self.post.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = int(state["t"])
        self.post.load_state_dict(state)


class LinUCBPolicy(PointEstimateMixin, LinTSPolicy):
    """LinUCB per (arm, depth) on the raw context with the same knapsack oracle: each cell scores
    ``μᵀx + alpha · sqrt(xᵀ Λ⁻¹ x)``; the optimum is played, or a uniformly random allocation with probability
    ``eps_mix`` (the propensity floor).

    Parameters
    ----------
    *args, **kwargs
        See :class:`LinTSPolicy` (``a0``, ``b0`` and ``n_samples`` are unused).
    alpha : float
        Width of the confidence bonus (BANDIT.md grid: 0.1, 0.5, 1, 2).
    """

    def __init__(self, *args, alpha: float = 1.0, name: str = "linucb", **kwargs) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)
        super().__init__(*args, name=name, **kwargs)

    def ucb(self, context: np.ndarray) -> np.ndarray:
        """Optimistic hit probabilities, shape ``(n_arms, n_depths)``."""
        x = np.asarray(context, dtype=float)
        blocks = np.arange(self.post.n_blocks)
        phi = np.broadcast_to(x, (len(blocks), len(x)))
        score = self.post.mu @ x + self.alpha * np.sqrt(self.post.variance(phi, blocks))
        return score.reshape(len(self.arms), self.n_depths)

    def sample_probs(self, context: np.ndarray, m: int) -> np.ndarray:
        return np.broadcast_to(self.ucb(context), (m, len(self.arms), self.n_depths))

