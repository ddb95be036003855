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
