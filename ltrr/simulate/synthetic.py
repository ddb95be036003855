"""Synthetic allocation environment with an exact ``μ(x, n)`` for pseudo-regret (BANDIT.md §6).

Each round draws a hidden query type, a binary lexical-match latent shared by the lexical arms (BM25 and
SPLADE), and the rank of the wanted item ``i*`` in every arm's list: present with probability ``h[type, arm]``
(lexical arms: scaled by ``lexical_miss_scale`` without a lexical match), at rank ``ceil(LogNormal(ln
median[type, arm], rank_sigma))``, ``inf`` when absent or beyond ``max_list_len``. A random arm puts ``i*``
at a uniform position of the catalogue, so it covers it with probability ``n / N``. The context is
``[1, MLP(±one-hot type + noise), query length, entity flag, history length, hour sin/cos]`` where the 2-layer
tanh MLP is random but fixed by the env seed (the random sign keeps the type out of reach of linear read-outs),
and length, entity and history are drawn from type-dependent laws; the hour is uninformative.

**Ground truth.** ``μ(x_t, n) = P(i* ∈ U(n) | x_t)`` is exact: the MLP is injective, so ``x`` determines the
raw signals and the type posterior ``P(type | x)`` is a closed form; given the type the latent is marginalised
and, given type and latent, the arms are independent. Hence ``μ(x_t, ·) = Σ_τ P(τ | x_t) M[phase_t, τ, ·]``
with a cached table ``M`` over all feasible allocations. It is the Bayes value of the context, not a
clairvoyant value given the true type (that one is :attr:`SyntheticAllocationEnv.mu_type` per type).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Protocol, Sequence

import numpy as np
from scipy.special import ndtr

from ltrr.bandit.allocation import AllocationSpace
from ltrr.bandit.base import Policy, depth_labels
from ltrr.types import Allocation
from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)

ARMS = ("bm25", "dense", "splade", "memory", "structured", "popularity", "random")
# type: (prior, P(lexical match), mean extra query words, P(entity), mean history length,
#        hit prob. of bm25 dense splade memory structured popularity, median rank of the same)
TYPES: dict[str, tuple] = {
    "navigational": (.20, .85, 2.0, .8, 15, (.95, .60, .85, .15, .20, .30), (2, 15, 4, 5, 20, 30)),
    "semantic": (.20, .30, 5.0, .2, 15, (.50, .85, .60, .10, .20, .10), (40, 8, 25, 10, 40, 60)),
    "rare_term": (.15, .75, 3.0, .3, 15, (.65, .30, .90, .05, .15, .02), (30, 60, 6, 20, 40, 80)),
    "personal": (.15, .50, 2.0, .4, 60, (.35, .35, .35, .80, .10, .20), (30, 30, 30, 3, 40, 40)),
    "attribute": (.15, .40, 4.0, .5, 15, (.30, .40, .30, .10, .85, .20), (50, 40, 50, 20, 10, 50)),
    "trending": (.15, .60, 1.5, .6, 15, (.40, .40, .35, .20, .15, .85), (20, 25, 25, 10, 30, 5)),
}
N_EXTRA = 6  # bias, query length, entity flag, history length, hour sin, hour cos


@dataclass(frozen=True)
class Outcome:
    """One round's feedback: ranks of ``i*`` per arm (``inf`` when absent), union hit, click, ``μ`` and ``μ*``."""

    ranks: np.ndarray
    hit: bool
    click: bool
    mu: float
    mu_star: float


class SyntheticAllocationEnv:
    """Hidden-type retrieval world over a fixed allocation space; tables and context map fixed by ``seed``.

    Parameters
    ----------
    arms : sequence of str
        Arm order: columns of :data:`TYPES` or ``random_arms``; other names need ``hit`` and ``median_rank``.
    budget, depths : int, sequence of int
        The allocation space ``B``, ``D`` (see :class:`~ltrr.bandit.allocation.AllocationSpace`).
    n_features : int
        Context size ``d``; the MLP emits ``d - 6`` features, at least ``mlp_hidden`` so that it is injective.
    catalogue_size, max_list_len : int
        ``N`` (a random arm covers ``i*`` within depth ``n`` with probability ``n / N``); ranks beyond
        ``max_list_len`` are ``inf``.
    rank_sigma, click_prob : float
        ``s`` of the log-normal ranks; ``c``, the probability that the noisy reranker puts ``i*`` in the top 10
        (a click) when it is in the union.
    type_noise, sign_flip : float, bool
        Noise std on the one-hot type signal; with ``sign_flip`` the one-hot gets a random sign, so the type
        lives in ``|signal|``, which no linear read-out recovers.
    mlp_hidden, mlp_scale : int, float
        Width and input-weight std of the fixed random tanh MLP (larger scale: more non-linear).
    lexical_arms, lexical_miss_scale : sequence of str, float
        Arms sharing the lexical-match latent; their hit probability is scaled by ``lexical_miss_scale``
        without a match (``hit`` is the probability given a match).
    random_arms : sequence of str
        Arms returning uniformly random catalogue items.
    hit, median_rank : mapping of type to per-arm sequence, optional
        Override the tables of :data:`TYPES` (random arms' entries are ignored).
    drift_at, drift_hit_scale : float, mapping of arm to float, optional
        After the fraction ``drift_at`` of the horizon, every type's hit probability of the arms in
        ``drift_hit_scale`` is multiplied by their factor (capped at 0.99).
    seed : int
        Env seed: MLP and feature scaling (the stream has its own seed, see :meth:`episode`).

    Attributes
    ----------
    space : AllocationSpace
    actions : numpy.ndarray, shape ``(A, K)``
        ``space.all()`` as a matrix; :attr:`index` maps an allocation tuple to its row.
    p_depth : numpy.ndarray, shape ``(2, n_types, 2, K, 1 + |D|)``
        ``P(rank_k <= d | phase, type, latent)`` over ``{0} ∪ D``.
    mu_type : numpy.ndarray, shape ``(2, n_types, A)``
        ``P(i* ∈ U(n) | phase, type)``, the latent marginalised (phase 1: after the drift).
    """

    def __init__(self, arms: Sequence[str] = ARMS, budget: int = 100, depths: Sequence[int] = (10, 25, 50, 100),
                 n_features: int = 32, catalogue_size: int = 50_000, max_list_len: int = 1000,
                 rank_sigma: float = 1.0, click_prob: float = 0.9, type_noise: float = 0.4, sign_flip: bool = True,
                 mlp_hidden: int = 16, mlp_scale: float = 2.0, lexical_arms: Sequence[str] = ("bm25", "splade"),
                 lexical_miss_scale: float = 0.3, random_arms: Sequence[str] = ("random",),
                 hit: Mapping[str, Sequence[float]] | None = None,
                 median_rank: Mapping[str, Sequence[float]] | None = None, drift_at: float | None = None,
                 drift_hit_scale: Mapping[str, float] | None = None, seed: int = 0) -> None:
        self.arms, self.seed = [str(a) for a in arms], seed
        self.types = list(TYPES)
        if n_features - N_EXTRA < mlp_hidden:
            raise ValueError(f"n_features={n_features} must be >= mlp_hidden + {N_EXTRA} = {mlp_hidden + N_EXTRA}")
        if not 0 <= click_prob <= 1 or not 0 <= lexical_miss_scale <= 1:
            raise ValueError("click_prob and lexical_miss_scale must be in [0, 1]")
        if drift_at is not None and not 0 < drift_at < 1:
            raise ValueError(f"drift_at must be in (0, 1), got {drift_at}")
        drift_hit_scale = {str(k): float(v) for k, v in (drift_hit_scale or {}).items()}
        if set(drift_hit_scale) - set(self.arms):
            raise ValueError(f"drift_hit_scale: unknown arms {sorted(set(drift_hit_scale) - set(self.arms))}")
        self.space = AllocationSpace(len(self.arms), budget, depths)
        self.n_features, self.n_catalogue, self.max_len = n_features, catalogue_size, max_list_len
        self.sigma, self.click_prob, self.noise, self.sign_flip = rank_sigma, click_prob, type_noise, sign_flip
        self.drift_at, self.drift_hit_scale = drift_at, drift_hit_scale
        cols = list(ARMS[:-1])
        self.is_random = np.array([a in set(random_arms) for a in self.arms])
        self.is_lexical = np.array([a in set(lexical_arms) for a in self.arms])

        def table(override, j):
            if override is not None:
                return np.array([[float(v) for v in override[ty]] for ty in self.types])
            missing = [a for a, r in zip(self.arms, self.is_random) if not r and a not in cols]
            if missing:
                raise ValueError(f"no default table for arms {missing}: pass hit= and median_rank=")
            return np.array([[TYPES[ty][j][cols.index(a)] if a in cols else 1.0 for a in self.arms]
                             for ty in self.types])

        self.hit, self.median = table(hit, 5), table(median_rank, 6)
        rows = np.array([TYPES[ty][:5] for ty in self.types], dtype=float)
        self.prior, self.lex_prob, self.qlen_mean, self.entity_prob, self.hist_mean = rows.T
        self.prior = self.prior / self.prior.sum()
        # hit given (phase, type, latent, arm); phase 1 is after the drift
        h = np.stack([self.hit * np.where(self.is_lexical, lexical_miss_scale, 1.0), self.hit], axis=1)
        scale = np.array([drift_hit_scale.get(a, 1.0) for a in self.arms])
        self.h = np.stack([h, np.minimum(h * scale, 0.99)])
        rng = make_rng(seed, "synthetic-env")
        n_types, d_out = len(self.types), n_features - N_EXTRA
        self.w1 = rng.normal(0, mlp_scale, (mlp_hidden, n_types))
        self.b1 = rng.normal(0, 1.0, mlp_hidden)
        self.w2 = rng.normal(0, 1 / np.sqrt(mlp_hidden), (d_out, mlp_hidden))
        self.mlp_mean, self.mlp_std = 0.0, 1.0
        calib = self._mlp(self._signal(rng, rng, rng.choice(n_types, size=4096, p=self.prior)))
        self.mlp_mean, self.mlp_std = calib.mean(0), calib.std(0) + 1e-9  # fixed affine: the MLP stays injective
        self.actions = np.array(self.space.all())                                   # (A, K)
        self.index = {a: i for i, a in enumerate(self.space.all())}
        self.p_depth = self._depth_probs()                                           # (phase, type, latent, K, |opts|)
        opt = np.searchsorted(self.space.options, self.actions)                      # (A, K)
        p = self.p_depth[..., np.arange(len(self.arms)), opt]                        # (phase, type, latent, A, K)
        miss = np.prod(1 - p, axis=-1)                                               # (phase, type, latent, A)
        q = np.stack([1 - self.lex_prob, self.lex_prob], axis=1)                     # (type, latent)
        self.mu_type = np.einsum("tl,ptla->pta", q, 1 - miss)                        # (phase, type, A)
        log.debug("synthetic env: %d arms, %d allocations, d=%d", len(self.arms), len(self.actions), n_features)

    def _signal(self, g_sign: np.random.Generator, g_noise: np.random.Generator, types: np.ndarray) -> np.ndarray:
        sign = g_sign.choice([-1.0, 1.0], size=(len(types), 1)) if self.sign_flip else 1.0
        return sign * np.eye(len(self.types))[types] + g_noise.normal(0, self.noise, (len(types), len(self.types)))

    def _mlp(self, s: np.ndarray) -> np.ndarray:
        return (np.tanh(s @ self.w1.T + self.b1) @ self.w2.T - self.mlp_mean) / self.mlp_std

    def _depth_probs(self) -> np.ndarray:
        """``P(rank_k <= d | phase, type, latent)`` for every option ``d`` of ``{0} ∪ D``."""
        d = np.minimum(self.space.options.astype(float), self.max_len)
        with np.errstate(divide="ignore"):
            ln = np.log(d)
        present = ndtr((ln[None, None, :] - np.log(self.median)[:, :, None]) / self.sigma)   # (type, K, opts)
        p = self.h[..., None] * present[None, :, None]                                   # (phase, type, lat, K, opts)
        p[..., self.is_random, :] = d / self.n_catalogue
        return p

    def posterior(self, signal: np.ndarray, qlen: np.ndarray, entity: np.ndarray, hist: np.ndarray) -> np.ndarray:
        """Exact ``P(type | x)`` from the raw signals that ``x`` determines, shape ``(T, n_types)``."""
        p_geo = 1 / (1 + self.hist_mean)
        a = signal / self.noise ** 2  # Gaussian log-likelihood up to a type-free constant; with the ± sign: log cosh
        logp = (np.log(self.prior) + (np.logaddexp(a, -a) if self.sign_flip else a)
                + qlen[:, None] * np.log(self.qlen_mean) - self.qlen_mean
                + np.where(entity[:, None], np.log(self.entity_prob), np.log1p(-self.entity_prob))
                + hist[:, None] * np.log1p(-p_geo) + np.log(p_geo))
        logp -= logp.max(axis=1, keepdims=True)
        post = np.exp(logp)
        return post / post.sum(axis=1, keepdims=True)

    def episode(self, n_rounds: int, seed: int) -> "Episode":
        """Draw a stream of ``n_rounds`` rounds; same ``(env seed, seed)`` gives the same stream (CRN)."""
        def rng(part: str) -> np.random.Generator:
            return make_rng(seed, "synthetic-stream", self.seed, part)

        n_types, K = len(self.types), len(self.arms)
        types = rng("type").choice(n_types, size=n_rounds, p=self.prior)
        signal = self._signal(rng("sign"), rng("signal"), types)
        g = rng("features")
        qlen = g.poisson(self.qlen_mean[types])
        entity = g.random(n_rounds) < self.entity_prob[types]
        hist = g.geometric(1 / (1 + self.hist_mean[types])) - 1
        hour = g.integers(0, 24, n_rounds)
        ang = 2 * np.pi * hour / 24
        x = np.column_stack([np.ones(n_rounds), self._mlp(signal), (qlen + 1) / 5, entity, np.log1p(hist) / 4,
                             np.sin(ang), np.cos(ang)])
        lexical = rng("lexical").random(n_rounds) < self.lex_prob[types]
        phase = np.zeros(n_rounds, dtype=int)
        if self.drift_at is not None:
            phase[int(round(self.drift_at * n_rounds)):] = 1
        g = rng("ranks")
        u, z = g.random((n_rounds, K)), g.normal(size=(n_rounds, K))
        pos = g.integers(1, self.n_catalogue + 1, (n_rounds, K)).astype(float)
        ranks = np.ceil(np.exp(np.log(self.median[types]) + self.sigma * z))
        ranks = np.where(self.is_random, pos, np.where(u < self.h[phase, types, lexical.astype(int)], ranks, np.inf))
        ranks[ranks > self.max_len] = np.inf
        click_u = rng("click").random(n_rounds)
        x.setflags(write=False)
        ranks.setflags(write=False)
        return Episode(self, x, types, lexical, phase, ranks, click_u, self.posterior(signal, qlen, entity, hist))


class HindsightMixin:
    """Oracle allocation and hindsight baselines of an episode with ``env`` (``actions``, ``index``, ``arms``,
    ``space``), ``oracle`` (values, argmax index), ``ranks`` ``(T, K)`` and ``mean_mu()``."""

    def oracle_allocation(self, t: int) -> Allocation:
        """The per-context optimal allocation of round ``t``."""
        return tuple(int(v) for v in self.env.actions[self.oracle[1][t]])

    def best_static(self) -> tuple[Allocation, float]:
        """Best fixed allocation in hindsight and its mean ``μ``."""
        m = self.mean_mu()
        i = int(m.argmax())
        return tuple(int(v) for v in self.env.actions[i]), float(m[i])

    def best_single_arm(self) -> tuple[str, Allocation, float]:
        """Arm whose solo allocation at the largest depth has the highest mean ``μ``."""
        m, K, top = self.mean_mu(), len(self.env.arms), self.env.space.depths[-1]
        solo = [tuple(top if j == k else 0 for j in range(K)) for k in range(K)]
        k = int(np.argmax([m[self.env.index[a]] for a in solo]))
        return self.env.arms[k], solo[k], float(m[self.env.index[solo[k]]])

    def hindsight_hit(self) -> np.ndarray:
        """Whether the wanted item is within the largest depth of some arm (the hindsight oracle's recall), ``(T,)``."""
        return np.any(self.ranks <= self.env.space.depths[-1], axis=1)


@dataclass
class Episode(HindsightMixin):
    """A drawn stream: contexts, hidden state, ranks of ``i*`` and click noise for every round."""

    env: SyntheticAllocationEnv
    contexts: np.ndarray      # (T, d), read-only
    types: np.ndarray         # (T,) hidden type index
    lexical: np.ndarray       # (T,) lexical-match latent
    phase: np.ndarray         # (T,) 0 before the drift, 1 after
    ranks: np.ndarray         # (T, K) rank of i* per arm, inf when absent
    click_u: np.ndarray       # (T,) uniform draw deciding the click given a hit
    type_posterior: np.ndarray  # (T, n_types) exact P(type | x_t)

    def __len__(self) -> int:
        return len(self.types)

    def mu(self, t: int) -> np.ndarray:
        """``μ(x_t, a)`` for every allocation of :attr:`SyntheticAllocationEnv.actions`, shape ``(A,)``."""
        return self.type_posterior[t] @ self.env.mu_type[self.phase[t]]

    def mu_of(self, t: int, allocation: Allocation) -> float:
        """``μ(x_t, n)`` of one allocation."""
        return float(self.type_posterior[t] @ self.env.mu_type[self.phase[t], :, self.env.index[tuple(allocation)]])

    def step(self, t: int, allocation: Allocation) -> Outcome:
        """Play ``allocation`` in round ``t``; ranks are the same whatever is played (common random numbers)."""
        n = np.asarray(allocation)
        hit = bool(np.any(self.ranks[t] <= n))
        return Outcome(self.ranks[t], hit, hit and bool(self.click_u[t] < self.env.click_prob),
                       self.mu_of(t, tuple(allocation)), float(self.oracle[0][t]))

    @cached_property
    def oracle(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-round ``max_n μ(x_t, n)`` and the index of the argmax allocation (chunked over rounds)."""
        vals, idx = np.empty(len(self)), np.empty(len(self), dtype=int)
        for s in range(0, len(self), 2048):
            sl = slice(s, s + 2048)
            for p in np.unique(self.phase[sl]):
                rows = np.flatnonzero(self.phase[sl] == p) + s
                m = self.type_posterior[rows] @ self.env.mu_type[p]
                idx[rows] = m.argmax(axis=1)
                vals[rows] = m[np.arange(len(rows)), idx[rows]]
        return vals, idx

    def mean_mu(self) -> np.ndarray:
        """Mean ``μ`` over the run of every allocation, shape ``(A,)`` (linear in the type posteriors)."""
        w = np.stack([self.type_posterior[self.phase == p].sum(0) for p in (0, 1)])
        return np.einsum("pj,pja->a", w, self.env.mu_type) / len(self)


@dataclass
class RunResult:
    """Per-round arrays of one policy run (see :func:`run_policy`)."""

    policy: str
    allocations: np.ndarray   # (T, K)
    mu: np.ndarray            # μ(x_t, n_t)
    mu_star: np.ndarray       # max_n μ(x_t, n)
    hit: np.ndarray
    click: np.ndarray
    propensity: np.ndarray
    select_s: np.ndarray      # decision latency, seconds
    update_s: np.ndarray      # update latency, seconds
    types: np.ndarray         # hidden type per round

    @property
    def regret(self) -> np.ndarray:
        """Cumulative pseudo-regret ``Σ_{s<=t} μ*_s − μ_s``."""
        return np.cumsum(self.mu_star - self.mu)


class AllocationEpisode(Protocol):
    """What :func:`run_policy` reads from a stream (:class:`Episode`, :class:`~ltrr.simulate.replay.ReplayEpisode`)."""

    contexts: np.ndarray
    types: np.ndarray

    def __len__(self) -> int: ...

    def step(self, t: int, allocation: Allocation) -> Outcome: ...

    @property
    def oracle(self) -> tuple[np.ndarray, np.ndarray]: ...


class AllocationEnv(Protocol):
    """What :func:`run_policy` reads from an environment (:class:`SyntheticAllocationEnv`,
    :class:`~ltrr.simulate.replay.RankedListEnv`)."""

    arms: list[str]
    space: AllocationSpace
    index: dict[Allocation, int]

    def episode(self, n_rounds: int, seed: int) -> AllocationEpisode: ...


def run_policy(env: AllocationEnv, policy: Policy, n_rounds: int | None = None, seed: int = 0,
               episode: AllocationEpisode | None = None, no_click_weight: float = 1.0, reset: bool = True) -> RunResult:
    """Run ``policy`` on ``env`` with common random numbers and semi-bandit depth labels.

    Parameters
    ----------
    env : AllocationEnv
        :class:`SyntheticAllocationEnv` or :class:`~ltrr.simulate.replay.RankedListEnv`.
    policy : Policy
        Same arm order, budget and depths as ``env``; reset with ``seed`` first when ``reset``.
    n_rounds, seed : int
        Horizon and stream seed (ignored for the stream when ``episode`` is given, which saves redrawing it).
    episode : AllocationEpisode, optional
        A stream from ``env.episode`` shared by several policies.
    no_click_weight : float
        Weight of no-click rounds, passed to :func:`~ltrr.bandit.base.depth_labels`.
    reset : bool

    Returns
    -------
    RunResult
    """
    if list(policy.arms) != env.arms or policy.space.budget != env.space.budget or \
            policy.space.depths != env.space.depths:
        raise ValueError(f"policy {policy.name!r} does not share the env's arms/budget/depths")
    if episode is None and n_rounds is None:
        raise ValueError("give n_rounds or episode")
    ep = episode if episode is not None else env.episode(int(n_rounds), seed)
    if reset:
        policy.reset(seed)
    T, K = len(ep), len(env.arms)
    allocs, mu = np.zeros((T, K), dtype=int), np.zeros(T)
    hit, click = np.zeros(T, dtype=bool), np.zeros(T, dtype=bool)
    prop, sel_s, upd_s = np.zeros(T), np.zeros(T), np.zeros(T)
    mu_star = ep.oracle[0]
    for t in range(T):
        x = ep.contexts[t]
        t0 = time.perf_counter()
        dec = policy.select(x)
        t1 = time.perf_counter()
        if dec.allocation not in env.index:
            raise ValueError(f"{policy.name} played an infeasible allocation {dec.allocation}")
        out = ep.step(t, dec.allocation)
        labels = depth_labels(policy.space, dec.allocation, out.ranks, out.click, no_click_weight)
        t2 = time.perf_counter()
        policy.update(x, dec, labels)
        upd_s[t] = time.perf_counter() - t2
        sel_s[t], allocs[t], mu[t], hit[t], click[t], prop[t] = t1 - t0, dec.allocation, out.mu, out.hit, \
            out.click, dec.propensity
    log.info("%s: T=%d mean mu %.4f (oracle %.4f), regret %.1f, recall %.4f", policy.name, T, mu.mean(),
             mu_star.mean(), float(np.sum(mu_star - mu)), hit.mean())
    return RunResult(policy.name, allocs, mu, mu_star, hit, click, prop, sel_s, upd_s, ep.types.copy())
