"""Off-policy estimators of a target policy's value from logged bandit rounds: IPS, SNIPS and doubly robust.

Formulas as in zr-obp ``obp/ope/estimators.py`` (IPW, SNIPW, DR; shared/reference/BANDIT.md §3), with
``w_i = π_e(a_i|x_i) / π_0(a_i|x_i)``, optionally clipped to ``min(w_i, clip)``:

- IPS   = (1/n) Σ_i w_i r_i
- SNIPS = Σ_i w_i r_i / Σ_i w_i
- DR    = (1/n) Σ_i [Σ_a π_e(a|x_i) q̂(x_i, a) + w_i (r_i − q̂(x_i, a_i))], with ``q̂`` cross-fitted.

Actions are any hashable values (allocation tuples such as ``(10, 0, 50, 0, 40)``, or ints). The target policy is
given per round, either as dicts ``{action: prob}``, as a :class:`TargetPmf` (e.g. built from a dense array), as the
``(n,)`` array of ``π_e(a_i|x_i)`` (IPS/SNIPS only), or as a callable that maps the contexts to one of these.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Hashable, Mapping, Sequence, Union

import numpy as np

from ltrr.eval.reward_model import Featurizer, QFunction, default_reward_model, q_hat_pairs
from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)

Action = Hashable


def _hashable(a: Any) -> Action:
    """Lists and array rows become tuples (dict keys); NumPy scalars become Python scalars."""
    if isinstance(a, (list, np.ndarray)):
        return tuple(np.asarray(a).tolist())
    return a.item() if isinstance(a, np.generic) else a


@dataclass(frozen=True)
class BanditLogs:
    """Logged rounds ``(x_i, a_i, r_i, π_0(a_i|x_i))``, validated on construction.

    Parameters
    ----------
    contexts : numpy.ndarray, shape ``(n, d)``
    actions : sequence of hashable, length ``n``
        Logged actions; lists and array rows become tuples of int (a 2-D int array gives one allocation per row).
    rewards : numpy.ndarray, shape ``(n,)``
    propensities : numpy.ndarray, shape ``(n,)``
        Logging probability ``π_0(a_i|x_i)`` of the logged action, in ``(0, 1]``.
    """

    contexts: np.ndarray
    actions: Sequence[Action]
    rewards: np.ndarray
    propensities: np.ndarray

    def __post_init__(self) -> None:
        x = np.asarray(self.contexts, dtype=float)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"BanditLogs.contexts must be 2-D (n, d) with n >= 1, got shape {x.shape}")
        acts = self.actions.tolist() if isinstance(self.actions, np.ndarray) else list(self.actions)
        fields = {"actions": acts, "rewards": np.asarray(self.rewards, dtype=float).ravel(),
                  "propensities": np.asarray(self.propensities, dtype=float).ravel()}
        for name, v in fields.items():
            if len(v) != len(x):
                raise ValueError(f"BanditLogs.{name} has length {len(v)}, expected {len(x)} (rows of contexts)")
        r, p = fields["rewards"], fields["propensities"]
        for name, bad in (("contexts", ~np.isfinite(x).all(axis=1)), ("rewards", ~np.isfinite(r)),
                          ("propensities", ~((p > 0) & (p <= 1)))):
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                what = "in (0, 1]" if name == "propensities" else "finite"
                raise ValueError(f"BanditLogs.{name} must be {what}; row {i} is not "
                                 f"({int(bad.sum())} bad rows): {fields.get(name, x)[i]}")
        object.__setattr__(self, "contexts", x)
        object.__setattr__(self, "actions", tuple(_hashable(a) for a in acts))
        object.__setattr__(self, "rewards", r)
        object.__setattr__(self, "propensities", p)

    @property
    def n(self) -> int:
        """Number of rounds."""
        return len(self.rewards)


@dataclass(frozen=True)
class TargetPmf:
    """Target-policy pmfs ``π_e(·|x_i)`` for every round, as sparse (round, action, probability) triples.

    Build it with :meth:`from_dicts` or :meth:`from_dense`. Every round's probabilities must sum to 1.

    Parameters
    ----------
    rounds : numpy.ndarray of int, shape ``(m,)``
    action_ids : numpy.ndarray of int, shape ``(m,)``
        Index into ``actions``.
    probs : numpy.ndarray, shape ``(m,)``
    actions : tuple of hashable, length ``U``
        The distinct actions with mass somewhere.
    n_rounds : int
    """

    rounds: np.ndarray
    action_ids: np.ndarray
    probs: np.ndarray
    actions: tuple[Action, ...]
    n_rounds: int

    def __post_init__(self) -> None:
        bad = np.flatnonzero(~(np.isfinite(self.probs) & (self.probs >= 0)))
        if bad.size:
            raise ValueError(f"target pmf of round {self.rounds[bad[0]]} has probability {self.probs[bad[0]]}")
        total = np.bincount(self.rounds, weights=self.probs, minlength=self.n_rounds)
        bad = np.flatnonzero(np.abs(total - 1.0) > 1e-6)
        if bad.size:
            raise ValueError(f"target pmf of round {bad[0]} sums to {total[bad[0]]:.6g}, not 1 "
                             f"({bad.size} such rounds)")

    @classmethod
    def from_dicts(cls, pmfs: Sequence[Mapping[Action, float]]) -> "TargetPmf":
        """From one ``{action: probability}`` dict per round (zero entries are dropped)."""
        index: dict[Action, int] = {}
        ids: list[int] = []
        probs: list[float] = []
        for pmf in pmfs:  # the one per-entry Python loop; precompute a dense array and use from_dense when it is large
            ids.extend([index.setdefault(a, len(index)) for a in pmf])
            probs.extend(pmf.values())
        rounds = np.repeat(np.arange(len(pmfs)), [len(pmf) for pmf in pmfs])
        p = np.asarray(probs, dtype=float)
        keep = p != 0
        return cls(rounds[keep], np.asarray(ids, dtype=int)[keep], p[keep],
                   tuple(_hashable(a) for a in index), len(pmfs))

    @classmethod
    def from_dense(cls, probs: np.ndarray, actions: Sequence[Action]) -> "TargetPmf":
        """From a dense ``(n, A)`` probability array whose columns are ``actions`` (zero entries are dropped)."""
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 2 or probs.shape[1] != len(actions):
            raise ValueError(f"dense target probs must have shape (n, {len(actions)}), got {probs.shape}")
        rounds, ids = np.nonzero(probs != 0)
        return cls(rounds, ids, probs[rounds, ids], tuple(_hashable(a) for a in actions), probs.shape[0])

    def ids_of(self, actions: Sequence[Action]) -> np.ndarray:
        """Index of each action in :attr:`actions`, ``-1`` where absent; shape ``(len(actions),)``."""
        index = {a: j for j, a in enumerate(self.actions)}
        return np.fromiter((index.get(a, -1) for a in actions), dtype=int, count=len(actions))

    def prob_of(self, actions: Sequence[Action]) -> np.ndarray:
        """``π_e(a_i|x_i)`` for one action per round (vectorised lookup); shape ``(n_rounds,)``."""
        ids, u = self.ids_of(actions), len(self.actions)
        keys = self.rounds * u + self.action_ids
        order = np.argsort(keys, kind="stable")
        keys, probs = keys[order], self.probs[order]
        want = np.arange(self.n_rounds) * u + ids
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        return np.where((ids >= 0) & (keys[pos] == want), probs[pos], 0.0)


TargetLike = Union[TargetPmf, Sequence[Mapping[Action, float]], np.ndarray, Callable[[np.ndarray], Any]]


def as_target(target: TargetLike, logs: BanditLogs) -> TargetPmf | np.ndarray:
    """Normalise ``target`` to a :class:`TargetPmf`, or to the ``(n,)`` array of ``π_e(a_i|x_i)``."""
    if callable(target):
        target = target(logs.contexts)
    if isinstance(target, np.ndarray):
        if target.ndim != 1:
            raise ValueError("a 2-D target array needs its action set: pass TargetPmf.from_dense(probs, actions)")
        out = np.asarray(target, dtype=float)
        if len(out) != logs.n:
            raise ValueError(f"target probabilities cover {len(out)} rounds, logs have {logs.n}")
        bad = np.flatnonzero(~((out >= 0) & (out <= 1)))
        if bad.size:
            raise ValueError(f"target probability of round {bad[0]} is {out[bad[0]]}, not in [0, 1]")
        return out
    pmf = target if isinstance(target, TargetPmf) else TargetPmf.from_dicts(target)
    if pmf.n_rounds != logs.n:
        raise ValueError(f"target pmf covers {pmf.n_rounds} rounds, logs have {logs.n}")
    return pmf


@dataclass(frozen=True)
class Estimate:
    """One estimator's result.

    Parameters
    ----------
    estimator : str
    value : float
        Estimated policy value ``V̂(π_e)``.
    ci95 : tuple of float
        Percentile-bootstrap 95% interval over rounds (the reward model, if any, is held fixed).
    n : int
        Rounds used.
    ess : float
        Kish effective sample size ``(Σ w)² / Σ w²`` of the (clipped) weights.
    max_weight : float
        Largest (clipped) importance weight.
    n_clipped : int
        Rounds whose weight was clipped.
    """

    estimator: str
    value: float
    ci95: tuple[float, float]
    n: int
    ess: float
    max_weight: float
    n_clipped: int


@dataclass
class OffPolicyEstimator(ABC):
    """Shared parts: importance weights, clipping and the bootstrap interval. Subclasses implement ``_terms``.

    Parameters
    ----------
    clip : float or None
        Cap on importance weights (``w ← min(w, clip)``); ``None`` means no clipping.
    n_bootstrap : int
        Bootstrap resamples for the 95% interval.
    seed : int
        Seeds this estimator's own generators (``make_rng(seed, "ope", name, ...)``).
    """

    clip: float | None = None
    n_bootstrap: int = 1000
    seed: int = 0
    name: ClassVar[str] = "ope"

    def __post_init__(self) -> None:
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"{type(self).__name__}.clip must be positive or None, got {self.clip}")
        if self.n_bootstrap < 1:
            raise ValueError(f"{type(self).__name__}.n_bootstrap must be >= 1, got {self.n_bootstrap}")

    def estimate(self, logs: BanditLogs, target: TargetLike, *, featurize: Featurizer | None = None,
                 q_fn: QFunction | None = None) -> Estimate:
        """Estimate ``V(π_e)`` from ``logs``.

        Parameters
        ----------
        logs : BanditLogs
        target : TargetPmf, sequence of dict ``{action: prob}``, numpy.ndarray of shape ``(n,)``, or callable
            The target policy per round (see :func:`as_target`). Model-based estimators need full pmfs.
        featurize : callable or None
            Model-based estimators only: ``action -> (p,)`` reward-model features (default: one-hot).
        q_fn : callable or None
            Model-based estimators only: a known ``q(rounds, actions) -> (m,)`` that replaces the fitted model.

        Returns
        -------
        Estimate
        """
        tgt = as_target(target, logs)
        pi_e = tgt if isinstance(tgt, np.ndarray) else tgt.prob_of(logs.actions)
        w = pi_e / logs.propensities
        n_clipped = 0 if self.clip is None else int((w > self.clip).sum())
        w = w if self.clip is None else np.minimum(w, self.clip)
        num, den = self._terms(logs, tgt, w, featurize, q_fn)
        return self._result(num, den, w, n_clipped)

    @abstractmethod
    def _terms(self, logs: BanditLogs, target: TargetPmf | np.ndarray, w: np.ndarray, featurize: Featurizer | None,
               q_fn: QFunction | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-round numerator and denominator terms, shape ``(n,)``; ``None`` denominator means ones."""

    def _result(self, num: np.ndarray, den: np.ndarray | None, w: np.ndarray, n_clipped: int) -> Estimate:
        """``Σ num / Σ den``, with a percentile bootstrap over rounds."""
        n = len(num)
        den = np.ones(n) if den is None else den
        if den.sum() == 0:
            raise ValueError(f"{self.name}: every importance weight is 0 (the target never plays a logged action)")
        rng = make_rng(self.seed, "ope", self.name, "bootstrap")
        stats = []
        for size in np.diff(np.r_[0:self.n_bootstrap:max(1, 2_000_000 // n), self.n_bootstrap]):
            idx = rng.integers(0, n, size=(size, n))
            with np.errstate(invalid="ignore", divide="ignore"):
                stats.append(num[idx].sum(axis=1) / den[idx].sum(axis=1))
        low, high = np.nanpercentile(np.concatenate(stats), [2.5, 97.5])
        sq = float((w ** 2).sum())
        est = Estimate(self.name, float(num.sum() / den.sum()), (float(low), float(high)), n,
                       float(w.sum() ** 2 / sq) if sq > 0 else 0.0, float(w.max()), n_clipped)
        log.info("%s: V=%.5f ci95=(%.5f, %.5f) ess=%.1f/%d", est.estimator, est.value, low, high, est.ess, n)
        return est


@dataclass
class IPS(OffPolicyEstimator):
    """Inverse propensity scoring (obp ``InverseProbabilityWeighting``): ``(1/n) Σ_i w_i r_i``; unbiased."""

    name: ClassVar[str] = "ips"

    def _terms(self, logs, target, w, featurize, q_fn):
        return w * logs.rewards, None


@dataclass
class SNIPS(OffPolicyEstimator):
    """Self-normalised IPS (obp ``SelfNormalizedInverseProbabilityWeighting``): ``Σ w_i r_i / Σ w_i``.

    Biased but consistent; always within ``[min r, max r]``. Clipping (not in obp's SNIPW) applies before normalising.
    """

    name: ClassVar[str] = "snips"

    def _terms(self, logs, target, w, featurize, q_fn):
        return w * logs.rewards, w


@dataclass
class DoublyRobust(OffPolicyEstimator):
    """Doubly robust (obp ``DoublyRobust``): a cross-fitted reward model ``q̂`` as control variate for IPS.

    Needs each round's full target pmf. ``featurize`` gives the reward model's action features (default one-hot,
    refused above a few hundred actions; for allocations use ``partial(action_features, budget=B)``), and ``q_fn``
    injects a known reward function (e.g. the simulator's), which skips fitting.

    Parameters
    ----------
    n_folds : int
        Cross-fitting folds K for ``q̂``.
    reward_model : scikit-learn estimator or None
        Unfitted; ``None`` picks :func:`~ltrr.eval.reward_model.default_reward_model` (logistic for 0/1 rewards).
    """

    n_folds: int = 5
    reward_model: Any = None
    name: ClassVar[str] = "dr"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_folds < 2:
            raise ValueError(f"DoublyRobust.n_folds must be >= 2, got {self.n_folds}")

    def _terms(self, logs, target, w, featurize, q_fn):
        if not isinstance(target, TargetPmf):
            raise ValueError("DoublyRobust needs each round's full target pmf (dicts or TargetPmf), not an (n,) array")
        model = self.reward_model if self.reward_model is not None else default_reward_model(logs.rewards)
        q_support, q_logged = q_hat_pairs(
            logs.contexts, logs.actions, logs.rewards, target.actions, target.rounds, target.action_ids,
            featurize=featurize, q_fn=q_fn, model=model, n_folds=self.n_folds,
            rng=make_rng(self.seed, "ope", self.name, "folds"))
        direct = np.bincount(target.rounds, weights=target.probs * q_support, minlength=logs.n)
        return direct + w * (logs.rewards - q_logged), None
