"""Click logs for learning to rank offline: impressions of a logging ranker's top ``k`` with clicks from a click
model, optionally under swap interventions, and the training lists (naive or IPS-weighted) built from them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ltrr.rerank.attractiveness import (attractiveness_labels, attractiveness_posterior,
                                        feature_conditioned_posterior, relevance_cut)
from ltrr.rerank.propensity import (SwapInterventions, cascade_reached, ips_weights, plackett_luce_topk,
                                   rank_logits)
from ltrr.rerank.ranker import ListData
from ltrr.simulate.click_models import ClickModel
from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)


@dataclass
class ClickLog:
    """Impressions over a pool of queries.

    Attributes
    ----------
    query : numpy.ndarray of int, shape ``(m,)``
        Index of each impression's query in the pool.
    items : numpy.ndarray of int, shape ``(m, k)``
        Candidate index (into the query's candidate list) shown at positions ``1..k``; ``-1`` where the list was
        shorter.
    clicks : numpy.ndarray of bool, shape ``(m, k)``
    """

    query: np.ndarray
    items: np.ndarray
    clicks: np.ndarray

    def __len__(self) -> int:
        return len(self.query)

    def head(self, n: int) -> "ClickLog":
        """The first ``n`` impressions (logs of increasing size are prefixes of one stream)."""
        return ClickLog(self.query[:n], self.items[:n], self.clicks[:n])


def simulate_click_log(rankings: Sequence[Sequence[str]], relevance: Sequence[Mapping[str, int]],
                       click_model: ClickModel, n: int, seed: int, show_k: int = 10,
                       interventions: SwapInterventions | None = None, temperature: float = 0.0,
                       progress: bool = False) -> ClickLog:
    """Draw ``n`` impressions: a uniform query of the pool, its logging ranking's top ``show_k``, the clicks.

    Parameters
    ----------
    rankings : sequence of sequence of str
        Each pool query's candidates in the logging ranker's order.
    relevance : sequence of mapping
        Each pool query's true grades (what the simulated user judges).
    click_model : ClickModel
        Reset with ``seed``.
    n, seed, show_k : int
    interventions : SwapInterventions, optional
        Swap position 1 with a random position on a share of impressions and record the top item's clicks.
    temperature : float
        0: show the logging ranking's top ``show_k`` (deterministic logger). > 0: sample the shown list from a
        Plackett-Luce logger over the ranking with logits :func:`~ltrr.rerank.propensity.rank_logits` (every
        candidate can be shown; see :func:`~ltrr.rerank.propensity.policy_aware_propensities`).

    Returns
    -------
    ClickLog
    """
    click_model.reset(seed)
    rng = make_rng(seed, "click-log")
    q = rng.integers(0, len(rankings), n)
    items = np.full((n, show_k), -1, dtype=np.int32)
    clicks = np.zeros((n, show_k), dtype=bool)
    for t in tqdm(range(n), desc="click log", disable=not progress, leave=False):
        ranking = rankings[q[t]]
        if temperature > 0 and len(ranking) > 1:
            top = plackett_luce_topk(rank_logits(len(ranking), temperature), show_k, rng)[0].tolist()
        else:
            top = list(range(min(show_k, len(ranking))))
        top1 = 1
        if interventions is not None:
            top, top1 = interventions.intervene(top)
        shown = [ranking[i] for i in top]
        clicked = set(click_model.click(shown, relevance[q[t]]))
        items[t, :len(top)] = top
        clicks[t, :len(top)] = [d in clicked for d in shown]
        if interventions is not None and top:
            interventions.record(top1, bool(clicks[t, top1 - 1]))
    return ClickLog(q, items, clicks)


def click_lists(log_: ClickLog, features: Sequence[np.ndarray], propensities: np.ndarray | None = None,
                clip: float | None = None, item_propensities: Sequence[np.ndarray] | None = None) -> ListData:
    """Training lists from a click log: one list per impression with a click, its shown items as rows.

    Parameters
    ----------
    log_ : ClickLog
    features : sequence of numpy.ndarray
        Each pool query's candidate features, ``(n_q, F)``.
    propensities : numpy.ndarray, optional
        ``θ_1..θ_k``: each row is weighted ``1 / θ_position`` (IPS, clipped at ``clip``); ``None``: weight 1 (naive).
    item_propensities : sequence of numpy.ndarray, optional
        Per pool query, each candidate's policy-aware propensity ``ρ`` (a stochastic logger): rows are weighted
        ``1 / ρ`` (clipped at ``clip``) instead.

    Returns
    -------
    ListData
        Gains are the clicks, with each row's display position; impressions without a click carry no preference
        and are left out.
    """
    keep = np.flatnonzero(log_.clicks.any(axis=1))
    k = log_.items.shape[1]
    table = ips_weights(np.arange(1, k + 1), propensities, clip) if propensities is not None else np.ones(k)
    X, g, w, P = [], [], [], []
    for t in keep:
        shown = log_.items[t] >= 0
        pos = np.flatnonzero(shown) + 1
        P.append(pos)
        X.append(features[log_.query[t]][log_.items[t][shown]])
        g.append(log_.clicks[t][shown].astype(float))
        if item_propensities is not None:
            rho = item_propensities[log_.query[t]][log_.items[t][shown]]
            w.append(np.minimum(1.0 / np.maximum(rho, 1e-12), clip if clip is not None else np.inf))
        else:
            w.append(table[pos - 1])
    return ListData.from_lists(X, g, w, P)


def aggregated_click_lists(log_: ClickLog, features: Sequence[np.ndarray], propensities: np.ndarray | None = None,
                           clip: float | None = None,
                           item_propensities: Sequence[np.ndarray] | None = None) -> ListData:
    """Training lists with one list per pool query: every candidate shown at least once, with the
    (IPS-weighted) clicks averaged over the query's impressions as its gain.

    With weights ``1 / θ_position`` the gain ``Σ_t c_t / θ_t / n_q`` is an unbiased estimate of the item's
    attractiveness under the position-based model (each impression's estimate is, and so is their mean), with far
    less variance than one list per impression; with unit weights it is the item's click-through rate, which is
    biased by the positions it was shown at (the naive counterpart).

    Parameters
    ----------
    log_, features, propensities, clip, item_propensities
        As for :func:`click_lists`.

    Returns
    -------
    ListData
        Lists of queries with some click; unit weights (the IPS correction is in the gains).
    """
    n_q = len(features)
    imps = np.bincount(log_.query, minlength=n_q).astype(float)
    shown = log_.items >= 0
    pos = np.broadcast_to(np.arange(1, log_.items.shape[1] + 1), log_.items.shape)
    if item_propensities is not None:
        rho = np.array([item_propensities[q][i] if i >= 0 else 1.0 for q, row in zip(log_.query, log_.items)
                        for i in row]).reshape(log_.items.shape)
        w = np.minimum(1.0 / np.maximum(rho, 1e-12), clip if clip is not None else np.inf)
    elif propensities is not None:
        w = ips_weights(pos.ravel(), propensities, clip).reshape(pos.shape)
    else:
        w = np.ones(pos.shape)
    gains: dict[tuple[int, int], float] = {}
    seen: dict[int, set[int]] = {}
    qs, items_, vals = log_.query.repeat(log_.items.shape[1])[shown.ravel()], log_.items[shown], \
        (log_.clicks * w)[shown]
    for q, i, v in zip(qs.tolist(), items_.tolist(), vals.tolist()):
        seen.setdefault(q, set()).add(i)
        if v:
            gains[(q, i)] = gains.get((q, i), 0.0) + v
    X, g = [], []
    for q in sorted(seen):
        rows = sorted(seen[q])
        gq = np.array([gains.get((q, i), 0.0) for i in rows]) / imps[q]
        if gq.max() > 0:
            X.append(features[q][rows])
            g.append(gq)
    return ListData.from_lists(X, g)


def posterior_click_lists(log_: ClickLog, features: Sequence[np.ndarray], propensities: np.ndarray | None = None,
                          label: str = "mode", grid_size: int = 101, iters: int = 500,
                          examination: str = "pbm", prior: str = "global", seed: int = 0,
                          threads: int = 0, min_examinations: float = 0.0) -> ListData:
    """Training lists with one list per pool query: every candidate shown at least once, labelled with its PBM
    attractiveness estimated by empirical Bayes (:func:`ltrr.rerank.attractiveness.attractiveness_posterior`).

    Where :func:`aggregated_click_lists` labels each item with its IPS mean ``Σ c / θ / n`` (unbiased, noisy for
    items seen few times at deep positions), this labels it with the posterior ``label`` (``"mode"`` or
    ``"mean"``) under a prior fitted to every shown item of the log.

    Parameters
    ----------
    log_, features
        As for :func:`click_lists`.
    propensities : numpy.ndarray, shape ``(k,)``
        ``θ_1..θ_k`` of the display positions (``examination="pbm"``).
    label : {"mode", "mean", "relevant"}
        See :func:`ltrr.rerank.attractiveness.attractiveness_labels`. ``"relevant"`` is binary: 1 where the
        posterior puts more than half its mass above the prior's lowest cluster. With one cluster no item can be
        told relevant, and the posterior means are used instead, with a warning.
    grid_size, iters : int
        The prior's grid and EM iterations.
    examination : {"pbm", "cascade"}
        ``"pbm"``: an instance at position ``k`` was examined with probability ``θ_k``. ``"cascade"``: the user
        scans down and stops at the first click, so an instance was examined exactly when nothing above it was
        clicked; the likelihood counts those instances with examination 1 and no propensities are needed.
    prior : {"global", "features"}
        ``"global"``: one prior for every item. ``"features"``: each item's prior over the global prior's clusters
        is predicted from its features by a cross-fitted classifier
        (:func:`ltrr.rerank.attractiveness.feature_conditioned_posterior`); the label is then the mode or mean over
        the clusters' centres.

        A prior with one cluster leaves the features nothing to choose: the global prior's posterior is kept,
        with a warning. When every item's mode is the same value (a log too small to move any item off the
        prior's largest atom), the posterior means are used instead, with a warning.
    seed, threads : int
        The classifier's fold split and seed, and its threads (``prior="features"``).
    min_examinations : float
        ``prior="features"``: fit the classifier only on items with at least this many expected examinations
        (``Σ θ_position`` over their impressions under the PBM, impressions that reached them under the cascade);
        the others still get its predicted prior. 0: fit on every item.

    Returns
    -------
    ListData
        Lists of queries with some shown item labelled above the smallest label (others carry no preference);
        unit weights.
    """
    shown = log_.items >= 0
    if not shown.any():
        raise ValueError("the click log shows no item")
    sizes = np.array([len(f) for f in features], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(sizes)])
    flat = (off[log_.query][:, None] + log_.items)[shown]  # each shown item's row in the concatenated candidates
    pos = np.broadcast_to(np.arange(1, log_.items.shape[1] + 1), log_.items.shape)[shown]
    rows, item = np.unique(flat, return_inverse=True)
    item, clicks = item.ravel(), log_.clicks[shown]
    if examination == "cascade":
        reached = cascade_reached(log_.clicks)[shown]
        item, pos, clicks, propensities = item[reached], pos[reached], clicks[reached], np.ones(1)
    elif examination != "pbm":
        raise ValueError(f"examination must be 'pbm' or 'cascade', got {examination!r}")
    elif propensities is None:
        raise ValueError("examination='pbm' needs the position propensities")
    if prior not in ("global", "features"):
        raise ValueError(f"prior must be 'global' or 'features', got {prior!r}")
    grid, pi, post = attractiveness_posterior(item, pos, clicks, propensities, grid_size, iters, n_items=len(rows))
    q_of = np.searchsorted(off, rows, side="right") - 1
    clustered = False  # True once the feature prior replaced the grid by the clusters' centres
    if prior == "features":
        X_items = np.concatenate([np.asarray(f, dtype=np.float32) for f in features])[rows]
        informative = None  # every item
        if min_examinations > 0:  # expected examinations per item: Σ θ over its (reached) impressions
            theta_ = np.asarray(propensities, dtype=float)
            n_exam = np.bincount(item, theta_[np.minimum(pos, len(theta_)) - 1], minlength=len(rows))
            informative = n_exam >= min_examinations
        centers, cpost = feature_conditioned_posterior(post, grid, pi, X_items, q_of, seed=seed, threads=threads,
                                                       informative=informative)
        if len(centers) > 1:
            grid, post, clustered = centers, cpost, True
        else:  # a prior without separate clusters: nothing for the features to choose between
            log.warning("posterior_click_lists: the prior is one cluster (around %.3f); the feature prior is "
                        "skipped", float(centers[0]))
    cut = None
    if label == "relevant":
        cut = float(grid[0]) if clustered else relevance_cut(grid, pi)
        if cut is None:
            log.warning("posterior_click_lists: the prior is one cluster, so no item can be told relevant; "
                        "labelling with the posterior means instead")
            label = "mean"
    lab = attractiveness_labels(post, grid, label, cut)
    if label != "mean" and np.ptp(lab) == 0:  # every label equal: nothing to learn from; the means still order
        log.warning("posterior_click_lists: every item's %s label is %.3f (a log too small to move them); "
                    "labelling with the posterior means instead", label, float(lab[0]))
        lab = attractiveness_labels(post, grid, "mean")
    floor = lab.min()
    X, g = [], []
    for sel in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(q_of)) + 1):  # rows are sorted by query
        if lab[sel].max() > floor:
            q = q_of[sel[0]]
            X.append(features[q][rows[sel] - off[q]])
            g.append(lab[sel])
    return ListData.from_lists(X, g)


def label_lists(features: Sequence[np.ndarray], grades: Sequence[np.ndarray]) -> ListData:
    """Full-information lists: every candidate of every pool query with its true grade (the ceiling's data)."""
    return ListData.from_lists(list(features), list(grades))
