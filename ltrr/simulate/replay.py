"""Replay environment over real ranked lists: per-query ranks of the relevant documents in every arm's list.

Each round replays one logged query, drawn uniformly with replacement from ``Q`` queries. The context is a fixed
vector per query (e.g. a reduced query embedding) and the outcome is read from the real per-arm ranks of the
query's relevant documents, so nothing is modelled: ``μ(q, n) = 1`` when some relevant document of ``q`` has
``rank_k <= n_k`` in some arm ``k``, else 0. ``μ`` is exact and deterministic, hence the pseudo-regret equals the
realised regret against the per-query oracle ``max_n μ(q, n)`` (a clairvoyant that knows the ranks).

A hit in the union only depends on ``min_r rank_{r,k}`` per arm, so ``(Q, R, K)`` ranks reduce to ``(Q, K)``;
the policy's labels come from :func:`~ltrr.bandit.base.depth_labels` on those best ranks, exactly like the
synthetic environment (with ``click_prob < 1`` a hit is clicked with that probability; ``μ`` stays the hit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from ltrr.bandit.allocation import AllocationSpace
from ltrr.simulate.synthetic import HindsightMixin, Outcome
from ltrr.types import Allocation
from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)


def union_hits(ranks: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Which relevant documents each allocation retrieves.

    Parameters
    ----------
    ranks : numpy.ndarray, shape ``(Q, R, K)``
        1-based rank of relevant document ``r`` in arm ``k``'s list (``inf`` when absent or padding).
    actions : numpy.ndarray, shape ``(A, K)``
        Allocations (depth per arm).

    Returns
    -------
    numpy.ndarray of bool, shape ``(Q, A, R)``
        ``[q, a, r]``: document ``r`` of query ``q`` is within depth ``actions[a, k]`` of some arm ``k``.
    """
    return np.any(ranks[:, None, :, :] <= actions[None, :, None, :], axis=-1)


class RankedListEnv:
    """Replay of real ranked lists over a fixed allocation space (usable by
    :func:`~ltrr.simulate.synthetic.run_policy`).

    Parameters
    ----------
    arms : sequence of str
        Arm names, the last axis of ``ranks``.
    budget, depths : int, sequence of int
        The allocation space ``B``, ``D`` (see :class:`~ltrr.bandit.allocation.AllocationSpace`).
    contexts : array-like, shape ``(Q, d)``
        One finite context per query.
    ranks : array-like, shape ``(Q, K)`` or ``(Q, R_max, K)``
        1-based rank of the best relevant document per arm, or of every relevant document (pad with ``inf``);
        ``inf`` when absent from the arm's list.
    query_types : sequence of str, length ``Q``, optional
        Labels for per-type reports (they are not shown to the policy).
    query_ids : sequence of str, length ``Q``, optional
    click_prob : float
        Probability that a hit is clicked (1: the label is the hit).
    seed : int
        Default stream seed of :meth:`episode`.

    Attributes
    ----------
    space : AllocationSpace
    actions : numpy.ndarray, shape ``(A, K)``
        ``space.all()`` as a matrix; :attr:`index` maps an allocation tuple to its row.
    best_ranks : numpy.ndarray, shape ``(Q, K)``
        ``min_r rank_{r,k}``.
    mu_table : numpy.ndarray of bool, shape ``(Q, A)``
        ``μ(q, n)`` for every query and allocation.
    types : list of str
        Distinct type labels; :attr:`query_type` holds each query's index into it.
    """

    def __init__(self, arms: Sequence[str], budget: int, depths: Sequence[int], contexts: np.ndarray,
                 ranks: np.ndarray, query_types: Sequence[str] | None = None,
                 query_ids: Sequence[str] | None = None, click_prob: float = 1.0, seed: int = 0) -> None:
        self.arms, self.seed, self.click_prob = [str(a) for a in arms], int(seed), float(click_prob)
        K = len(self.arms)
        x = np.array(contexts, dtype=float)
        r = np.array(ranks, dtype=float)
        if x.ndim != 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"contexts must be a finite (Q, d) array, got shape {x.shape}")
        Q = x.shape[0]
        if r.ndim == 2:
            r = r[:, None, :]
        if r.ndim != 3 or r.shape[0] != Q or r.shape[2] != K:
            raise ValueError(f"ranks must have shape (Q={Q}, K={K}) or (Q={Q}, R_max, K={K}), got {np.shape(ranks)}")
        if np.isnan(r).any() or (r < 1).any():
            raise ValueError("ranks must be 1-based (>= 1) or inf, without NaN")
        if not 0 <= self.click_prob <= 1:
            raise ValueError(f"click_prob must be in [0, 1], got {click_prob}")
        labels = ["all"] * Q if query_types is None else [str(t) for t in query_types]
        if len(labels) != Q:
            raise ValueError(f"query_types has {len(labels)} labels for Q={Q} queries")
        self.query_ids = [str(q) for q in query_ids] if query_ids is not None else [str(i) for i in range(Q)]
        if len(self.query_ids) != Q:
            raise ValueError(f"query_ids has {len(self.query_ids)} ids for Q={Q} queries")
        self.types = sorted(set(labels))
        self.query_type = np.array([self.types.index(t) for t in labels], dtype=int)
        self.space = AllocationSpace(K, budget, depths)
        self.actions = np.array(self.space.all())                                     # (A, K)
        self.index = {a: i for i, a in enumerate(self.space.all())}
        self.contexts, self.ranks = x, r
        self.best_ranks = r.min(axis=1)                                               # (Q, K)
        self.mu_table = np.any(self.best_ranks[:, None, :] <= self.actions[None, :, :], axis=-1)  # (Q, A)
        for a in (self.contexts, self.ranks, self.best_ranks, self.mu_table):
            a.setflags(write=False)
        # per-query oracle; among tied allocations the one with the highest mean μ (a stable, sensible choice)
        pop = self.mu_table.mean(axis=0)
        self.oracle_index = np.argmax(self.mu_table + 1e-3 * pop, axis=1)
        log.debug("replay env: %d queries, %d arms, %d allocations, d=%d", Q, K, len(self.actions), x.shape[1])

    @property
    def n_queries(self) -> int:
        """``Q``."""
        return self.contexts.shape[0]

    @property
    def n_features(self) -> int:
        """Context size ``d``."""
        return self.contexts.shape[1]

    def recall(self, allocation: Allocation) -> float:
        """Mean ``μ`` of one allocation over all queries (every query once)."""
        return float(self.mu_table[:, self.index[tuple(allocation)]].mean())

    def oracle_recall(self) -> float:
        """Mean per-query oracle over all queries (1 where any allocation finds a relevant document)."""
        return float(self.mu_table.any(axis=1).mean())

    def best_static(self) -> tuple[Allocation, float]:
        """Best fixed allocation over all queries and its recall."""
        m = self.mu_table.mean(axis=0)
        i = int(m.argmax())
        return tuple(int(v) for v in self.actions[i]), float(m[i])

    def episode(self, n_rounds: int, seed: int | None = None) -> "ReplayEpisode":
        """Draw ``n_rounds`` query indices uniformly with replacement; the stream depends on ``seed`` only
        (the env's ``seed`` when None), so envs over the same queries share it (common random numbers)."""
        seed = self.seed if seed is None else int(seed)
        q = make_rng(seed, "replay-stream", "query").integers(0, self.n_queries, int(n_rounds))
        click_u = make_rng(seed, "replay-stream", "click").random(int(n_rounds))
        contexts, ranks = self.contexts[q], self.best_ranks[q]
        contexts.setflags(write=False)
        ranks.setflags(write=False)
        return ReplayEpisode(self, q, contexts, self.query_type[q], ranks, click_u)


@dataclass
class ReplayEpisode(HindsightMixin):
    """A drawn stream: query indices, their contexts, type labels, best ranks per arm and click noise."""

    env: RankedListEnv
    queries: np.ndarray       # (T,) query index
    contexts: np.ndarray      # (T, d), read-only
    types: np.ndarray         # (T,) type index into env.types
    ranks: np.ndarray         # (T, K) best rank of a relevant document per arm, inf when absent
    click_u: np.ndarray       # (T,) uniform draw deciding the click given a hit

    def __len__(self) -> int:
        return len(self.queries)

    def mu(self, t: int) -> np.ndarray:
        """``μ(q_t, a)`` for every allocation, shape ``(A,)``."""
        return self.env.mu_table[self.queries[t]].astype(float)

    def mu_of(self, t: int, allocation: Allocation) -> float:
        """``μ(q_t, n)`` of one allocation (0 or 1)."""
        return float(self.env.mu_table[self.queries[t], self.env.index[tuple(allocation)]])

    def step(self, t: int, allocation: Allocation) -> Outcome:
        """Play ``allocation`` in round ``t``: the hit is ``μ``; a hit is clicked when ``click_u < click_prob``."""
        mu = self.mu_of(t, allocation)
        hit = mu > 0
        return Outcome(self.ranks[t], hit, hit and bool(self.click_u[t] < self.env.click_prob), mu,
                       float(self.oracle[0][t]))

    @cached_property
    def oracle(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-round ``max_n μ(q_t, n)`` and the index of an argmax allocation."""
        idx = self.env.oracle_index[self.queries]
        return self.env.mu_table[self.queries, idx].astype(float), idx

    def mean_mu(self) -> np.ndarray:
        """Mean ``μ`` over the run of every allocation, shape ``(A,)``."""
        return self.env.mu_table[self.queries].mean(axis=0)


class TypeResampledEnv(RankedListEnv):
    """Real contexts joined to real ranked lists through the hidden query type, so that ``μ(x, n)`` is exact.

    Each round draws a query ``q`` (its context is shown) and, independently, a query ``q'`` of the same type
    (its per-arm ranks decide the hit). Given the context the outcome is then a draw from the type's pool, hence
    ``μ(x, n) = Σ_τ P(τ | x) M[τ, n]`` with ``M[τ, n]`` the share of type-``τ`` queries whose union under ``n``
    holds a relevant document, and ``P(τ | x)`` the type mix of the queries sharing the context ``x`` (a point
    mass unless two queries of different types have identical contexts). Unlike :class:`RankedListEnv`, whose
    per-query oracle knows each query's ranks, the oracle here is the Bayes-optimal allocation given the context,
    as in the synthetic environment; what a query's context says beyond its type is not rewarded.

    Parameters are those of :class:`RankedListEnv`; ``query_types`` is required.
    """

    def __init__(self, *args, query_types: Sequence[str] | None = None, **kwargs) -> None:
        if query_types is None:
            raise ValueError("TypeResampledEnv needs query_types: ranks are resampled within a query's type")
        super().__init__(*args, query_types=query_types, **kwargs)
        n_types, Q = len(self.types), self.n_queries
        self.hit_table = self.mu_table                                                    # (Q, A) bool, per query
        self.mu_type = np.stack([self.hit_table[self.query_type == k].mean(axis=0) for k in range(n_types)])
        _, group = np.unique(self.contexts, axis=0, return_inverse=True)
        group = group.ravel()
        counts = np.zeros((group.max() + 1, n_types))
        np.add.at(counts, (group, self.query_type), 1.0)
        self.type_posterior = (counts / counts.sum(axis=1, keepdims=True))[group]          # (Q, n_types)
        self.mu_table = self.type_posterior @ self.mu_type                                 # (Q, A) exact μ(x_q, n)
        self.members = [np.flatnonzero(self.query_type == k) for k in range(n_types)]
        for a in (self.hit_table, self.mu_type, self.type_posterior, self.mu_table):
            a.setflags(write=False)
        pop = self.mu_table.mean(axis=0)
        self.oracle_index = np.argmax(self.mu_table + 1e-9 * pop, axis=1)
        log.debug("type-resampled env: %d queries, %d types, %d distinct contexts", Q, n_types, counts.shape[0])

    def oracle_recall(self) -> float:
        """Mean Bayes-optimal ``max_n μ(x_q, n)`` over all queries."""
        return float(self.mu_table.max(axis=1).mean())

    def episode(self, n_rounds: int, seed: int | None = None) -> "ResampledEpisode":
        """Context queries as in :meth:`RankedListEnv.episode` (same seed, same stream), rank queries drawn
        uniformly within each round's type (a separate RNG stream)."""
        base = super().episode(n_rounds, seed)
        seed = self.seed if seed is None else int(seed)
        g = make_rng(seed, "replay-stream", "resample")
        u = g.random(len(base.queries))
        rank_q = np.empty(len(base.queries), dtype=int)
        for k, members in enumerate(self.members):
            rows = np.flatnonzero(self.query_type[base.queries] == k)
            rank_q[rows] = members[np.minimum((u[rows] * len(members)).astype(int), len(members) - 1)]
        ranks = self.best_ranks[rank_q]
        ranks.setflags(write=False)
        return ResampledEpisode(self, base.queries, base.contexts, base.types, ranks, base.click_u, rank_q)


@dataclass
class ResampledEpisode(ReplayEpisode):
    """A :class:`ReplayEpisode` whose ranks (and hits) come from ``rank_queries``; ``μ`` stays the exact value of
    the shown context."""

    rank_queries: np.ndarray | None = None  # (T,) query whose ranks are played

    def step(self, t: int, allocation: Allocation) -> Outcome:
        """The hit is read from the resampled ranks; ``μ`` is the context's exact hit probability."""
        hit = bool(np.any(self.ranks[t] <= np.asarray(allocation)))
        return Outcome(self.ranks[t], hit, hit and bool(self.click_u[t] < self.env.click_prob),
                       self.mu_of(t, allocation), float(self.oracle[0][t]))
