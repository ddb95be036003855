"""Learning-to-rank objectives over padded lists, with per-item (inverse-propensity) weights.

Both objectives take gains ``g`` (graded relevance, or clicks) and weights ``w`` per item. With clicks and
``w = 1 / P(examined | position)`` they are the inverse-propensity-scored (IPS) versions of their full-information
objectives, unbiased under the position-based model (Joachims et al. 2017; Ai et al. 2018); with ``w = 1`` and clicks
they are the naive (biased) click objectives.
"""

from __future__ import annotations

import numpy as np
import torch


PAIRINGS = ("preference", "positive")


def preference_pairs(offsets: np.ndarray, gains: np.ndarray,
                     pairing: str = "preference") -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(i, j)`` of the pairs of one list that a pairwise loss compares.

    Parameters
    ----------
    offsets : numpy.ndarray of int, shape ``(Q + 1,)``
        List ``q`` is rows ``offsets[q]:offsets[q + 1]``.
    gains : numpy.ndarray, shape ``(n,)``
    pairing : {"preference", "positive"}
        ``"preference"``: every pair with ``g_i > g_j``. ``"positive"``: every item with ``g_i > 0`` against
        every other item of its list, whatever that item's gain (two clicked items give both ``(i, j)`` and
        ``(j, i)``); see :func:`lambda_gradients` for why IPS needs it.

    Returns
    -------
    i, j : numpy.ndarray of int, shape ``(P,)``
    """
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    out_i, out_j = [], []
    for q in range(len(offsets) - 1):
        a, b = int(offsets[q]), int(offsets[q + 1])
        g = gains[a:b]
        if b - a < 2 or (g.max() <= g.min() if pairing == "preference" else g.max() <= 0):
            continue
        if pairing == "preference":
            ii, jj = np.nonzero(g[:, None] > g[None, :])
        else:
            ii, jj = np.nonzero((g[:, None] > 0) & ~np.eye(b - a, dtype=bool))
        out_i.append(ii + a)
        out_j.append(jj + a)
    if not out_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_i).astype(np.int64), np.concatenate(out_j).astype(np.int64)


def list_ranks(scores: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """0-based rank of every row within its list by descending score (ties: row order), shape ``(n,)``."""
    sizes = np.diff(offsets)
    L = int(sizes.max()) if len(sizes) else 0
    slot = np.arange(L)[None, :]
    mask = slot < sizes[:, None]
    idx = np.where(mask, offsets[:-1, None] + slot, 0)
    s = np.where(mask, scores[idx], -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(L), order.shape), axis=1)
    out = np.empty(len(scores), dtype=np.int64)
    out[idx[mask]] = rank[mask]
    return out


def lambda_gradients(scores: np.ndarray, gains: np.ndarray, weights: np.ndarray, offsets: np.ndarray,
                     pairs: tuple[np.ndarray, np.ndarray] | None = None, sigma: float = 1.0,
                     normalize: bool = False, pairing: str = "preference") -> tuple[np.ndarray, np.ndarray]:
    """LambdaRank gradients and Hessians (Burges 2010) with the preferred item's weight on each pair.

    With ``pairing="preference"`` each pair ``(i, j)`` of one list with ``g_i > g_j`` pulls ``i`` above ``j``
    with the force ``w_i |ΔDCG_ij| σ / (1 + exp(σ (s_i - s_j)))``, where ``ΔDCG_ij`` is the change of
    ``Σ g / log2(1 + rank)`` (current ranks) when the two swap. No per-list normalisation.

    With ``pairing="positive"`` every item with ``g_i > 0`` pulls itself above every other item ``j`` of its list
    with the force ``w_i g_i |Δdisc_ij| σ / (1 + exp(σ (s_i - s_j)))``, whatever ``g_j`` is: the loss is a sum over
    positive items, each weighed by its own gain and weight only. With clicks and ``w = 1 / θ_position`` this is
    what keeps IPS unbiased under the position-based model: in expectation the pair's two logistic terms weigh
    ``α_i`` and ``α_j`` (the attractiveness), the loss of full information with gains ``α``. Preference pairs
    drop the pairs of two clicked items, so each click's term also depends on whether the other item was
    clicked: the weights become ``α_i (1 - θ_j α_j)`` and ``α_j (1 - θ_i α_i)``, which favour the higher-shown
    of two relevant items.

    Parameters
    ----------
    scores, gains, weights : numpy.ndarray, shape ``(n,)``
        Model scores, gains and item weights of the rows.
    offsets : numpy.ndarray of int, shape ``(Q + 1,)``
        List boundaries.
    pairs : tuple of numpy.ndarray, optional
        :func:`preference_pairs` of ``(offsets, gains, pairing)``, when precomputed (they do not change between
        boosting rounds).
    sigma : float
        Steepness of the pairwise logistic.
    normalize : bool
        Divide each list's pairs by the list's total weighted gain ``Σ w g`` (self-normalised: every list with a
        preference weighs the same; lower variance, no longer unbiased for the summed DCG).
    pairing : {"preference", "positive"}
        Which pairs pull (see above and :func:`preference_pairs`).

    Returns
    -------
    grad, hess : numpy.ndarray, shape ``(n,)``
        First and second derivatives of the loss with respect to each score.
    """
    i, j = pairs if pairs is not None else preference_pairs(offsets, gains, pairing)
    disc = 1.0 / np.log2(2.0 + list_ranks(scores, offsets))
    gap = gains[i] - gains[j] if pairing == "preference" else gains[i]
    delta = np.abs(gap * (disc[i] - disc[j]))
    rho = 1.0 / (1.0 + np.exp(np.clip(sigma * (scores[i] - scores[j]), -50, 50)))
    force = weights[i] * delta
    if normalize:
        lists = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        total = np.bincount(lists, weights * gains, minlength=len(offsets) - 1)
        force = force / np.maximum(total[lists[i]], 1e-12)
    lam = sigma * force * rho
    h = sigma * sigma * force * rho * (1.0 - rho)
    n = len(scores)
    grad = np.bincount(j, lam, minlength=n) - np.bincount(i, lam, minlength=n)
    hess = np.bincount(i, h, minlength=n) + np.bincount(j, h, minlength=n)
    return grad, hess


def listwise_softmax_loss(scores: torch.Tensor, gains: torch.Tensor, weights: torch.Tensor,
                          mask: torch.Tensor) -> torch.Tensor:
    """Weighted softmax cross-entropy of each list, ``-Σ_i w_i g_i log softmax(s)_i``, mean over lists.

    Parameters
    ----------
    scores, gains, weights : torch.Tensor, shape ``(Q, L)``
    mask : torch.Tensor of bool, shape ``(Q, L)``

    Returns
    -------
    torch.Tensor, scalar
    """
    logp = torch.log_softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
    target = (gains * weights).masked_fill(~mask, 0.0)
    return -(target * logp.masked_fill(~mask, 0.0)).sum(dim=1).mean()
