"""Policy contract: ``select(context) -> Decision`` and ``update(context, decision, labels)``.

Every policy decides over the same :class:`~ltrr.bandit.allocation.AllocationSpace`, owns its generator,
and reports the propensity of what it played.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ltrr.bandit.allocation import AllocationSpace
from ltrr.types import Allocation, Decision
from ltrr.utils.seed import make_rng


@dataclass(frozen=True)
class DepthLabels:
    """Depth-censored semi-bandit feedback for one round.

    Attributes
    ----------
    y : numpy.ndarray, shape ``(n_arms, n_depths)``
        ``y[k, j] = 1`` when a clicked item sits within depth ``depths[j]`` of arm ``k``.
    mask : numpy.ndarray of bool, shape ``(n_arms, n_depths)``
        Observed cells: selected arms at depths up to their allocation.
    weight : float
        Weight of the round (``no_click_weight`` when nothing was clicked).
    """

    y: np.ndarray
    mask: np.ndarray
    weight: float


def depth_labels(space: AllocationSpace, allocation: Allocation, click_ranks: np.ndarray, clicked: bool,
                 no_click_weight: float = 1.0) -> DepthLabels:
    """Turn a click into labels ``y_{k,d} = 1[rank_k(clicked) <= d]`` for selected arms and ``d <= n_k``.

    Parameters
    ----------
    space : AllocationSpace
    allocation : tuple of int, length ``n_arms``
    click_ranks : numpy.ndarray, shape ``(n_arms,)``
        Best rank of any clicked item in each arm's list (``inf`` when absent).
    clicked : bool
        Whether anything was clicked; without a click every observed cell is labelled 0.
    no_click_weight : float
        Weight of a no-click round (abandonment is not proof of a miss).
    """
    depths = np.array(space.depths)
    alloc = np.asarray(allocation)[:, None]
    mask = depths[None, :] <= alloc
    y = (np.asarray(click_ranks, dtype=float)[:, None] <= depths[None, :]).astype(float) if clicked else \
        np.zeros(mask.shape)
    return DepthLabels(y=y * mask, mask=mask, weight=1.0 if clicked else no_click_weight)


class Policy(ABC):
    """Base class of allocation policies.

    Parameters
    ----------
    arms : sequence of str
        Arm names, fixing the order of allocations.
    budget : int
        Candidate budget ``B``.
    depths : sequence of int
        Depth grid ``D``.
    n_features : int
        Context size.
    seed : int
        Seed of the policy's own generator.
    name : str
        Name in logs and metrics.
    """

    def __init__(self, arms: Sequence[str], budget: int, depths: Sequence[int], n_features: int,
                 seed: int = 0, name: str = "policy") -> None:
        self.arms, self.n_features, self.name, self.seed = list(arms), n_features, name, seed
        self.space = AllocationSpace(len(self.arms), budget, depths)
        self.rng = make_rng(seed, "policy", name)

    @abstractmethod
    def select(self, context: np.ndarray) -> Decision:
        """Choose an allocation for a context of shape ``(n_features,)``."""

    def update(self, context: np.ndarray, decision: Decision, labels: DepthLabels) -> None:
        """Learn from one round's labels (no-op for fixed policies)."""

    def reset(self, seed: int) -> None:
        """Forget everything learned and reseed."""
        self.seed, self.rng = seed, make_rng(seed, "policy", self.name)

    def state_dict(self) -> dict[str, Any]:
        """Learned state (numpy arrays and scalars)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def _decision(self, allocation: Sequence[int], propensity: float, **info: Any) -> Decision:
        return Decision(tuple(int(n) for n in allocation), float(propensity), self.name, info)

    def _warmup(self, t: int, initial_pulls: int) -> Decision | None:
        """Round ``t`` (1-based) of the round-robin warm-up: one arm alone at the largest depth, for
        ``K · |D| · initial_pulls`` rounds; None once the warm-up is over."""
        if t > len(self.arms) * len(self.space.depths) * initial_pulls:
            return None
        alloc = [0] * len(self.arms)
        alloc[(t - 1) % len(self.arms)] = self.space.depths[-1]
        return self._decision(alloc, 1.0, warmup=True)

    def _explore(self, best: Sequence[int], eps_mix: float, **info: Any) -> Decision:
        """Play ``best``, or with probability ``eps_mix`` a uniformly random allocation, with the exact propensity."""
        acts = self.space.all()
        played, explored = tuple(int(v) for v in best), False
        if self.rng.random() < eps_mix:
            played, explored = acts[self.rng.integers(len(acts))], True
        prop = eps_mix / len(acts) + (1 - eps_mix) * float(played == tuple(int(v) for v in best))
        return self._decision(played, prop, explored=explored, **info)

    def _point_pmf(self, best: Sequence[int], eps_mix: float) -> dict[tuple[int, ...], float]:
        """Action distribution of :meth:`_explore` (sums to one)."""
        acts, best = self.space.all(), tuple(int(v) for v in best)
        return {a: eps_mix / len(acts) + (1 - eps_mix) * (a == best) for a in acts}


class PointEstimateMixin:
    """``select``/``pmf`` for policies that play the knapsack optimum of a point estimate (``sample_probs(x, 1)``)
    with an ``eps_mix`` uniform floor, after the round-robin warm-up (LinUCB, greedy)."""

    def select(self, context: np.ndarray) -> Decision:
        self.t += 1
        return self._warmup(self.t, self.initial_pulls) or \
            self._explore(self.space.solve(self.sample_probs(context, 1))[0], self.eps_mix)

    def pmf(self, context: np.ndarray, n_samples: int | None = None) -> dict[tuple[int, ...], float]:
        """Full action distribution after warm-up (sums to one)."""
        return self._point_pmf(self.space.solve(self.sample_probs(context, 1))[0], self.eps_mix)


class ThompsonMixin:
    """``select``/``pmf`` of Thompson-sampling policies over allocations (``sample_probs(x, m)`` draws posterior hit
    probabilities): play the knapsack optimum of one draw, or a uniformly random allocation with probability
    ``eps_mix``; the logged propensity is ``eps_mix/|A| + (1 − eps_mix) p̂_TS(a|x)`` with ``p̂_TS`` counted over
    ``n_samples + 1`` draws (the played one included, so it is never 0; BANDIT.md §3). ``Decision.info`` carries the
    per-arm marginals of the draws (over ``{0} ∪ D``), the policy seed, the round and the generator state before the
    draws, so the decision can be replayed from the policy's state at that round.
    """

    def snapshot_id(self) -> int:
        """Identifier of the posterior's representation (0 for linear models)."""
        return 0

    def select(self, context: np.ndarray) -> Decision:
        self.t += 1
        warm = self._warmup(self.t, self.initial_pulls)
        if warm is not None:
            return warm
        state = self.rng.bit_generator.state["state"]
        allocs = self.space.solve(self.sample_probs(context, self.n_samples + 1))
        played, explored = tuple(int(v) for v in allocs[0]), False
        acts = self.space.all()
        if self.rng.random() < self.eps_mix:
            played, explored = acts[self.rng.integers(len(acts))], True
        p_ts = float(np.mean(np.all(allocs == np.array(played), axis=1)))
        prop = self.eps_mix / len(acts) + (1 - self.eps_mix) * p_ts
        marg = (allocs[:, :, None] == self.space.options[None, None, :]).mean(0)  # (K, 1 + |D|)
        return self._decision(played, prop, explored=explored, p_ts=p_ts, marginals=marg.round(4).tolist(),
                              seed=self.seed, t=self.t, snapshot=self.snapshot_id(),
                              rng_state=[hex(state["state"]), hex(state["inc"])])

    def pmf(self, context: np.ndarray, n_samples: int | None = None) -> dict[tuple[int, ...], float]:
        """Monte-Carlo estimate of the full action distribution after warm-up (sums to one).

        ``π(a|x) = eps_mix / |A| + (1 − eps_mix) · (1/M) Σ_m 1[DP(β̃_m, x) = a]``.
        """
        acts = self.space.all()
        m = int(n_samples or self.n_samples)
        allocs = self.space.solve(self.sample_probs(context, m))
        keys, counts = np.unique(allocs, axis=0, return_counts=True)
        ts = {tuple(int(v) for v in k): c / m for k, c in zip(keys, counts)}
        return {a: self.eps_mix / len(acts) + (1 - self.eps_mix) * ts.get(a, 0.0) for a in acts}
