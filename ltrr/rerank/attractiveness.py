"""Per-item attractiveness under the position-based model, by empirical Bayes: relevance labels from a click log.

Under the PBM an item shown at position ``k`` is clicked with probability ``θ_k α``. Given the propensities, each
item's clicks and impressions give a likelihood over its attractiveness ``α``; the items of a log share a prior
``π(α)``, estimated from all of them as the nonparametric maximum-likelihood mixing distribution (Kiefer and
Wolfowitz 1956) on a grid, by EM. Each item's posterior then pools its own clicks with what the whole log says
attractiveness values look like.

Why not the IPS mean ``Σ c / θ / n``: it is unbiased, but an item seen a few times at a deep position gets a noisy
value (one click at ``θ = 0.1`` among 50 impressions is 0.2), and a pairwise learner turns every small difference
between two equally relevant items into a preference. The posterior mode snaps each item onto an atom of the
estimated prior: items whose clicks are conclusive get identical labels, and the rest take the value their evidence
favours. With a user who rarely clicks what is not relevant the prior is two clusters (about 0.02 and 0.95 with
the music world's main click model) and the mode labels nearly denoise the log; with a noisy user the clusters
overlap and the posterior mean keeps more of the evidence (see the README's learning-to-rank section).

One prior for every item is what fails on a rare middle level: with the main click model about 1.5% of shown items
have attractiveness 0.6, the prior puts 0.5-1.2% there, and an item seen at a deep position is labelled 0.95
unless its clicks say otherwise. :func:`feature_conditioned_posterior` lets the prior depend on the item's ranking
features, in the spirit of regression EM (Wang et al., WSDM 2018): a gradient-boosted classifier, fitted on the other
queries' posteriors (cross-fitting, so no item's own clicks shape its prior), predicts each item's mix of the
prior's clusters.

Even then, telling 0.6 from 0.95 at a deep position takes far more impressions than a query gets (about 3 against
5 expected clicks in 50 impressions at ``θ = 0.1``), so equally relevant items of one query end up on different
atoms, and a pairwise learner turns the split into preferences. The ``"relevant"`` label asks the posterior only
what it can answer: is the item above the prior's lowest cluster (binary relevance, as regression EM models it)?
It gives up the order between upper clusters within a list, which is the weakest evidence the log holds.

Under cascade clicks most items below a clicked one are never examined, and their posterior is the global prior; as
soft targets they teach the classifier that prior whatever their features say. ``informative`` fits it on the
well-examined items only (``posterior_click_lists(min_examinations=...)``), and the rest still get its prediction.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)
LABELS = ("mode", "mean", "relevant")


def attractiveness_posterior(item: np.ndarray, position: np.ndarray, clicks: np.ndarray,
                             propensities: np.ndarray, grid_size: int = 101, iters: int = 500,
                             tol: float = 1e-9,
                             n_items: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior of every item's PBM attractiveness under the prior estimated from all items (NPMLE by EM).

    Parameters
    ----------
    item : numpy.ndarray of int, shape ``(m,)``
        Item id ``0..n_items - 1`` of each shown instance (one row per item per impression).
    position : numpy.ndarray of int, shape ``(m,)``
        1-based display position of each instance; positions beyond ``len(propensities)`` take the last one.
    clicks : numpy.ndarray of bool, shape ``(m,)``
    propensities : numpy.ndarray, shape ``(L,)``
        ``θ_1..θ_L`` in ``(0, 1]`` (estimated, e.g. by :class:`~ltrr.rerank.propensity.SwapInterventions`).
    grid_size : int
        Support points of the prior, evenly spaced on ``[0, 1]``.
    iters : int
        Most EM iterations for the prior.
    tol : float
        Stop when no prior weight moves by more than this.
    n_items : int, optional
        Number of items (default ``item.max() + 1``); an item with no instance gets the prior as its posterior.

    Returns
    -------
    grid : numpy.ndarray, shape ``(G,)``
    prior : numpy.ndarray, shape ``(G,)``
        The estimated mixing distribution ``π`` (sums to 1).
    posterior : numpy.ndarray, shape ``(n_items, G)``
        Each item's posterior over the grid (rows sum to 1).
    """
    item, position = np.asarray(item, dtype=np.int64), np.asarray(position, dtype=np.int64)
    clicks = np.asarray(clicks, dtype=float)
    theta = np.asarray(propensities, dtype=float)
    if not (len(item) == len(position) == len(clicks)):
        raise ValueError(f"item ({len(item)}), position ({len(position)}) and clicks ({len(clicks)}) need one "
                         f"entry per shown instance")
    if len(item) == 0:
        raise ValueError("no shown instance to estimate attractiveness from")
    if theta.ndim != 1 or len(theta) == 0 or np.any(theta <= 0) or np.any(theta > 1):
        raise ValueError("propensities must be a non-empty vector in (0, 1]")
    if item.min() < 0 or position.min() < 1:
        raise ValueError("item ids must be >= 0 and positions 1-based")
    if grid_size < 2 or iters < 1:
        raise ValueError(f"grid_size must be >= 2 and iters >= 1, got {grid_size} and {iters}")
    pos = np.minimum(position, len(theta)) - 1
    # sufficient statistics per (item, position): impressions and clicks
    cell, inv = np.unique(item * len(theta) + pos, return_inverse=True)
    inv = inv.ravel()
    n, c = np.bincount(inv).astype(float), np.bincount(inv, clicks)
    grid = np.linspace(0.0, 1.0, grid_size)
    p = np.clip(theta[cell % len(theta)][:, None] * grid[None, :], 1e-12, 1 - 1e-12)
    ll_cell = c[:, None] * np.log(p) + (n - c)[:, None] * np.log1p(-p)
    n_items = int(item.max()) + 1 if n_items is None else int(n_items)
    if n_items <= item.max():
        raise ValueError(f"n_items ({n_items}) must exceed the largest item id ({int(item.max())})")
    ll = np.zeros((n_items, grid_size))
    np.add.at(ll, cell // len(theta), ll_cell)
    lik = np.exp(ll - ll.max(axis=1, keepdims=True))
    has = np.bincount(item, minlength=n_items) > 0
    prior = np.full(grid_size, 1.0 / grid_size)
    for it in range(iters):
        post = lik[has] * prior
        post /= post.sum(axis=1, keepdims=True)
        new = post.mean(axis=0)
        done = np.abs(new - prior).max() <= tol
        prior = new
        if done:
            break
    posterior = lik * prior
    posterior /= posterior.sum(axis=1, keepdims=True)
    log.info("attractiveness prior from %d items (%d EM iterations): mass at %s", int(has.sum()), it + 1,
             {round(float(g), 2): round(float(w), 3) for g, w in zip(grid, prior) if w > 0.02})
    return grid, prior, posterior


def attractiveness_labels(posterior: np.ndarray, grid: np.ndarray, label: str = "mode",
                          cut: float | None = None) -> np.ndarray:
    """One label per item from :func:`attractiveness_posterior`, shape ``(n_items,)``.

    Parameters
    ----------
    posterior : numpy.ndarray, shape ``(n_items, G)``
    grid : numpy.ndarray, shape ``(G,)``
    label : {"mode", "mean", "relevant"}
        ``"mode"``: the posterior mode (an atom of the prior). ``"mean"``: the posterior mean. ``"relevant"``: 1
        where the posterior puts more than half its mass above ``cut`` (attractiveness above the prior's lowest
        cluster: binary relevance, as in regression EM), else 0.
    cut : float, optional
        The attractiveness above which an item counts as relevant (``label="relevant"`` only; see
        :func:`relevance_cut`).
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if label == "relevant":
        if cut is None:
            raise ValueError("label='relevant' needs the cut above which attractiveness counts as relevant")
        return (posterior[:, grid > cut].sum(axis=1) > 0.5).astype(float)
    return grid[posterior.argmax(axis=1)] if label == "mode" else posterior @ grid


def relevance_cut(grid: np.ndarray, prior: np.ndarray) -> float | None:
    """The top of the prior's lowest cluster (:func:`prior_clusters`): attractiveness above it counts as relevant;
    ``None`` when the prior is one cluster (nothing to tell relevant items from the rest)."""
    clusters = prior_clusters(grid, prior)
    return float(grid[clusters[0]].max()) if len(clusters) > 1 else None


def prior_clusters(grid: np.ndarray, prior: np.ndarray, min_mass: float = 1e-3,
                   gap: float = 0.1) -> list[np.ndarray]:
    """Group the estimated prior's support into clusters of nearby grid points.

    EM on a grid spreads each atom of the NPMLE over a few neighbouring points; points with at least ``min_mass``
    that lie within ``gap`` of each other form one cluster.

    Returns
    -------
    list of numpy.ndarray of int
        Grid indices of each cluster, in increasing attractiveness.
    """
    idx = np.flatnonzero(prior >= min_mass)
    if len(idx) == 0:
        raise ValueError(f"no grid point carries min_mass={min_mass} of the prior")
    cut = np.flatnonzero(np.diff(grid[idx]) > gap) + 1
    return np.split(idx, cut)


def feature_conditioned_posterior(posterior: np.ndarray, grid: np.ndarray, prior: np.ndarray, X: np.ndarray,
                                  group: np.ndarray, folds: int = 2, trees: int = 100, seed: int = 0,
                                  threads: int = 0,
                                  informative: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each item's posterior over the prior's clusters under a prior predicted from its features.

    Parameters
    ----------
    posterior : numpy.ndarray, shape ``(n_items, G)``
        From :func:`attractiveness_posterior` (under the global ``prior``).
    grid, prior : numpy.ndarray, shape ``(G,)``
    X : numpy.ndarray, shape ``(n_items, F)``
        Each item's ranking features.
    group : numpy.ndarray of int, shape ``(n_items,)``
        Each item's query: folds split queries, so the classifier that sets an item's prior never saw its query.
    folds, trees, seed, threads : int
        Cross-fitting folds; boosting rounds, seed and threads of LightGBM's multiclass classifier.
    informative : numpy.ndarray of bool, shape ``(n_items,)``, optional
        The items the classifier is fitted on (default: all). An item examined a few times has a posterior close to
        the global prior, and as a soft target it teaches the classifier the global prior whatever its features say;
        leaving such items out of the fit (they still get a predicted prior) lets the well-observed items decide.
        Where the other folds hold fewer than 100 informative items (a small log), the fold's classifier is fitted on
        every item, with a warning.

    Returns
    -------
    centers : numpy.ndarray, shape ``(K,)``
        Each cluster's prior-weighted attractiveness (:func:`prior_clusters`).
    cluster_posterior : numpy.ndarray, shape ``(n_items, K)``
        Rows sum to 1.
    """
    import lightgbm as lgb

    X, group = np.asarray(X, dtype=np.float32), np.asarray(group)
    if not (len(X) == len(group) == len(posterior)):
        raise ValueError(f"posterior ({len(posterior)}), X ({len(X)}) and group ({len(group)}) need one row per item")
    if folds < 2:
        raise ValueError(f"folds must be >= 2 (cross-fitting), got {folds}")
    fit_on = np.ones(len(X), dtype=bool) if informative is None else np.asarray(informative, dtype=bool)
    if len(fit_on) != len(X):
        raise ValueError(f"informative ({len(fit_on)}) needs one entry per item ({len(X)})")
    clusters = prior_clusters(grid, prior)
    mass = np.array([prior[c].sum() for c in clusters])
    centers = np.array([prior[c] @ grid[c] for c in clusters]) / mass
    post = np.stack([posterior[:, c].sum(axis=1) for c in clusters], axis=1)
    post /= post.sum(axis=1, keepdims=True)
    K = len(clusters)
    if K < 2:
        return centers, post
    lik = post / mass  # each cluster's likelihood, up to a per-item constant
    queries = np.unique(group)
    if len(queries) < folds:
        raise ValueError(f"cross-fitting over {folds} folds needs items of at least {folds} queries, got "
                         f"{len(queries)}")
    rng = np.random.default_rng(seed)
    while True:  # every fold gets a query (redrawn only in the rare case one stays empty)
        fold_of_query = rng.integers(0, folds, len(queries))
        if len(np.unique(fold_of_query)) == folds:
            break
    fold = fold_of_query[np.searchsorted(queries, group)]
    item_prior = np.empty_like(post)
    params = {"objective": "multiclass", "num_class": K, "learning_rate": 0.1, "num_leaves": 31,
              "min_data_in_leaf": 50, "seed": int(seed), "deterministic": True, "verbosity": -1,
              "num_threads": int(threads)}
    for f in range(folds):
        tr, te = (fold != f) & fit_on, fold == f
        if informative is not None and tr.sum() < 2 * params["min_data_in_leaf"]:  # too few well-examined: all
            log.warning("feature_conditioned_posterior: %d informative items outside fold %d, too few to fit the "
                        "prior on; fitting on every item there", int(tr.sum()), f)
            tr = fold != f
        # soft targets: each item once per cluster, weighted by its posterior
        w = post[tr].ravel()
        keep = w > 1e-4
        ds = lgb.Dataset(np.repeat(X[tr], K, axis=0)[keep], np.tile(np.arange(K), int(tr.sum()))[keep],
                         weight=w[keep], params={"verbosity": -1})
        item_prior[te] = lgb.train(params, ds, num_boost_round=trees).predict(X[te])
    item_prior = np.clip(item_prior, 1e-4, None)
    out = lik * item_prior
    out /= out.sum(axis=1, keepdims=True)
    log.info("feature-conditioned prior: clusters at %s; items moved to another cluster's mode: %d of %d",
             np.round(centers, 3).tolist(), int((out.argmax(axis=1) != post.argmax(axis=1)).sum()), len(out))
    return centers, out
