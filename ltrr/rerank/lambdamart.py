"""LambdaMART on LightGBM's gradient-boosted trees, with the (IPS-)weighted LambdaRank gradients of
:func:`ltrr.losses.ltr.lambda_gradients` as a custom objective.

LightGBM's own ``lambdarank`` objective takes one weight per query, not per item, so it cannot express
``1 / θ_position`` on each click; the boosting, the trees and the model file are LightGBM's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from ltrr.losses.ltr import PAIRINGS, lambda_gradients, preference_pairs
from ltrr.rerank.ranker import ListData, Ranker

log = logging.getLogger(__name__)


class LambdaMARTRanker(Ranker):
    """Gradient-boosted trees trained with weighted LambdaRank gradients.

    Parameters
    ----------
    n_trees : int
        Boosting rounds.
    learning_rate, num_leaves, min_data_in_leaf : float, int, int
        LightGBM tree settings.
    sigma : float
        Steepness of the pairwise logistic.
    normalize : bool
        Self-normalise each list's pairs by its total weighted gain (see
        :func:`~ltrr.losses.ltr.lambda_gradients`).
    feature_fraction : float
        Share of features tried per tree.
    pairing : {"preference", "positive"}
        Which pairs the LambdaRank gradients compare (:func:`~ltrr.losses.ltr.lambda_gradients`): ``"positive"``
        (each clicked item against every other shown item) keeps IPS-weighted clicks unbiased under the
        position-based model; ``"preference"`` (pairs with ``g_i > g_j``) is classic LambdaMART.
    seed : int
        LightGBM's seed (its runs are deterministic for a fixed seed and thread count).
    threads : int
        LightGBM threads (0: its default).
    name : str
    """

    def __init__(self, n_trees: int = 200, learning_rate: float = 0.1, num_leaves: int = 31,
                 min_data_in_leaf: int = 50, sigma: float = 1.0, feature_fraction: float = 0.9, seed: int = 0,
                 threads: int = 0, normalize: bool = False, pairing: str = "preference",
                 name: str = "lambdamart") -> None:
        if n_trees < 1:
            raise ValueError(f"n_trees must be >= 1, got {n_trees}")
        if pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
        self.pairing = pairing
        self.n_trees, self.sigma, self.normalize, self.name = int(n_trees), float(sigma), bool(normalize), name
        self.params = {"learning_rate": float(learning_rate), "num_leaves": int(num_leaves),
                       "min_data_in_leaf": int(min_data_in_leaf), "feature_fraction": float(feature_fraction),
                       "min_sum_hessian_in_leaf": 1e-6, "seed": int(seed), "deterministic": True,
                       "verbosity": -1, "num_threads": int(threads)}
        self.booster = None

    def fit(self, data: ListData) -> "LambdaMARTRanker":
        import lightgbm as lgb

        t0 = time.perf_counter()
        pairs = preference_pairs(data.offsets, data.gains, self.pairing)
        if len(pairs[0]) == 0:
            raise ValueError("no preference pair in the training lists (every list has equal gains)")
        offsets, gains, weights, sigma, norm = data.offsets, data.gains, data.weights, self.sigma, self.normalize
        pairing = self.pairing

        def objective(preds: np.ndarray, _dataset: Any) -> tuple[np.ndarray, np.ndarray]:
            return lambda_gradients(preds, gains, weights, offsets, pairs, sigma, norm, pairing)

        ds = lgb.Dataset(data.X, free_raw_data=True, params={"verbosity": -1})
        self.booster = lgb.train({**self.params, "objective": objective}, ds, num_boost_round=self.n_trees)
        log.info("%s: %d trees on %d lists (%d rows, %d pairs) in %.1f s", self.name, self.n_trees, data.n_lists,
                 len(data.X), len(pairs[0]), time.perf_counter() - t0)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.booster is None:
            raise RuntimeError(f"{self.name}: score() before fit()")
        return self.booster.predict(np.asarray(X, dtype=np.float32), raw_score=True)

    @property
    def fitted(self) -> bool:
        return self.booster is not None

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.booster.model_to_string() if self.booster is not None else ""}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import lightgbm as lgb

        text = state.get("model") or ""
        self.booster = lgb.Booster(model_str=text) if text else None
