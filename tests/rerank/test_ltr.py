"""Learning to rank from clicks: features, objectives, propensities, rankers, the learned rank stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ltrr.losses.ltr import lambda_gradients, list_ranks, listwise_softmax_loss, preference_pairs
from ltrr.qu.tagger import QueryUnderstanding
from ltrr.rerank.features import RankFeaturizer
from ltrr.rerank.fusion import RRFFusion
from ltrr.rerank.lambdamart import LambdaMARTRanker
from ltrr.rerank.learned import LearnedReranker
from ltrr.rerank.neural_ranker import NeuralListwiseRanker
from ltrr.rerank.propensity import SwapInterventions, cascade_propensities, ips_weights, pbm_examination
from ltrr.rerank.ranker import ListData
from ltrr.simulate.click_logs import click_lists, label_lists, simulate_click_log
from ltrr.simulate.click_models import CascadeModel, PositionBasedModel
from ltrr.types import ArmResult, Candidate, Query
from ltrr.utils.statefile import load_state, save_state


def arm_result(arm, ids):
    n = len(ids)
    return ArmResult(arm, tuple(Candidate(d, float(n - i), i + 1, arm, (n - 1 - i) / max(n - 1, 1))
                                for i, d in enumerate(ids)))


def toy_lists(n_lists=300, L=8, F=5, seed=0, noise=0.3):
    """Lists whose grade is a noisy function of feature 0 (and not of the others)."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(L, F)).astype(np.float32) for _ in range(n_lists)]
    g = [np.digitize(x[:, 0] + noise * rng.normal(size=L), [0.5, 1.2]).astype(float) for x in X]
    return X, g


def ndcg10(scores, grades):
    order = np.argsort(-scores)[:10]
    dcg = np.sum((2 ** grades[order] - 1) / np.log2(np.arange(2, len(order) + 2)))
    ideal = np.sort(grades)[::-1][:10]
    idcg = np.sum((2 ** ideal - 1) / np.log2(np.arange(2, len(ideal) + 2)))
    return dcg / idcg if idcg > 0 else 0.0


# ----------------------------------------------------------------- objectives
def test_lambda_gradients_push_preferred_items_up_and_sum_to_zero():
    offsets = np.array([0, 3, 5])
    gains = np.array([0.0, 2.0, 0.0, 1.0, 0.0])
    scores = np.array([1.0, 0.0, -1.0, 0.0, 0.5])
    grad, hess = lambda_gradients(scores, gains, np.ones(5), offsets)
    assert grad[1] < 0 and grad[3] < 0          # relevant items: the loss falls as their score rises
    assert grad[0] > 0 and grad[4] > 0
    assert abs(grad[:3].sum()) < 1e-12 and abs(grad[3:].sum()) < 1e-12
    assert np.all(hess >= 0)
    # a per-item weight scales the pairs the item is preferred in
    g2, _ = lambda_gradients(scores, gains, np.array([1, 3.0, 1, 1, 1]), offsets)
    np.testing.assert_allclose(g2[1], 3 * grad[1])
    np.testing.assert_allclose(g2[3:], grad[3:])


def test_self_normalised_lambdas_weigh_every_list_alike():
    offsets = np.array([0, 2, 4])
    gains, scores = np.array([1.0, 0.0, 1.0, 0.0]), np.zeros(4)
    w = np.array([1.0, 1.0, 4.0, 1.0])
    raw, _ = lambda_gradients(scores, gains, w, offsets)
    norm, _ = lambda_gradients(scores, gains, w, offsets, normalize=True)
    assert raw[2] == pytest.approx(4 * raw[0])
    assert norm[2] == pytest.approx(norm[0]) and norm[0] == pytest.approx(raw[0])


def test_pairs_and_ranks():
    offsets = np.array([0, 3, 4])
    i, j = preference_pairs(offsets, np.array([1.0, 0.0, 2.0, 5.0]))
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (2, 0), (2, 1)]
    np.testing.assert_array_equal(list_ranks(np.array([0.1, 0.9, 0.5, 3.0]), offsets), [2, 0, 1, 0])


def test_positive_pairing_pairs_each_positive_with_every_other_item():
    offsets = np.array([0, 3, 4, 6])
    i, j = preference_pairs(offsets, np.array([1.0, 0.0, 1.0, 5.0, 0.0, 0.0]), pairing="positive")
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (0, 2), (2, 0), (2, 1)]
    with pytest.raises(ValueError, match="pairing"):
        preference_pairs(offsets, np.zeros(6), pairing="all")
    with pytest.raises(ValueError, match="pairing"):
        LambdaMARTRanker(pairing="clicked")


def test_positive_pairing_keeps_ips_click_lambdas_unbiased_under_pbm():
    """Averaged over simulated PBM impressions, IPS-weighted click lambdas with positive pairing equal the
    full-information lambdas with the attractiveness as gains; preference pairs (no pair of two clicks) do not."""
    rng = np.random.default_rng(0)
    alpha = np.array([0.9, 0.3, 0.95, 0.05, 0.6])
    theta = 1.0 / np.arange(1, 6)
    scores = np.array([0.1, 0.5, -0.2, 0.3, 0.0])
    n = 60_000
    clicks = (rng.random((n, 5)) < theta * alpha).astype(float)
    clicks = clicks[clicks.any(axis=1)]
    offsets = np.arange(len(clicks) + 1) * 5
    w, s = np.tile(1.0 / theta, len(clicks)), np.tile(scores, len(clicks))
    one = np.array([0, 5])
    for pairing in ("positive", "preference"):
        grad, _ = lambda_gradients(s, clicks.ravel(), w, offsets, pairing=pairing)
        ips = grad.reshape(-1, 5).sum(axis=0) / n
        full, _ = lambda_gradients(scores, alpha, np.ones(5), one, pairing=pairing)
        err = np.abs(ips - full).max()
        if pairing == "positive":
            assert err < 0.01, (ips, full)
        else:
            assert err > 0.05, (ips, full)


def test_listwise_loss_ignores_padding_and_weights_targets():
    s = torch.tensor([[2.0, 1.0, 0.0]])
    g = torch.tensor([[0.0, 1.0, 0.0]])
    m = torch.tensor([[True, True, False]])
    loss = listwise_softmax_loss(s, g, torch.ones_like(s), m)
    assert torch.isclose(loss, -torch.log_softmax(torch.tensor([2.0, 1.0]), 0)[1])
    assert torch.isclose(listwise_softmax_loss(s, g, 2 * torch.ones_like(s), m), 2 * loss)


# ----------------------------------------------------------------- propensities
def test_ips_weights_and_clipping():
    theta = pbm_examination(4, 1.0)
    np.testing.assert_allclose(ips_weights(np.array([1, 2, 4, 7]), theta), [1, 2, 4, 4])
    np.testing.assert_allclose(ips_weights(np.array([1, 4]), theta, clip=3.0), [1, 3])
    with pytest.raises(ValueError, match="1-based"):
        ips_weights(np.array([0]), theta)
    with pytest.raises(ValueError, match="propensities"):
        ips_weights(np.array([1]), np.array([0.0]))


def test_ips_weighted_clicks_recover_attractiveness():
    """Under PBM, clicks / θ_position average to the item's attractiveness wherever it is shown."""
    cm = PositionBasedModel(attractiveness=(0.1, 0.6, 0.9), eta=1.0, convert_prob=0.0)
    ranking = [f"d{i}" for i in range(10)]
    rel = {"d0": 1, "d4": 2, "d9": 1}
    log = simulate_click_log([ranking], [rel], cm, 20_000, seed=3)
    w = ips_weights(np.arange(1, 11), cm.examination(10))
    est = (log.clicks * w).mean(axis=0)
    truth = np.array([cm.attract[rel.get(d, 0)] for d in ranking])
    np.testing.assert_allclose(est, truth, atol=0.06)
    naive = log.clicks.mean(axis=0)
    assert abs(naive[9] - truth[9]) > 0.4       # the naive click rate is far off at the bottom


def test_cascade_propensities_recover_examination_and_attractiveness():
    """Under the cascade, ρ_d is the chance that no item above d was clicked, and clicks / ρ recover α_d; the
    query-averaged position-based θ (what the swap estimates) does not, for a query whose top item is relevant."""
    cm = CascadeModel(attractiveness=(0.2, 0.6, 0.9), convert_prob=0.0)
    rankings = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(8)]]
    rels = [{"a0": 2, "a3": 1}, {"b5": 1}]
    log = simulate_click_log(rankings, rels, cm, 40_000, seed=4, show_k=6)
    rho = cascade_propensities(log.query, log.items, log.clicks, [6, 8])
    assert [len(r) for r in rho] == [6, 8]
    for q, (ranking, rel) in enumerate(zip(rankings, rels)):
        alpha = np.array([cm.attract[rel.get(d, 0)] for d in ranking[:6]])
        truth = np.concatenate([[1.0], np.cumprod(1.0 - alpha)[:-1]])
        np.testing.assert_allclose(rho[q][:6], truth, atol=0.02)
        mine = log.query == q
        est = log.clicks[mine].mean(axis=0) / rho[q][:6]
        np.testing.assert_allclose(est, alpha, atol=0.05)
    assert np.all(rho[1][6:] == 0)  # never shown: never examined
    # a deep relevant item of query 0 (a3) is examined in ~7% of impressions: clicks / θ_position misjudge it
    assert rho[0][3] < 0.1
    # shrinkage: a huge prior gives every query the examination pooled per position
    pooled = cascade_propensities(log.query, log.items, log.clicks, [6, 8], prior=1e9)
    reached = (np.cumsum(log.clicks, axis=1) - log.clicks) == 0
    np.testing.assert_allclose(pooled[0][:6], reached.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(pooled[1][:6], pooled[0][:6], atol=1e-4)
    mid = cascade_propensities(log.query, log.items, log.clicks, [6, 8], prior=100.0)
    assert np.all((mid[0][:6] - rho[0][:6]) * (pooled[0][:6] - rho[0][:6]) >= 0)  # between the two


def test_cascade_propensities_validate():
    with pytest.raises(ValueError, match="disagree"):
        cascade_propensities(np.zeros(2, int), np.zeros((2, 3), int), np.zeros((2, 4), bool), [3])
    with pytest.raises(ValueError, match="beyond"):
        cascade_propensities(np.zeros(1, int), np.array([[0, 5]]), np.zeros((1, 2), bool), [3])
    with pytest.raises(ValueError, match="query indices"):
        cascade_propensities(np.array([1]), np.array([[0, 1]]), np.zeros((1, 2), bool), [3])
    with pytest.raises(ValueError, match="prior"):
        cascade_propensities(np.zeros(1, int), np.array([[0, 1]]), np.zeros((1, 2), bool), [3], prior=-1)


def test_swap_interventions_recover_known_examination():
    cm = PositionBasedModel(attractiveness=(0.05, 0.7, 0.95), eta=1.0, convert_prob=0.0)
    rng = np.random.default_rng(0)
    rankings, rels = [], []
    for q in range(200):  # logging ranker puts a relevant item on top most of the time
        ids = [f"q{q}_{i}" for i in range(10)]
        rankings.append(ids)
        rels.append({ids[0]: 2} if rng.random() < 0.7 else {ids[int(rng.integers(10))]: 1})
    swaps = SwapInterventions(10, rate=0.5, seed=1)
    simulate_click_log(rankings, rels, cm, 40_000, seed=2, interventions=swaps)
    theta = swaps.estimate()
    assert theta[0] == 1.0
    np.testing.assert_allclose(theta, cm.examination(10), atol=0.05)
    assert swaps.shown[1] > swaps.shown[2:].sum() * 0.9  # half of the impressions are the position-1 baseline


def test_swap_interventions_validate():
    with pytest.raises(ValueError, match="rate"):
        SwapInterventions(10, rate=0.0)
    with pytest.raises(ValueError, match="no click"):
        SwapInterventions(10).estimate()
    shown, k = SwapInterventions(5, rate=0.99, seed=0).intervene(list("abcde"))
    assert sorted(shown) == list("abcde") and shown[k - 1] == "a"


# ----------------------------------------------------------------- click logs
def test_click_lists_keep_clicked_impressions_with_position_weights():
    cm = PositionBasedModel(eta=1.0, convert_prob=0.0)
    feats = [np.arange(12, dtype=np.float32).reshape(6, 2)]
    log = simulate_click_log([[f"d{i}" for i in range(6)]], [{"d1": 2, "d3": 2}], cm, 500, seed=0, show_k=4)
    data = click_lists(log, feats, cm.examination(4))
    assert data.n_lists == int(log.clicks.any(axis=1).sum()) > 0
    assert np.all(np.diff(data.offsets) == 4)
    np.testing.assert_allclose(data.weights[:4], [1, 2, 3, 4])
    np.testing.assert_array_equal(data.X[:4], feats[0][:4])
    assert click_lists(log, feats).weights.max() == 1.0
    full = label_lists(feats, [np.array([0, 2, 0, 2, 0, 0.0])])
    assert full.n_lists == 1 and len(full.X) == 6


def test_list_data_validates_and_subsets():
    with pytest.raises(ValueError, match="offsets"):
        ListData(np.zeros((3, 2), np.float32), np.array([0, 2]), np.zeros(3), np.ones(3))
    d = ListData.from_lists([np.zeros((2, 1)), np.ones((3, 1))], [np.zeros(2), np.ones(3)])
    s = d.subset(np.array([1]))
    assert s.n_lists == 1 and len(s.X) == 3 and s.X.min() == 1
    idx, mask = d.padded_index()
    assert idx.shape == (2, 3) and mask.sum() == 5 and idx[0, 2] == -1


# ----------------------------------------------------------------- rankers
@pytest.mark.parametrize("make", [lambda: LambdaMARTRanker(n_trees=60, min_data_in_leaf=10, threads=1),
                                  lambda: NeuralListwiseRanker(hidden=(16,), epochs=15, batch_lists=32)])
def test_rankers_learn_the_relevant_feature_and_round_trip(make, tmp_path):
    X, g = toy_lists()
    ranker = make().fit(ListData.from_lists(X, g))
    Xt, gt = toy_lists(seed=1)
    learned = np.mean([ndcg10(ranker.score(x), y) for x, y in zip(Xt, gt)])
    other = np.mean([ndcg10(x[:, 1], y) for x, y in zip(Xt, gt)])
    assert learned > 0.8 > other + 0.2
    save_state(tmp_path / "r.npz", {"ranker": ranker.state_dict()})
    again = make()
    assert not again.fitted
    again.load_state_dict(load_state(tmp_path / "r.npz")["ranker"])
    np.testing.assert_allclose(again.score(Xt[0]), ranker.score(Xt[0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="before fit"):
        make().score(Xt[0])


def test_lambdamart_needs_a_preference():
    with pytest.raises(ValueError, match="preference pair"):
        LambdaMARTRanker(n_trees=2).fit(ListData.from_lists([np.zeros((3, 2))], [np.zeros(3)]))


# ----------------------------------------------------------------- features
@pytest.fixture(scope="module")
def featurizer(tiny_world):
    users = {u.id: u.history for u in tiny_world.users}
    return RankFeaturizer(["bm25", "popularity"], tiny_world.docs, users, qu=QueryUnderstanding(tiny_world.docs))


def test_feature_extraction_on_a_tiny_world(featurizer, tiny_world):
    tracks = [d for d in tiny_world.docs if d.metadata["type"] == "track"]
    target = tracks[0]
    user = tiny_world.users[0]
    seen = tiny_world.by_id[user.history[0]]
    bm = arm_result("bm25", [target.id, seen.id, tracks[2].id])
    pop = arm_result("popularity", [tracks[2].id])
    items = RRFFusion().fuse({"bm25": bm, "popularity": pop}, {"bm25": 3, "popularity": 1})
    q = Query("q", target.title.lower(), user.id)
    X = featurizer(q, items, {"bm25": bm, "popularity": pop})
    assert X.shape == (3, featurizer.dim) == (3, len(featurizer.names))
    col = {n: i for i, n in enumerate(featurizer.names)}
    row = {it.doc_id: i for i, it in enumerate(items)}
    t, s, o = row[target.id], row[seen.id], row[tracks[2].id]
    assert X[t, col["bm25:found"]] == 1 and X[t, col["bm25:rr"]] == 1.0 and X[s, col["bm25:rr"]] == 0.5
    assert X[t, col["popularity:found"]] == 0 and X[o, col["popularity:found"]] == 1
    assert X[o, col["fused:n_arms"]] == 2
    assert X[t, col["text:title_exact"]] == 1 and X[t, col["text:title_cover"]] == 1.0
    assert X[t, col["slot:title"]] == 1
    assert X[s, col["user:seen"]] == 1 and X[s, col["user:genre"]] > 0
    types = [c for n, c in col.items() if n.startswith("type:")]
    np.testing.assert_array_equal(X[:, types].sum(axis=1), 1)
    assert X[t, col["type:track"]] == 1
    assert 0 <= X[:, col["item:popularity"]].min() and X[:, col["item:popularity"]].max() <= 1
    # an unknown user has no affinity; an unknown document is an error naming it
    X2 = featurizer(Query("q", target.title.lower(), "nobody"), items, {"bm25": bm})
    assert X2[:, col["user:genre"]].sum() == 0 and X2[:, col["popularity:found"]].sum() == 0
    with pytest.raises(KeyError, match="nope"):
        featurizer(q, RRFFusion().fuse({"bm25": arm_result("bm25", ["nope"])}, {"bm25": 1}), {})


def test_history_grows_with_observed_items(featurizer, tiny_world):
    doc = tiny_world.docs[-1]
    featurizer.observe_history("new_user", [doc.id, "not-a-doc"])
    items = RRFFusion().fuse({"bm25": arm_result("bm25", [doc.id])}, {"bm25": 1})
    X = featurizer(Query("q", "x", "new_user"), items, {})
    assert X[0, featurizer.names.index("user:seen")] == 1
    assert featurizer.histories["new_user"] == [doc.id]


# ----------------------------------------------------------------- the learned rank stage
def test_learned_reranker_fits_from_observed_clicks_and_round_trips(featurizer, tiny_world, tmp_path):
    docs = [d for d in tiny_world.docs if d.metadata["type"] == "track"][:12]
    ranker = LambdaMARTRanker(n_trees=10, min_data_in_leaf=5, threads=1)
    rr = LearnedReranker(featurizer, ranker, top_n=12, show_k=5, retrain_every=20, min_lists=30, swap_rate=0.3)
    ids = [d.id for d in docs]
    res = {"bm25": arm_result("bm25", ids)}
    items = RRFFusion().fuse(res, {"bm25": 12})
    rng = np.random.default_rng(0)
    fits = 0
    for t in range(200):
        q = Query(f"q{t}", "x")
        out = rr.rerank(q, items, res)
        assert sorted(it.doc_id for it in out) == sorted(ids)
        shown = [it.doc_id for it in out[:5]]
        clicked = [d for d in shown if d == ids[3] or rng.random() < 0.05]
        fits += rr.observe(q, shown, clicked)
    assert rr.fits >= 2 and fits == rr.fits and rr.ranker.fitted
    assert rr.observe(Query("unseen", "x"), ids[:5], ids[:1]) is False
    save_state(tmp_path / "s.npz", rr.state_dict())
    again = LearnedReranker(featurizer, LambdaMARTRanker(n_trees=10, threads=1), top_n=12, show_k=5, swap_rate=0.3)
    again.load_state_dict(load_state(tmp_path / "s.npz"))
    assert again.n_lists == rr.n_lists and again.fits == rr.fits
    np.testing.assert_array_equal(again.swaps.shown, rr.swaps.shown)
    X = featurizer(Query("z", "x"), items, res)
    np.testing.assert_allclose(again.ranker.score(X), rr.ranker.score(X))
    rr.reset(1)
    assert rr.n_lists == 0 and not rr.ranker.fitted
    with pytest.raises(ValueError, match="no clicked impression"):
        rr.retrain()


def test_learned_reranker_cascade_examination(featurizer, tiny_world, tmp_path):
    """With ``examination="cascade"`` the IPS propensity of position k is the share of impressions (clicked or not)
    with no click above k: under cascade clicks, the examination of k; counted across save and load."""
    docs = [d for d in tiny_world.docs if d.metadata["type"] == "track"][:8]
    ids = [d.id for d in docs]
    res = {"bm25": arm_result("bm25", ids)}
    items = RRFFusion().fuse(res, {"bm25": 8})
    rr = LearnedReranker(featurizer, LambdaMARTRanker(n_trees=5, threads=1), top_n=8, show_k=5,
                         retrain_every=10**6, min_lists=10**5, max_lists=10**5, examination="cascade")
    np.testing.assert_allclose(rr.propensities(), pbm_examination(5))  # too few impressions yet
    cm = CascadeModel(attractiveness=(0.3, 0.8), convert_prob=0.0, seed=1)
    for t in range(3000):
        q = Query(f"q{t}", "x")
        shown = [it.doc_id for it in rr.rerank(q, items, res)[:5]]
        rr.observe(q, shown, cm.click(shown, {ids[2]: 1}))
    alpha = np.array([0.3, 0.3, 0.8, 0.3, 0.3])  # the fused order keeps ids[2] third (no fit yet)
    truth = np.concatenate([[1.0], np.cumprod(1.0 - alpha)[:-1]])
    np.testing.assert_allclose(rr.propensities(), truth, atol=0.03)
    save_state(tmp_path / "c.npz", rr.state_dict())
    again = LearnedReranker(featurizer, LambdaMARTRanker(n_trees=5, threads=1), top_n=8, show_k=5,
                            examination="cascade")
    again.load_state_dict(load_state(tmp_path / "c.npz"))
    np.testing.assert_allclose(again.propensities(), rr.propensities())
    naive = LearnedReranker(featurizer, LambdaMARTRanker(n_trees=5, threads=1), show_k=5, propensity_eta=0.0,
                            examination="cascade")
    naive.load_state_dict(load_state(tmp_path / "c.npz"))
    np.testing.assert_allclose(naive.propensities(), np.ones(5))  # eta 0 stays the naive ranker
    with pytest.raises(ValueError, match="examination"):
        LearnedReranker(featurizer, LambdaMARTRanker(), examination="dcm")


# ----------------------------------------------------------------- stochastic logging (policy-aware IPS)
def test_policy_aware_propensities_match_the_closed_form():
    from ltrr.rerank.propensity import plackett_luce_topk, policy_aware_propensities, rank_logits

    logits = np.log(np.array([0.5, 0.3, 0.2]))
    p = np.exp(logits)
    theta = np.array([1.0, 0.5])
    first = p
    second = np.array([sum(p[j] * p[d] / (1 - p[j]) for j in range(3) if j != d) for d in range(3)])
    exact = first * theta[0] + second * theta[1]
    np.testing.assert_allclose(policy_aware_propensities(logits, theta, n_samples=40_000), exact, atol=0.01)
    rank = plackett_luce_topk(rank_logits(20, 1.0), 5, np.random.default_rng(0), n=500)
    assert rank.shape == (500, 5) and all(len(set(r)) == 5 for r in rank)
    assert (rank[:, 0] == 0).mean() > (rank[:, 0] == 1).mean() > (rank[:, 0] == 5).mean()
    assert rank.max() >= 10  # deep candidates do get shown
    with pytest.raises(ValueError, match="temperature"):
        rank_logits(3, 0.0)


def test_stochastic_logger_and_item_propensity_weights():
    cm = PositionBasedModel(eta=1.0, convert_prob=0.0)
    ranking = [f"d{i}" for i in range(20)]
    log = simulate_click_log([ranking], [{"d15": 2}], cm, 3000, seed=0, show_k=5, temperature=1.0)
    assert log.items.max() > 5 and (log.items == 15).any()
    clicked_15 = (log.clicks & (log.items == 15)).sum()
    assert clicked_15 > 0  # the deterministic top 5 would never show it
    rho = [np.linspace(0.5, 0.01, 20)]
    data = click_lists(log, [np.zeros((20, 1), np.float32)], item_propensities=rho, clip=50.0)
    t = int(np.flatnonzero(log.clicks.any(axis=1))[0])
    np.testing.assert_allclose(data.weights[:5], np.minimum(1 / rho[0][log.items[t]], 50.0))


def test_isotonic_smoothing_keeps_estimates_non_increasing():
    swaps = SwapInterventions(4, rate=0.5)
    swaps.shown[1:] = [1000, 500, 500, 500]
    swaps.clicks[1:] = [500, 100, 150, 50]   # raw ratios 1, 0.4, 0.6, 0.2
    np.testing.assert_allclose(swaps.estimate(monotone=False), [1, 0.4, 0.6, 0.2])
    np.testing.assert_allclose(swaps.estimate(), [1, 0.5, 0.5, 0.2])


def test_aggregated_click_lists_estimate_attractiveness_per_query():
    from ltrr.simulate.click_logs import aggregated_click_lists

    cm = PositionBasedModel(attractiveness=(0.1, 0.6, 0.9), eta=1.0, convert_prob=0.0)
    rankings = [[f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)], [f"c{i}" for i in range(10)]]
    rels = [{"a0": 1, "a4": 2, "a9": 1}, {"b2": 2}, {}]
    feats = [np.full((10, 1), q, np.float32) for q in range(3)]
    log = simulate_click_log(rankings, rels, cm, 30_000, seed=3)
    ips = aggregated_click_lists(log, feats, cm.examination(10))
    assert ips.n_lists == 3 and np.all(ips.weights == 1)
    truth = np.array([cm.attract[rels[q].get(d, 0)] for q in range(3) for d in rankings[q]])
    np.testing.assert_allclose(ips.gains, truth, atol=0.05)
    naive = aggregated_click_lists(log, feats)
    ctr = np.concatenate([log.clicks[log.query == q].mean(axis=0) for q in range(3)])
    np.testing.assert_allclose(naive.gains, ctr)
