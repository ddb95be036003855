"""The dual learning algorithm: propensities recovered from an ordinary click log, a ranker freed from the
logger's position bias, state round trip, and the learned rank stage feeding it display positions."""

from __future__ import annotations

import numpy as np
import pytest

from ltrr.rerank.dla import DualLearningRanker
from ltrr.rerank.learned import LearnedReranker
from ltrr.rerank.neural_ranker import NeuralListwiseRanker
from ltrr.rerank.ranker import ListData
from ltrr.utils.statefile import load_state, save_state

THETA = 1 / np.arange(1, 11)


def pbm_click_lists(n: int, seed: int, logger_feature: int) -> ListData:
    """Impressions of 10 items: attractiveness ``sigmoid(3 x_0 - 1)``, shown in the order of feature
    ``logger_feature`` plus noise, clicked with probability ``θ_k α`` (PBM, ``θ_k = 1 / k``). Only impressions
    with a click are kept, with their display positions."""
    rng = np.random.default_rng(seed)
    X, G, P = [], [], []
    for _ in range(n):
        x = rng.normal(size=(10, 3)).astype(np.float32)
        x = x[np.argsort(-(x[:, logger_feature] + rng.normal(0, 0.5, 10)))]
        alpha = 1 / (1 + np.exp(-(3 * x[:, 0] - 1)))
        c = rng.random(10) < THETA * alpha
        if c.any():
            X.append(x)
            G.append(c.astype(float))
            P.append(np.arange(1, 11))
    return ListData.from_lists(X, G, positions=P)


def test_dla_recovers_known_examination_from_an_ordinary_click_log():
    data = pbm_click_lists(8000, seed=0, logger_feature=0)
    dla = DualLearningRanker(hidden=(16,), epochs=10, seed=0).fit(data)
    assert dla.propensities_[0] == 1.0
    np.testing.assert_allclose(dla.propensities_, THETA, atol=0.06)


def test_dla_learns_relevance_where_the_naive_ranker_learns_the_logger():
    """The logger orders by feature 1, which says nothing about relevance: naive click training learns it, DLA
    corrects the position bias and ranks by feature 0."""
    data = pbm_click_lists(6000, seed=1, logger_feature=1)
    dla = DualLearningRanker(hidden=(16,), epochs=10, seed=0).fit(data)
    naive = NeuralListwiseRanker(hidden=(16,), epochs=10, seed=0).fit(data)
    rng = np.random.default_rng(2)
    grid = rng.normal(size=(2000, 3)).astype(np.float32)

    def corr(r, j):
        return float(np.corrcoef(r.score(grid), grid[:, j])[0, 1])

    assert corr(dla, 0) > 0.9 and abs(corr(dla, 1)) < 0.15
    assert corr(naive, 1) > 0.3                      # the naive ranker learned the logger's feature
    np.testing.assert_allclose(dla.propensities_, THETA, atol=0.1)   # noisier: the logger ignores relevance


def test_dla_round_trips_and_needs_positions(tmp_path):
    data = pbm_click_lists(1500, seed=3, logger_feature=0)
    dla = DualLearningRanker(hidden=(8,), epochs=2, min_steps=50, seed=0).fit(data)
    save_state(tmp_path / "d.npz", {"ranker": dla.state_dict()})
    again = DualLearningRanker(hidden=(8,))
    again.load_state_dict(load_state(tmp_path / "d.npz")["ranker"])
    np.testing.assert_allclose(again.score(data.X[:10]), dla.score(data.X[:10]), rtol=1e-6)
    np.testing.assert_allclose(again.propensities_, dla.propensities_)
    again.load_state_dict({})
    assert not again.fitted and again.propensities_ is None
    with pytest.raises(ValueError, match="display positions"):
        DualLearningRanker().fit(ListData.from_lists([data.X[:10]], [data.gains[:10]]))
    with pytest.raises(ValueError, match="1-based"):
        ListData.from_lists([data.X[:3]], [data.gains[:3]], positions=[np.array([0, 1, 2])])
    with pytest.raises(ValueError, match="n_positions"):
        DualLearningRanker(n_positions=1)


def test_learned_stage_passes_display_positions(tiny_world):
    from ltrr.rerank.features import RankFeaturizer

    feat = RankFeaturizer(["bm25"], tiny_world.docs, {})
    rr = LearnedReranker(feat, DualLearningRanker(hidden=(8,), n_positions=8, epochs=1), top_n=8, show_k=5)
    lists = [(np.zeros((5, feat.dim), np.float32), np.array([0, 1, 0, 0, 0.0])),
             (np.zeros((3, feat.dim), np.float32), np.array([1, 0, 0.0]))]
    data = rr._training_data(lists, rr.propensities())
    np.testing.assert_array_equal(data.positions, [1, 2, 3, 4, 5, 1, 2, 3])
    sub = data.subset(np.array([1]))
    np.testing.assert_array_equal(sub.positions, [1, 2, 3])
    rr._buf = lists * 20
    rr.ranker.min_steps = 5
    rr.retrain()
    assert rr.ranker.fitted and rr.ranker.propensities_.shape == (8,) and rr.fits == 1
