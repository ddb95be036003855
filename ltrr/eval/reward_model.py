"""Reward models ``q̂(x, a) ≈ E[r | x, a]`` for model-based off-policy estimators, cross-fitted over rounds.

Cross-fitting (as in obp ``RegressionModel.fit_predict`` with ``n_folds``): rounds are split into K folds and the
prediction for any (round, action) pair comes from the model fit on the *other* folds, so a round's own reward never
enters its own ``q̂``. Features are ``[context ; action features]``; every action is featurized once and pairs are
predicted in large vectorised chunks (obp PR#101: per-row pscore loops were the bottleneck).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Hashable, Sequence

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LogisticRegression, Ridge

log = logging.getLogger(__name__)

Featurizer = Callable[[Hashable], np.ndarray]
QFunction = Callable[[np.ndarray, Sequence[Hashable]], np.ndarray]
"""A known reward function ``q(rounds (m,), actions (m,)) -> (m,)``; ``rounds`` index the logged rounds."""
MAX_ONE_HOT = 512  # above this many distinct actions, one-hot features are refused: pass a featurizer
CHUNK_CELLS = 4_000_000  # design-matrix cells built at once when predicting (~32 MB of float64)


def action_features(action: Sequence[int], budget: int) -> np.ndarray:
    """Features of an allocation: the share of the budget given to each arm.

    Parameters
    ----------
    action : sequence of int, length ``n_arms``
        Depth per arm, e.g. ``(10, 0, 50, 0, 40)``.
    budget : int
        Total candidate budget ``B``.

    Returns
    -------
    numpy.ndarray, shape ``(n_arms,)``
        ``n_k / B`` for every arm.
    """
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    return np.asarray(action, dtype=float) / budget


def one_hot_featurizer(actions: Sequence[Hashable]) -> Featurizer:
    """One-hot indicator over ``actions`` (the default action featurizer for small action sets).

    Parameters
    ----------
    actions : sequence of hashable, length ``U``
        Distinct actions.

    Returns
    -------
    callable
        ``action -> numpy.ndarray`` of shape ``(U,)``.
    """
    if len(actions) > MAX_ONE_HOT:
        raise ValueError(f"{len(actions)} distinct actions are too many for one-hot reward-model features "
                         f"(limit {MAX_ONE_HOT}): pass featurize=, e.g. functools.partial(action_features, budget=B)")
    index = {a: j for j, a in enumerate(actions)}
    eye = np.eye(len(actions))
    return lambda a: eye[index[a]]


def default_reward_model(rewards: np.ndarray) -> Any:
    """``LogisticRegression`` for 0/1 rewards (clicks), ``Ridge`` otherwise; both unfitted.

    Parameters
    ----------
    rewards : numpy.ndarray, shape ``(n,)``
    """
    if np.isin(rewards, (0.0, 1.0)).all():
        return LogisticRegression(C=1.0, max_iter=1000)
    return Ridge(alpha=1.0)


def feature_table(actions: Sequence[Hashable], featurize: Featurizer) -> np.ndarray:
    """Featurize every distinct action once.

    Returns
    -------
    numpy.ndarray, shape ``(U, p)``
    """
    rows = [np.asarray(featurize(a), dtype=float).ravel() for a in actions]
    if len({r.shape for r in rows}) > 1:
        raise ValueError("featurize must return the same number of features for every action")
    return np.stack(rows)


def cross_fit_rewards(contexts: np.ndarray, table: np.ndarray, logged_ids: np.ndarray, rewards: np.ndarray,
                      query_rounds: np.ndarray, query_ids: np.ndarray, model: Any, n_folds: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Cross-fitted ``q̂`` at arbitrary (round, action) pairs.

    Parameters
    ----------
    contexts : numpy.ndarray, shape ``(n, d)``
    table : numpy.ndarray, shape ``(U, p)``
        Action features, one row per distinct action (see :func:`feature_table`).
    logged_ids : numpy.ndarray of int, shape ``(n,)``
        Row of ``table`` for the logged action of each round.
    rewards : numpy.ndarray, shape ``(n,)``
    query_rounds, query_ids : numpy.ndarray of int, shape ``(m,)``
        The pairs to predict: round index and row of ``table``.
    model : scikit-learn estimator
        Unfitted; cloned once per fold. Classifiers predict ``Σ_c P(c | x, a) · c`` over the reward classes.
    n_folds : int
        K >= 2.
    rng : numpy.random.Generator
        Draws the fold assignment.

    Returns
    -------
    numpy.ndarray, shape ``(m,)``
        ``q̂(x_i, a)`` from the model that did not see round ``i``.
    """
    n = len(rewards)
    if n < n_folds:
        raise ValueError(f"cross-fitting needs at least n_folds={n_folds} rounds, got {n}")
    fold = np.empty(n, dtype=int)
    fold[rng.permutation(n)] = np.arange(n) % n_folds
    out = np.empty(len(query_rounds))
    query_fold = fold[query_rounds]
    for k in range(n_folds):
        train = np.flatnonzero(fold != k)
        fitted = _fit(model, np.hstack([contexts[train], table[logged_ids[train]]]), rewards[train])
        idx = np.flatnonzero(query_fold == k)
        n_chunks = max(1, -(-len(idx) * (contexts.shape[1] + table.shape[1]) // CHUNK_CELLS))
        for chunk in np.array_split(idx, n_chunks):
            out[chunk] = _predict(fitted, np.hstack([contexts[query_rounds[chunk]], table[query_ids[chunk]]]))
    log.debug("cross-fitted %s on %d rounds, %d folds, %d pairs", type(model).__name__, n, n_folds, len(out))
    return out


def q_hat_pairs(contexts: np.ndarray, logged_actions: Sequence[Hashable], rewards: np.ndarray,
                support_actions: Sequence[Hashable], support_rounds: np.ndarray, support_ids: np.ndarray, *,
                featurize: Featurizer | None, q_fn: QFunction | None, model: Any, n_folds: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``q̂`` on the target's support and at the logged actions, from ``q_fn`` if given, else cross-fitted.

    Parameters
    ----------
    contexts : numpy.ndarray, shape ``(n, d)``
    logged_actions : sequence of hashable, length ``n``
    rewards : numpy.ndarray, shape ``(n,)``
    support_actions : sequence of hashable, length ``U``
        Distinct actions of the target pmf.
    support_rounds, support_ids : numpy.ndarray of int, shape ``(m,)``
        The target's non-zero (round, index into ``support_actions``) pairs.
    featurize, q_fn, model, n_folds, rng
        See :func:`cross_fit_rewards`; ``featurize=None`` means one-hot.

    Returns
    -------
    q_support : numpy.ndarray, shape ``(m,)``
    q_logged : numpy.ndarray, shape ``(n,)``
        ``q̂(x_i, a_i)`` at the logged actions.
    """
    index = {a: j for j, a in enumerate(support_actions)}
    for a in logged_actions:  # logged actions outside the target's support still need q̂(x_i, a_i)
        index.setdefault(a, len(index))
    table = list(index)
    logged_ids = np.fromiter((index[a] for a in logged_actions), dtype=int, count=len(logged_actions))
    rounds = np.concatenate([support_rounds, np.arange(len(logged_actions))])
    ids = np.concatenate([support_ids, logged_ids])
    if q_fn is not None:
        chunks = np.array_split(np.arange(len(ids)), max(1, len(ids) // 1_000_000))
        q = np.concatenate([np.asarray(q_fn(rounds[c], [table[j] for j in ids[c]]), dtype=float).ravel()
                            for c in chunks])
    else:
        feats = feature_table(table, featurize or one_hot_featurizer(table))
        q = cross_fit_rewards(contexts, feats, logged_ids, rewards, rounds, ids, model, n_folds, rng)
    if q.shape != ids.shape or not np.isfinite(q).all():
        raise ValueError(f"reward model must give one finite value per (round, action) pair: expected shape "
                         f"{ids.shape}, got {q.shape}" + ("" if q.shape != ids.shape else " with non-finite values"))
    return q[: len(support_rounds)], q[len(support_rounds):]


def _fit(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """Fit a clone of ``model``; a classifier whose fold holds one reward value becomes that constant."""
    if is_classifier(model) and len(np.unique(y)) < 2:
        log.warning("reward model fold has a single reward value %s; predicting it as a constant", y[0])
        return float(y[0])
    return clone(model).fit(X, y)


def _predict(fitted: Any, X: np.ndarray) -> np.ndarray:
    if isinstance(fitted, float):
        return np.full(len(X), fitted)
    if is_classifier(fitted):
        return fitted.predict_proba(X) @ np.asarray(fitted.classes_, dtype=float)
    return np.asarray(fitted.predict(X), dtype=float).ravel()
