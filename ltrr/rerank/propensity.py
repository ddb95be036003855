"""Examination propensities for unbiased learning to rank: known (simulation), or estimated by swap interventions.

Under the position-based model a click needs examination, ``P(E | position k) = θ_k``, independent of the item.
Weighting each click by ``1 / θ_k`` makes click-based objectives unbiased (Joachims et al. 2017). The swap
intervention (Joachims et al. 2017, §5; Wang et al. 2018) estimates ``θ_k / θ_1`` without a click model: on a random
share of impressions the item the ranker put first is swapped with the one at a uniformly drawn position ``k``; the
same population of top items is then seen at position 1 and at position ``k``, so the ratio of their click rates is
the ratio of examination probabilities.
"""

from __future__ import annotations

import logging
from typing import Sequence, TypeVar

import numpy as np

from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)
T = TypeVar("T")


def pbm_examination(n: int, eta: float = 1.0) -> np.ndarray:
    """``θ_k = (1 / k)^η`` for positions ``1..n``, shape ``(n,)``."""
    return (1.0 / np.arange(1, n + 1)) ** float(eta)


def ips_weights(positions: np.ndarray, propensities: np.ndarray, clip: float | None = None) -> np.ndarray:
    """Inverse-propensity weights ``1 / θ_position``, optionally capped at ``clip``.

    Parameters
    ----------
    positions : numpy.ndarray of int, shape ``(n,)``
        1-based display positions.
    propensities : numpy.ndarray, shape ``(L,)``
        ``θ_1..θ_L``; positions beyond ``L`` take ``θ_L``.
    clip : float, optional
        Largest weight (clipping trades variance for bias); ``None``: no cap.

    Returns
    -------
    numpy.ndarray, shape ``(n,)``
    """
    theta = np.asarray(propensities, dtype=float)
    if np.any(theta <= 0) or np.any(theta > 1):
        raise ValueError("propensities must be in (0, 1]")
    pos = np.asarray(positions, dtype=int)
    if np.any(pos < 1):
        raise ValueError("positions are 1-based")
    w = 1.0 / theta[np.minimum(pos, len(theta)) - 1]
    return np.minimum(w, clip) if clip is not None else w


class SwapInterventions:
    """Randomised swap of position 1 with position ``k``, and the estimate of ``θ_k / θ_1`` from the clicks.

    Parameters
    ----------
    n_positions : int
        ``L``: positions 2..L are swap targets.
    rate : float
        Share of impressions that are intervened on (the others are kept as baseline for position 1).
    seed : int
        Seed of the intervention's own generator.
    """

    def __init__(self, n_positions: int = 10, rate: float = 0.5, seed: int = 0) -> None:
        if n_positions < 2:
            raise ValueError(f"n_positions must be >= 2, got {n_positions}")
        if not 0 < rate < 1:
            raise ValueError(f"rate must be in (0, 1), got {rate}")
        self.L, self.rate = int(n_positions), float(rate)
        self.rng = make_rng(seed, "swap-interventions")
        self.shown = np.zeros(self.L + 1)    # index k: impressions with the top item shown at k
        self.clicks = np.zeros(self.L + 1)   # index k: clicks on it there

    def intervene(self, ranking: Sequence[T]) -> tuple[list[T], int]:
        """The list to show and the position its original top item lands at (1: not swapped)."""
        out = list(ranking)
        if len(out) < 2 or self.rng.random() >= self.rate:
            return out, 1
        k = int(self.rng.integers(2, min(self.L, len(out)) + 1))
        out[0], out[k - 1] = out[k - 1], out[0]
        return out, k

    def record(self, top_position: int, top_clicked: bool) -> None:
        """Count one impression: where the original top item was shown, and whether it was clicked."""
        if not 1 <= top_position <= self.L:
            raise ValueError(f"top_position must be in 1..{self.L}, got {top_position}")
        self.shown[top_position] += 1
        self.clicks[top_position] += float(top_clicked)

    def estimate(self, floor: float = 1e-3, monotone: bool = True) -> np.ndarray:
        """``θ_k / θ_1`` for ``k = 1..L`` (``θ_1 = 1``), clipped to ``[floor, 1]``; a position never seen or never
        clicked takes the estimate of the position before it. With ``monotone`` the raw ratios are smoothed by a
        non-increasing isotonic fit weighted by the impressions per position (examination falls with position),
        which removes most of the noise of the deeper positions.

        Raises
        ------
        ValueError
            Before any click at position 1 (the ratio has no denominator).
        """
        if self.clicks[1] == 0:
            raise ValueError("no click on a top item at position 1 yet: cannot estimate propensities")
        ctr = np.where(self.shown > 0, self.clicks / np.maximum(self.shown, 1), np.nan)
        theta = ctr[1:] / ctr[1]
        theta[0] = 1.0
        for k in range(1, self.L):
            if not np.isfinite(theta[k]) or self.clicks[k + 1] == 0:
                theta[k] = theta[k - 1]
        if monotone:
            from sklearn.isotonic import IsotonicRegression

            w = np.maximum(self.shown[1:], 1.0)
            w[0] = 1e6  # keep θ_1 = 1
            theta = IsotonicRegression(increasing=False).fit_transform(np.arange(self.L), theta, sample_weight=w)
        theta = np.clip(theta, floor, 1.0)
        log.info("swap-intervention propensities from %d impressions: %s", int(self.shown.sum()),
                 np.round(theta, 3).tolist())
        return theta


def cascade_reached(clicks: np.ndarray) -> np.ndarray:
    """Whether the user reached each position under the cascade model: nothing above it was clicked.

    Parameters
    ----------
    clicks : numpy.ndarray of bool, shape ``(..., k)``
        Clicks by display position (last axis).

    Returns
    -------
    numpy.ndarray of bool, shape ``(..., k)``
    """
    clicks = np.asarray(clicks, dtype=np.int64)
    return (np.cumsum(clicks, axis=-1) - clicks) == 0


def cascade_propensities(query: np.ndarray, items: np.ndarray, clicks: np.ndarray,
                         sizes: Sequence[int], prior: float = 0.0) -> list[np.ndarray]:
    """Each candidate's examination propensity under the cascade model, estimated per query from its impressions:
    ``ρ_d(q)`` = the share of ``q``'s impressions in which ``d`` was shown with no click above it.

    Under the cascade model (Craswell et al. 2008) the user scans down and stops at the first click, so whether a
    position is examined depends on the items above it, and a position-based ``θ_k`` averaged over queries is the
    wrong propensity (Vardasbi et al. 2020). Whether an impression reached ``d`` is observed, though: it did if no
    click came above it. Averaged over a query's impressions that gives ``P(d examined)``, and
    ``E[c_d] / ρ_d = α_d``, the item's attractiveness: clicks weighted ``1 / ρ_d`` are unbiased, and their mean over
    the query's impressions is the cascade model's maximum-likelihood ``α̂_d`` (clicks over examinations). A
    propensity conditioned on the clicks observed above is 1 for a pure cascade's only click, which is naive
    training; this marginal one is not. It needs repeated impressions of a query: with one, every click gets
    ``ρ = 1`` (``prior`` borrows from the other queries).

    Parameters
    ----------
    query : numpy.ndarray of int, shape ``(m,)``
        Each impression's query index.
    items : numpy.ndarray of int, shape ``(m, k)``
        Candidate index shown at positions ``1..k``, ``-1`` where the list was shorter.
    clicks : numpy.ndarray of bool, shape ``(m, k)``
    sizes : sequence of int
        Candidates per query.
    prior : float
        Pseudo-impressions of shrinkage towards the examination pooled over all queries per position: a query's
        estimate is ``(examinations + prior ρ̄) / (impressions + prior)``, with ``ρ̄`` the share of all
        impressions that reached the positions the candidate was shown at (trades the per-query estimate's
        variance on a rarely seen query for some of the pooled estimate's bias); 0: per query only.

    Returns
    -------
    list of numpy.ndarray
        Per query, shape ``(sizes[q],)``: ``ρ`` of each candidate (0 for one never examined).
    """
    if prior < 0:
        raise ValueError(f"prior must be >= 0, got {prior}")
    query, items, clicks = np.asarray(query), np.asarray(items), np.asarray(clicks, dtype=bool)
    if items.shape != clicks.shape or items.shape[0] != len(query):
        raise ValueError(f"items {items.shape}, clicks {clicks.shape} and query ({len(query)},) disagree")
    sizes = np.asarray(sizes, dtype=np.int64)
    if len(query) and (query.min() < 0 or query.max() >= len(sizes)):
        raise ValueError(f"query indices must be in 0..{len(sizes) - 1}")
    if np.any(items >= sizes[query][:, None]):
        raise ValueError("an item index is beyond its query's candidates")
    reached = (items >= 0) & cascade_reached(clicks)
    off = np.concatenate([[0], np.cumsum(sizes)])
    flat = off[query][:, None] + items  # each shown item's row in the concatenated candidates
    exam = np.bincount(flat[reached], minlength=int(off[-1])).astype(float)
    imps = np.bincount(query, minlength=len(sizes)).astype(float)
    n_q = np.repeat(imps, sizes)
    if prior > 0:
        shown = items >= 0
        pooled = reached.sum(axis=0) / np.maximum(shown.sum(axis=0), 1)  # ρ̄ per position
        pos_rate = np.broadcast_to(pooled, items.shape)[shown]
        base = np.bincount(flat[shown], pos_rate, minlength=int(off[-1])) / np.maximum(n_q, 1.0)
        rho = (exam + prior * base) / (n_q + prior)
    else:
        rho = exam / np.maximum(n_q, 1.0)
    return np.split(rho, off[1:-1])


def plackett_luce_topk(logits: np.ndarray, k: int, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """``n`` top-``k`` rankings sampled from the Plackett-Luce model of ``logits`` (Gumbel top-k trick).

    Returns
    -------
    numpy.ndarray of int, shape ``(n, min(k, len(logits)))``
        Indices into ``logits``, best first.
    """
    g = np.asarray(logits, dtype=float)[None, :] + rng.gumbel(size=(n, len(logits)))
    k = min(k, len(logits))
    top = np.argpartition(-g, k - 1, axis=1)[:, :k] if k < len(logits) else np.tile(np.arange(len(logits)), (n, 1))
    order = np.argsort(-np.take_along_axis(g, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def rank_logits(n: int, temperature: float) -> np.ndarray:
    """Logits ``-log(i) / τ`` of a ranking's positions ``i = 1..n``: a Plackett-Luce logger over them keeps the
    logging ranker's order on average and shows position ``i`` first with probability ``∝ i^(-1/τ)``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return -np.log(np.arange(1, n + 1)) / temperature


def policy_aware_propensities(logits: np.ndarray, theta: np.ndarray, n_samples: int = 2000,
                              seed: int = 0) -> np.ndarray:
    """``ρ_d = Σ_k P(d shown at k) θ_k`` under a Plackett-Luce logger (Monte Carlo over ``n_samples`` rankings).

    The policy-aware propensity of Oosterhuis and de Rijke (2020): with a stochastic logger every candidate can
    reach the top ``k``, so weighting its clicks by ``1 / ρ_d`` corrects item-selection bias as well as position
    bias.

    Parameters
    ----------
    logits : numpy.ndarray, shape ``(n,)``
        The logger's Plackett-Luce logits of the candidates.
    theta : numpy.ndarray, shape ``(k,)``
        Examination per position.

    Returns
    -------
    numpy.ndarray, shape ``(n,)``
        ``ρ`` of each candidate (0 for one never sampled into the top ``k``).
    """
    theta = np.asarray(theta, dtype=float)
    rank = plackett_luce_topk(logits, len(theta), make_rng(seed, "policy-aware"), n_samples)
    rho = np.zeros(len(logits))
    np.add.at(rho, rank.ravel(), np.tile(theta[:rank.shape[1]], n_samples))
    return rho / n_samples
