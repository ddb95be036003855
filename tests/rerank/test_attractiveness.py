"""PBM attractiveness by empirical Bayes: the prior, the labels, the training lists built from them."""

import numpy as np
import pytest

from ltrr.rerank.attractiveness import (attractiveness_labels, attractiveness_posterior,
                                        feature_conditioned_posterior, prior_clusters, relevance_cut)
from ltrr.rerank.propensity import cascade_reached
from ltrr.simulate.click_logs import ClickLog, aggregated_click_lists, posterior_click_lists


def pbm_log(n_q=400, k=10, m=20_000, levels=(0.05, 0.9), share=(0.7, 0.3), seed=0):
    """Fixed rankings of ``k`` items per query, attractiveness drawn from ``levels``, PBM clicks with θ = 1/k."""
    rng = np.random.default_rng(seed)
    alpha = rng.choice(levels, size=(n_q, k), p=share)
    theta = 1.0 / np.arange(1, k + 1)
    q = rng.integers(0, n_q, m)
    items = np.tile(np.arange(k), (m, 1))
    clicks = rng.random((m, k)) < theta * alpha[q]
    return ClickLog(q, items, clicks), alpha, theta


def test_prior_recovers_a_two_point_mixture_and_the_mode_denoises():
    log, alpha, theta = pbm_log()
    item = (log.query[:, None] * 10 + log.items).ravel()
    pos = np.tile(np.arange(1, 11), len(log.query))
    grid, prior, post = attractiveness_posterior(item, pos, log.clicks.ravel(), theta)
    assert prior.sum() == pytest.approx(1.0) and np.allclose(post.sum(axis=1), 1.0)
    near = lambda a: prior[np.abs(grid - a) <= 0.04].sum()  # noqa: E731
    assert near(0.05) == pytest.approx(0.7, abs=0.05) and near(0.9) == pytest.approx(0.3, abs=0.05)
    truth = alpha.ravel()
    mode = attractiveness_labels(post, grid, "mode")
    assert np.mean((mode > 0.5) == (truth > 0.5)) >= 0.97
    # the IPS mean of the same clicks is unbiased but far noisier than the mode
    ips = aggregated_click_lists(log, [np.zeros((10, 1))] * 400, theta)
    assert np.mean((mode - truth) ** 2) < 0.5 * np.mean((ips.gains - truth) ** 2)
    mean = attractiveness_labels(post, grid, "mean")
    assert np.all((mean >= 0) & (mean <= 1)) and np.corrcoef(mean, truth)[0, 1] > 0.9


def test_posterior_click_lists_label_each_query_s_shown_candidates():
    log, alpha, theta = pbm_log(n_q=200, m=10_000, seed=1)
    feats = [np.stack([np.full(12, q), np.arange(12)], axis=1).astype(np.float32) for q in range(200)]  # 2 unshown
    data = posterior_click_lists(log, feats, theta)
    assert np.all(data.weights == 1) and np.all(np.diff(data.offsets) == 10)  # only shown candidates
    q, i = data.X[:, 0].astype(int), data.X[:, 1].astype(int)
    assert np.all(i < 10) and np.mean((data.gains > 0.5) == (alpha[q, i] > 0.5)) >= 0.95
    # a query whose shown items all sit at the lowest label carries no preference and is left out
    floor = data.gains.min()
    assert all(data.gains[a:b].max() > floor for a, b in zip(data.offsets[:-1], data.offsets[1:]))
    assert {qq for qq in range(200) if (alpha[qq, :3] > 0.5).any()} <= set(q.tolist())
    assert data.n_lists < 200 and (alpha.max(axis=1) < 0.5).sum() > 0  # the queries with nothing relevant


@pytest.mark.parametrize("kwargs, match", [
    (dict(propensities=np.array([1.0, 0.0])), "propensities"),
    (dict(position=np.array([0, 1, 2])), "1-based"),
    (dict(clicks=np.array([True])), "one entry per shown instance"),
    (dict(grid_size=1), "grid_size"),
])
def test_attractiveness_posterior_rejects_bad_input(kwargs, match):
    args = dict(item=np.array([0, 1, 1]), position=np.array([1, 2, 1]), clicks=np.array([True, False, True]),
                propensities=np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match=match):
        attractiveness_posterior(**{**args, **kwargs})
    with pytest.raises(ValueError, match="label"):
        attractiveness_labels(np.ones((1, 2)) / 2, np.array([0.0, 1.0]), "median")


def test_cascade_lists_count_only_what_the_user_reached():
    rng = np.random.default_rng(2)
    n_q, k, m = 300, 10, 15_000
    alpha = rng.choice([0.05, 0.9], size=(n_q, k), p=[0.8, 0.2])
    q = rng.integers(0, n_q, m)
    items = np.tile(np.arange(k), (m, 1))
    clicks = np.zeros((m, k), dtype=bool)
    attracted = rng.random((m, k)) < alpha[q]
    first = np.where(attracted.any(axis=1), attracted.argmax(axis=1), -1)
    clicks[np.flatnonzero(first >= 0), first[first >= 0]] = True  # the cascade: the first attractive item only
    feats = [np.stack([np.full(k, qq), np.arange(k)], axis=1).astype(np.float32) for qq in range(n_q)]
    log = ClickLog(q, items, clicks)
    data = posterior_click_lists(log, feats, examination="cascade")
    qq, i = data.X[:, 0].astype(int), data.X[:, 1].astype(int)
    reached = np.array([((log.query == a) & ~clicks[:, :b].any(axis=1)).sum() for a, b in zip(qq, i)])
    well = reached >= 5  # enough examinations for the label to be decided by the clicks
    assert well.sum() > 500 and np.mean((data.gains[well] > 0.5) == (alpha[qq, i][well] > 0.5)) >= 0.97
    # the position-based likelihood with 1/k propensities is the wrong model here: it mislabels more
    pbm = posterior_click_lists(log, feats, 1.0 / np.arange(1, k + 1))
    acc = lambda d: np.mean((d.gains > 0.5) == (alpha[d.X[:, 0].astype(int), d.X[:, 1].astype(int)] > 0.5))  # noqa
    assert acc(data) > acc(pbm) + 0.03
    with pytest.raises(ValueError, match="examination"):
        posterior_click_lists(log, feats, examination="dbn")
    with pytest.raises(ValueError, match="propensities"):
        posterior_click_lists(log, feats)


def test_prior_clusters_group_neighbouring_grid_points():
    grid = np.linspace(0, 1, 101)
    prior = np.zeros(101)
    prior[[1, 2, 3, 60, 61, 95]] = [0.3, 0.3, 0.1, 0.05, 0.05, 0.2]
    prior[40] = 1e-5  # below min_mass: not a cluster of its own
    assert [c.tolist() for c in prior_clusters(grid, prior)] == [[1, 2, 3], [60, 61], [95]]
    assert len(prior_clusters(grid, prior, gap=0.5)) == 2
    with pytest.raises(ValueError, match="min_mass"):
        prior_clusters(grid, prior, min_mass=0.5)


def three_level_log(seed=0, n_q=600, k=10, m=30_000):
    """A rare middle level (3% of items at 0.5, between 0.03 and 0.9) that a feature reveals; θ = 1/k."""
    rng = np.random.default_rng(seed)
    level = rng.choice(3, size=(n_q, k), p=[0.77, 0.03, 0.2])
    alpha = np.array([0.03, 0.5, 0.9])[level]
    theta = 1.0 / np.arange(1, k + 1)
    q = rng.integers(0, n_q, m)
    clicks = rng.random((m, k)) < theta * alpha[q]
    noise = rng.normal(0, 0.3, size=(n_q, k))
    feats = [np.stack([level[i] + noise[i], rng.normal(size=k)], axis=1).astype(np.float32) for i in range(n_q)]
    return ClickLog(q, np.tile(np.arange(k), (m, 1)), clicks), level, theta, feats


def test_a_feature_conditioned_prior_finds_the_rare_middle_level():
    log, level, theta, feats = three_level_log()
    item = (log.query[:, None] * 10 + log.items).ravel()
    pos = np.tile(np.arange(1, 11), len(log.query))
    grid, prior, post = attractiveness_posterior(item, pos, log.clicks.ravel(), theta)
    X = np.concatenate(feats)
    group = np.repeat(np.arange(len(feats)), 10)
    centers, cpost = feature_conditioned_posterior(post, grid, prior, X, group, trees=30, seed=0, threads=1)
    assert len(centers) == 3 and np.allclose(cpost.sum(axis=1), 1.0)
    assert centers[0] < 0.1 and 0.3 < centers[1] < 0.7 and centers[2] > 0.8
    truth = level.ravel()
    mid = truth == 1
    glob = np.abs(attractiveness_labels(post, grid, "mode")[:, None] - centers).argmin(axis=1)
    feat = cpost.argmax(axis=1)
    # one prior for all items labels most middle items as their neighbours; the features recover many
    assert np.mean(feat[mid] == 1) > np.mean(glob[mid] == 1) + 0.15  # 0.58 against 0.33 with this seed
    assert np.mean(feat == truth) > np.mean(glob == truth) + 0.008
    # cross-fitting: a feature that is pure noise cannot move labels away from what the clicks say
    noise = X[:, [1, 1]]
    _, npost = feature_conditioned_posterior(post, grid, prior, noise, group, trees=30, seed=0, threads=1)
    assert np.mean(npost.argmax(axis=1) == truth) >= np.mean(glob == truth) - 0.005
    with pytest.raises(ValueError, match="folds"):
        feature_conditioned_posterior(post, grid, prior, X, group, folds=1)
    with pytest.raises(ValueError, match="one row per item"):
        feature_conditioned_posterior(post, grid, prior, X[:5], group)
    with pytest.raises(ValueError, match="at least 2 queries"):
        feature_conditioned_posterior(post, grid, prior, X, np.zeros(len(X), dtype=int))
    # three queries: every fold still gets one, whatever the draw
    few = np.arange(30)
    _, p3 = feature_conditioned_posterior(post[few], grid, prior, X[few], group[few], trees=2, seed=4, threads=1)
    assert np.allclose(p3.sum(axis=1), 1.0)


def test_posterior_click_lists_with_a_feature_prior():
    log, level, theta, feats = three_level_log(seed=1, n_q=300, m=15_000)
    data = posterior_click_lists(log, feats, theta, prior="features", threads=1)
    again = posterior_click_lists(log, feats, theta, prior="features", threads=1)
    assert np.array_equal(data.gains, again.gains)  # seeded
    assert len(np.unique(data.gains)) == 3  # labels are the clusters' centres
    with pytest.raises(ValueError, match="prior"):
        posterior_click_lists(log, feats, theta, prior="learned")


def test_a_log_that_moves_no_mode_falls_back_to_the_means(caplog):
    log, _, theta = pbm_log(n_q=50, m=500, seed=3)
    log.clicks[:] = False  # no click at all: every item's mode is the prior's one atom
    feats = [np.stack([np.full(10, q), np.arange(10)], axis=1).astype(np.float32) for q in range(50)]
    with caplog.at_level("WARNING"):
        data = posterior_click_lists(log, feats, theta)
    assert "posterior means instead" in caplog.text and data.n_lists > 0
    caplog.clear()
    with caplog.at_level("WARNING"):  # one cluster: the feature prior has nothing to choose between
        again = posterior_click_lists(log, feats, theta, prior="features", threads=1)
    assert "one cluster" in caplog.text and np.array_equal(again.gains, data.gains)
    # the means still carry the evidence: an item never clicked at position 1 is surely unattractive, one never
    # clicked at position 10 (seen a tenth as often) less surely
    first = data.gains[data.offsets[:-1]]
    last = data.gains[data.offsets[1:] - 1]
    assert np.all(first < last)


def test_relevant_labels_split_at_the_prior_s_lowest_cluster():
    grid = np.linspace(0, 1, 11)
    prior = np.zeros(11)
    prior[[0, 1, 6, 9]] = [0.5, 0.3, 0.05, 0.15]
    cut = relevance_cut(grid, prior)
    assert cut == pytest.approx(0.1)  # the top of the lowest cluster {0.0, 0.1}
    post = np.zeros((4, 11))
    post[0, 1] = 1.0  # surely in the lowest cluster
    post[1, [6, 9]] = [0.5, 0.5]  # surely relevant, whether middle or top
    post[2, [1, 9]] = [0.6, 0.4]  # more likely irrelevant
    post[3, [1, 6, 9]] = [0.4, 0.3, 0.3]  # mode in the lowest cluster, but relevant with probability 0.6
    assert attractiveness_labels(post, grid, "relevant", cut).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert attractiveness_labels(post, grid, "mode")[3] == pytest.approx(0.1)
    assert relevance_cut(grid, np.eye(11)[3]) is None  # one cluster: nothing to split
    with pytest.raises(ValueError, match="cut"):
        attractiveness_labels(post, grid, "relevant")


def test_posterior_click_lists_with_relevant_labels():
    log, level, theta, feats = three_level_log(seed=1, n_q=300, m=15_000)
    truth = {row.tobytes(): lv for f, lvs in zip(feats, level) for row, lv in zip(f, lvs)}
    for prior in ("global", "features"):
        data = posterior_click_lists(log, feats, theta, label="relevant", prior=prior, threads=1)
        assert set(np.unique(data.gains).tolist()) == {0.0, 1.0}
        lv = np.array([truth[row.tobytes()] for row in data.X])
        assert np.mean((data.gains == 1) == (lv > 0)) > 0.97  # middle and top items alike count as relevant
        assert np.mean(data.gains[lv == 1]) > 0.8
    mode = posterior_click_lists(log, feats, theta, prior="features", threads=1)
    assert np.array_equal(data.X, mode.X)  # the same lists: a list has a relevant item where it has a top label
    assert np.mean((data.gains == 1) == (mode.gains > mode.gains.min())) > 0.99


def test_relevant_labels_fall_back_to_the_means_with_one_cluster(caplog):
    log, _, theta = pbm_log(n_q=50, m=500, seed=3)
    log.clicks[:] = False
    feats = [np.stack([np.full(10, q), np.arange(10)], axis=1).astype(np.float32) for q in range(50)]
    means = posterior_click_lists(log, feats, theta, label="mean")
    with caplog.at_level("WARNING"):
        data = posterior_click_lists(log, feats, theta, label="relevant")
    assert "no item can be told relevant" in caplog.text and np.array_equal(data.gains, means.gains)


def test_fitting_the_feature_prior_on_well_examined_items_only(caplog):
    log, level, theta, feats = three_level_log(m=10_000)  # about 17 impressions per query: deep items barely seen
    item = (log.query[:, None] * 10 + log.items).ravel()
    pos = np.tile(np.arange(1, 11), len(log.query))
    grid, prior, post = attractiveness_posterior(item, pos, log.clicks.ravel(), theta)
    X, group = np.concatenate(feats), np.repeat(np.arange(len(feats)), 10)
    n_exam = np.bincount(item, theta[pos - 1], minlength=len(X))
    truth = level.ravel()
    _, every = feature_conditioned_posterior(post, grid, prior, X, group, trees=30, seed=0, threads=1)
    _, well = feature_conditioned_posterior(post, grid, prior, X, group, trees=30, seed=0, threads=1,
                                            informative=n_exam >= 5)
    # a barely seen item's posterior is about the global prior: as a target it teaches the classifier that prior
    assert np.mean(well.argmax(axis=1) == truth) > np.mean(every.argmax(axis=1) == truth) + 0.01  # 0.979 vs 0.960
    mid = truth == 1
    assert np.mean(well[mid].argmax(axis=1) == 1) > np.mean(every[mid].argmax(axis=1) == 1) + 0.1
    with pytest.raises(ValueError, match="one entry per item"):
        feature_conditioned_posterior(post, grid, prior, X, group, informative=n_exam[:5] >= 5)
    # too few well-examined items to fit on (a small log): every item is used, as without the mask
    with caplog.at_level("WARNING"):
        _, none = feature_conditioned_posterior(post, grid, prior, X, group, trees=30, seed=0, threads=1,
                                                informative=n_exam >= 1e9)
    assert "too few to fit the prior on" in caplog.text and np.allclose(none, every)


def test_posterior_click_lists_min_examinations():
    log, level, theta, feats = three_level_log(seed=1, n_q=300, m=5_000)
    truth = {row.tobytes(): lv for f, lvs in zip(feats, level) for row, lv in zip(f, lvs)}
    acc = {}
    for m in (0.0, 5.0):
        data = posterior_click_lists(log, feats, theta, label="relevant", prior="features", threads=1,
                                     min_examinations=m)
        lv = np.array([truth[row.tobytes()] for row in data.X])
        acc[m] = np.mean((data.gains == 1) == (lv > 0))
    assert acc[5.0] > acc[0.0]
    # the cascade counts the impressions that reached an item
    clicks = log.clicks & cascade_reached(log.clicks)
    casc = ClickLog(log.query, log.items, clicks)
    data = posterior_click_lists(casc, feats, examination="cascade", label="relevant", prior="features", threads=1,
                                 min_examinations=3)
    assert set(np.unique(data.gains).tolist()) == {0.0, 1.0}
