"""The allocation action space and its exact oracle.

An allocation ``n = (n_1..n_K)`` gives each arm a depth from ``{0} ∪ D`` with ``Σ n_k ≤ B``. Given per-arm
hit probabilities ``p_k(d)`` (monotone in ``d``), the allocation maximising ``1 − Π_k (1 − p_k(n_k))``
minimises ``Σ_k log(1 − p_k(n_k))``: a multiple-choice knapsack solved exactly by dynamic programming over
budget units ``u = gcd(D)`` (see shared/reference/BANDIT.md §2).
"""

from __future__ import annotations

import itertools
from functools import reduce
from math import gcd
from typing import Sequence

import numpy as np

from ltrr.types import Allocation


class AllocationSpace:
    """Feasible allocations of ``budget`` over ``n_arms`` arms with depths from ``depths``.

    Parameters
    ----------
    n_arms : int
    budget : int
        Total candidates ``B``.
    depths : sequence of int
        Allowed positive depths ``D`` (each ``<= budget``).
    """

    def __init__(self, n_arms: int, budget: int, depths: Sequence[int]) -> None:
        depths = sorted(set(int(d) for d in depths))
        if n_arms < 1:
            raise ValueError("need at least one arm")
        if not depths or depths[0] <= 0 or depths[-1] > budget:
            raise ValueError(f"depths must be positive and <= budget={budget}, got {depths}")
        self.n_arms, self.budget, self.depths = n_arms, budget, depths
        self.options = np.array([0] + depths)
        self.unit = reduce(gcd, depths)
        self.n_units = budget // self.unit
        self._all: list[Allocation] | None = None

    def all(self) -> list[Allocation]:
        """Every feasible allocation (enumerated once, cached)."""
        if self._all is None:
            self._all = [a for a in itertools.product(self.options.tolist(), repeat=self.n_arms)
                         if sum(a) <= self.budget]
        return self._all

    def depth_index(self, depth: int) -> int:
        """Position of ``depth`` in :attr:`depths`."""
        return self.depths.index(depth)

    def solve(self, p: np.ndarray) -> np.ndarray:
        """Exact DP oracle for many probability tables at once.

        Parameters
        ----------
        p : numpy.ndarray, shape ``(m, n_arms, len(depths))``
            Hit probability of each arm at each depth, for ``m`` independent samples.

        Returns
        -------
        numpy.ndarray, shape ``(m, n_arms)``
            Best allocation per sample (ties go to the larger depth, so the budget is not left unused).
        """
        m = p.shape[0]
        p = np.maximum.accumulate(np.clip(p, 0.0, 1 - 1e-6), axis=2)
        cost = np.concatenate([np.zeros((m, self.n_arms, 1)), np.log1p(-p)], axis=2)  # (m, K, |D|+1)
        opt_units = self.options // self.unit
        U = self.n_units
        value = np.zeros((m, U + 1))
        choice = np.zeros((self.n_arms, m, U + 1), dtype=int)
        for k in range(self.n_arms):
            best = np.full((m, U + 1), np.inf)
            for j, w in enumerate(opt_units):
                cand = np.full((m, U + 1), np.inf)
                cand[:, w:] = value[:, : U + 1 - w] + cost[:, k, j: j + 1]
                better = cand <= best + 1e-12  # ties go to the larger depth: an indifferent model still fills the budget
                best = np.where(better, cand, best)
                choice[k] = np.where(better, j, choice[k])
            value = best
        alloc = np.zeros((m, self.n_arms), dtype=int)
        b = np.full(m, U)
        rows = np.arange(m)
        for k in reversed(range(self.n_arms)):
            j = choice[k, rows, b]
            alloc[:, k] = self.options[j]
            b = b - opt_units[j]
        return alloc

    def hit_probability(self, p: np.ndarray, alloc: Sequence[int]) -> float:
        """``1 − Π_k (1 − p_k(n_k))`` for one table ``p`` of shape ``(n_arms, len(depths))``."""
        miss = 1.0
        for k, n in enumerate(alloc):
            if n:
                miss *= 1 - float(np.clip(np.max(p[k, : self.depth_index(n) + 1]), 0, 1))
        return 1 - miss
