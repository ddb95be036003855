"""Neural-linear TS, neural greedy and LinUCB: valid pmfs and propensities, posterior bookkeeping, learning, and the
qualitative ordering of Riquelme et al. (2018) on the wheel bandit."""

import numpy as np
import pytest

from ltrr.bandit.base import DepthLabels, depth_labels
from ltrr.bandit.baselines import RandomPolicy
from ltrr.bandit.linear import LinTSPolicy, LinUCBPolicy
from ltrr.bandit.neural import NeuralGreedyPolicy, NeuralLinearTSPolicy

ARMS = ["a", "b", "c"]
KW = dict(budget=50, depths=[10, 20, 50], n_features=3)
SMALL = dict(hidden=[8], train_every=10, train_steps=5, batch_size=32)


def feed(pol, rounds, rng, ctx=None, shift=0.0, scale=1.0):
    """Random contexts (``shift + scale · N(0, 1)``, or ``ctx``) and clicks: arm "b" holds the target at rank 5."""
    for _ in range(rounds):
        x = shift + scale * rng.normal(size=3) if ctx is None else ctx
        d = pol.select(x)
        ranks = np.array([np.inf, 5.0, 30.0])
        pol.update(x, d, depth_labels(pol.space, d.allocation, ranks, bool(np.any(ranks <= d.allocation))))


@pytest.mark.parametrize("make", [
    lambda: NeuralLinearTSPolicy(ARMS, **KW, **SMALL, head_mode="per_arm", eps_mix=0.1, seed=1),
    lambda: NeuralLinearTSPolicy(ARMS, **KW, **SMALL, head_mode="shared", eps_mix=0.1, seed=1),
    lambda: NeuralLinearTSPolicy(ARMS, **KW, **SMALL, head_mode="hybrid", eps_mix=0.1, seed=1),
    lambda: NeuralLinearTSPolicy(ARMS, **KW, **SMALL, representation="context", intercept=True, eps_mix=0.1, seed=1),
    lambda: NeuralGreedyPolicy(ARMS, **KW, **SMALL, eps_mix=0.1, seed=1),
    lambda: NeuralGreedyPolicy(ARMS, **KW, **SMALL, representation="context", eps_mix=0.1, seed=1),
    lambda: LinUCBPolicy(ARMS, **KW, eps_mix=0.1, seed=1),
])
def test_pmfs_sum_to_one_with_a_floor_and_cover_the_played_allocation(make):
    pol = make()
    feed(pol, 30, np.random.default_rng(0))
    x = np.array([0.3, -1.0, 0.5])
    pmf = pol.pmf(x, 300)
    assert sum(pmf.values()) == pytest.approx(1.0)
    assert min(pmf.values()) >= 0.1 / len(pol.space.all()) - 1e-12
    for _ in range(10):
        d = pol.select(x)
        assert 0 < d.propensity <= 1 and pmf[d.allocation] > 0
        assert sum(d.allocation) <= pol.space.budget


def test_deterministic_policies_log_their_exact_pmf():
    for pol in (NeuralGreedyPolicy(ARMS, **KW, **SMALL, eps_mix=0.2, seed=2), LinUCBPolicy(ARMS, **KW, eps_mix=0.2)):
        feed(pol, 40, np.random.default_rng(1))
        x = np.array([1.0, 0.0, -1.0])
        pmf = pol.pmf(x)
        for _ in range(20):
            d = pol.select(x)
            assert d.propensity == pytest.approx(pmf[d.allocation])


@pytest.mark.parametrize("cls", [NeuralLinearTSPolicy, NeuralGreedyPolicy, LinUCBPolicy, LinTSPolicy])
def test_eps_one_reproduces_the_uniform_random_policy(cls):
    pol = cls(ARMS, **KW, eps_mix=1.0, initial_pulls=0, seed=3)
    n = len(pol.space.all())
    x = np.ones(3)
    assert all(v == pytest.approx(1 / n) for v in pol.pmf(x).values())
    seen = [pol.select(x) for _ in range(400)]
    assert all(d.propensity == pytest.approx(1 / n) for d in seen)
    assert len({d.allocation for d in seen}) > 0.5 * n  # spread over the whole action space


def test_retrain_rebuilds_the_posterior_from_the_buffer():
    pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, seed=4)
    feed(pol, 25, np.random.default_rng(2))  # two retrains (t = 10, 20), then 5 incremental rounds
    inp, arm, y, w = pol.buffer.view()
    z = pol._embed(inp)
    for k in range(len(ARMS)):
        zk = z[arm == k]
        np.testing.assert_allclose(pol.post.zz[k], zk.T @ (w[arm == k, None] * zk), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(pol.post.zy[k], zk.T @ (w[arm == k] * y[arm == k]), rtol=1e-6, atol=1e-9)
    assert pol.retrains == 2


def test_context_representation_keeps_one_posterior_per_cell_with_an_intercept():
    pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, representation="context", intercept=True, seed=4)
    feed(pol, 25, np.random.default_rng(2))
    inp, cell, y, w = pol.buffer.view()
    assert inp.shape[1] == 3 and pol.post.n_blocks == 9 and pol.post.dim == 8 + 1
    assert set(cell.tolist()) <= set(range(9)) and {3, 4} <= set(cell.tolist())  # arm "b" is observed (cells 3-5)
    z = np.concatenate([pol._embed(inp), np.ones((len(inp), 1))], axis=1)
    for c in np.unique(cell):
        zc = z[cell == c]
        np.testing.assert_allclose(pol.post.zz[c], zc.T @ (w[cell == c, None] * zc), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="per_arm"):
        NeuralLinearTSPolicy(ARMS, **KW, representation="context", head_mode="shared")
    with pytest.raises(ValueError, match="representation"):
        NeuralLinearTSPolicy(ARMS, **KW, representation="tower")


def test_posterior_scale_zero_plays_the_posterior_mean():
    pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, posterior_scale=0.0, intercept=True, seed=3)
    feed(pol, 25, np.random.default_rng(1))
    x = np.array([0.3, -0.2, 0.1])
    draws = pol.sample_probs(x, 5)
    np.testing.assert_allclose(draws, np.broadcast_to(pol.mean_probs(x), draws.shape), atol=1e-12)
    wide = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, intercept=True, seed=3)
    feed(wide, 25, np.random.default_rng(1))
    assert np.std(wide.sample_probs(x, 50), axis=0).mean() > 1e-3  # plain TS does spread
    with pytest.raises(ValueError, match="posterior_scale"):
        NeuralLinearTSPolicy(ARMS, **KW, posterior_scale=-1.0)


def test_buffer_is_capped_fifo():
    pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, buffer_size=20, seed=5)
    feed(pol, 30, np.random.default_rng(3))
    assert pol.buffer.size == 20


def test_learning_rate_modes():
    rates = {}
    for mode in ("faithful", "reset"):
        pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, lr_mode=mode, seed=6)
        feed(pol, 20, np.random.default_rng(4))
        rates[mode] = pol.opt.param_groups[0]["lr"]
    assert rates["faithful"] == pytest.approx(pol.lr / (1 + pol.lr_decay * 9))  # step 9 of 10 in total
    assert rates["reset"] == pytest.approx(pol.lr / (1 + pol.lr_decay * 4))  # step 4 of this retrain
    with pytest.raises(ValueError, match="lr_mode"):
        NeuralLinearTSPolicy(ARMS, **KW, lr_mode="warm")
    with pytest.raises(ValueError, match="head_mode"):
        NeuralLinearTSPolicy(ARMS, **KW, head_mode="joint")


def test_weight_decay_shrinks_the_network_in_both_retrain_paths():
    def weight_norm(pol):
        return sum(float((p.detach() ** 2).sum()) for p in pol.net.parameters())

    norms = {}
    for wd in (0.0, 0.5):
        for defer in (False, True):
            pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, weight_decay=wd, seed=6)
            pol.defer_retrain = defer
            rng = np.random.default_rng(4)
            for _ in range(3):
                feed(pol, 10, rng)
                if defer:
                    pol.begin_retrain()()()
            assert pol.retrains == 3
            assert all(g["weight_decay"] == wd for g in pol.opt.param_groups)
            norms[wd, defer] = weight_norm(pol)
    assert norms[0.5, False] < 0.9 * norms[0.0, False] and norms[0.5, True] < 0.9 * norms[0.0, True]
    with pytest.raises(ValueError, match="weight_decay"):
        NeuralLinearTSPolicy(ARMS, **KW, weight_decay=-1e-3)


@pytest.mark.parametrize("defer", [False, True])
def test_weight_decay_fades_with_the_rounds_past_its_reference(defer):
    pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, weight_decay=0.3, weight_decay_ref=10, seed=6)
    pol.defer_retrain = defer
    rng, seen = np.random.default_rng(4), []
    for _ in range(3):  # retrains at rounds 10, 20, 30
        feed(pol, 10, rng)
        if defer:
            pol.begin_retrain()()()
        seen.append(pol.opt.param_groups[0]["weight_decay"])
    np.testing.assert_allclose(seen, [0.3, 0.15, 0.1])
    with pytest.raises(ValueError, match="weight_decay_ref"):
        NeuralLinearTSPolicy(ARMS, **KW, weight_decay_ref=-1)


@pytest.mark.parametrize("defer", [False, True])
def test_standardize_z_scores_the_context_columns_at_every_retrain(defer):
    scale, shift = np.array([5.0, 0.01, 1.0]), np.array([100.0, 0.0, -3.0])
    pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, standardize=True, seed=6)
    pol.defer_retrain = defer
    rng = np.random.default_rng(4)
    feed(pol, 20, rng, shift=shift, scale=scale)
    if defer:
        np.testing.assert_array_equal(pol.in_scale, 1.0)  # a due retrain changes nothing until installed
        pol.begin_retrain()()()
    inp = pol.buffer.view()[0]
    np.testing.assert_allclose(pol.in_shift[:3], inp[:, :3].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(pol.in_scale[:3], inp[:, :3].std(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(pol.in_shift[3:], 0.0)  # arm one-hots and depth codes pass through
    np.testing.assert_array_equal(pol.in_scale[3:], 1.0)
    z = pol._scaled(inp)[:, :3]
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-3)
    twin = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, standardize=True, seed=99)
    twin.load_state_dict(pol.state_dict())
    x = shift + scale * rng.normal(size=3)
    np.testing.assert_allclose(twin.mean_probs(x), pol.mean_probs(x))


def test_state_round_trip_gives_the_same_posterior_and_predictions():
    pol = NeuralGreedyPolicy(ARMS, **KW, **SMALL, seed=7)
    feed(pol, 25, np.random.default_rng(5))
    twin = NeuralGreedyPolicy(ARMS, **KW, **SMALL, seed=99)
    twin.load_state_dict(pol.state_dict())
    x = np.array([0.2, 0.1, -0.4])
    np.testing.assert_allclose(twin.predict(x), pol.predict(x))
    np.testing.assert_allclose(twin.post.mu, pol.post.mu)
    assert twin.t == pol.t and twin.buffer.size == pol.buffer.size


def test_arm_features_must_cover_every_arm():
    with pytest.raises(ValueError, match="arm_features"):
        NeuralLinearTSPolicy(ARMS, **KW, arm_features={"a": [1.0]})
    pol = NeuralLinearTSPolicy(ARMS, **KW, arm_features={a: [i, 1.0] for i, a in enumerate(ARMS)})
    assert pol.n_in == 3 + 3 + 2 + 2


@pytest.mark.parametrize("representation", ["cell", "context"])
def test_neural_linear_learns_a_nonlinear_context_rule(representation):
    """The target is in arm "b" when |x| is small and in arm "c" when it is large: linear in neither x nor -x."""
    pol = NeuralLinearTSPolicy(ARMS, budget=20, depths=[10, 20], n_features=2, hidden=[16], train_every=25,
                               train_steps=50, batch_size=64, lr=0.01, eps_mix=0.0, representation=representation,
                               seed=0)
    rng, hits = np.random.default_rng(0), []
    for _ in range(800):
        s = rng.uniform(-2, 2)
        x = np.array([1.0, s])
        d = pol.select(x)
        ranks = np.array([np.inf, 5.0 if abs(s) < 1 else np.inf, 5.0 if abs(s) >= 1 else np.inf])
        hit = bool(np.any(ranks <= np.array(d.allocation)))
        pol.update(x, d, depth_labels(pol.space, d.allocation, ranks, hit))
        hits.append(hit)
    assert np.mean(hits[-200:]) > 0.9


# ----- wheel bandit (Riquelme et al. 2018): 5 actions; an allocation of budget 1 plays one of them ----------------------
def wheel_regret(pol, delta: float, seed: int, T: int = 1500) -> float:
    rng = np.random.default_rng(seed)
    r, th = np.sqrt(rng.random(T)), rng.random(T) * 2 * np.pi
    x = np.stack([r * np.cos(th), r * np.sin(th)], 1)
    mu = np.ones((T, 5))
    mu[:, 0] = 1.2
    quad = np.where(x[:, 0] >= 0, np.where(x[:, 1] >= 0, 1, 4), np.where(x[:, 1] >= 0, 2, 3))
    outer = r > delta
    mu[outer, quad[outer]] = 50.0
    regret = 0.0
    for t in range(T):
        ctx = np.array([1.0, *x[t]])
        d = pol.select(ctx)
        played = [k for k, n in enumerate(d.allocation) if n]
        got = mu[t, played[0]] if played else 0.0
        regret += mu[t].max() - got
        if played:
            y, m = np.zeros((5, 1)), np.zeros((5, 1), bool)
            y[played[0]], m[played[0]] = (got + 0.01 * rng.standard_normal()) / 50, True  # rewards scaled to [0, 1]
            pol.update(ctx, d, DepthLabels(y, m, 1.0))
    return regret


def test_wheel_bandit_ordering():
    """NeuralLinear ~ LinFullPost > neural greedy > uniform (the reference's qualitative result), on two seeds."""
    arms, kw = list("abcde"), dict(budget=1, depths=[1], n_features=3)
    nl_kw = dict(eps_mix=0.0, initial_pulls=2, train_steps=50)
    out = {name: [] for name in ("neural_linear", "neural_linear_context", "lin_full_post", "greedy", "uniform")}
    for seed in (0, 1):
        out["neural_linear"].append(wheel_regret(NeuralLinearTSPolicy(arms, **kw, **nl_kw, seed=seed), 0.5, seed))
        out["neural_linear_context"].append(wheel_regret(NeuralLinearTSPolicy(  # the reference's own layout
            arms, **kw, **nl_kw, representation="context", intercept=True, seed=seed), 0.5, seed))
        out["lin_full_post"].append(wheel_regret(
            LinTSPolicy(arms, **kw, lam=0.25, a0=6, b0=6, eps_mix=0.0, initial_pulls=2, seed=seed), 0.5, seed))
        out["greedy"].append(wheel_regret(NeuralGreedyPolicy(arms, **kw, **nl_kw, seed=seed), 0.5, seed))
        out["uniform"].append(wheel_regret(RandomPolicy(arms, **kw, seed=seed), 0.5, seed))
    m = {k: float(np.mean(v)) for k, v in out.items()}
    assert max(m["neural_linear"], m["neural_linear_context"], m["lin_full_post"]) < 0.5 * m["greedy"], m
    assert m["greedy"] < m["uniform"], m
    assert max(m["neural_linear"], m["neural_linear_context"]) < 1.5 * m["lin_full_post"], m


def test_thompson_decisions_log_marginals_and_replayable_generator_state():
    import copy

    for pol in (NeuralLinearTSPolicy(ARMS, **KW, **SMALL, seed=8), LinTSPolicy(ARMS, **KW, seed=8)):
        feed(pol, 30, np.random.default_rng(6))
        twin = copy.deepcopy(pol)
        x = np.array([0.5, 0.5, -0.5])
        d = pol.select(x)
        marg = np.array(d.info["marginals"])
        assert marg.shape == (3, 4) and np.allclose(marg.sum(1), 1.0, atol=1e-3)
        assert d.info["t"] == 31 and d.info["seed"] == 8
        assert int(d.info["rng_state"][0], 16) == twin.rng.bit_generator.state["state"]["state"]
        assert twin.select(x) == d  # same state + same generator state: the same decision and propensity


def test_warm_start_blends_pooled_cell_rates_then_hands_over_to_the_network():
    rng = np.random.default_rng(8)
    warm = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, warm_rounds=400, seed=2)
    feed(warm, 60, rng)  # arm "b" holds the target at rank 5: its cells hit whenever observed
    ncell = len(warm.space.depths)
    hits, weight = warm.cell_hits[0], warm.cell_weight[0]  # one pool (no warm_strata)
    b_hits = hits[ncell:2 * ncell] / np.maximum(weight[ncell:2 * ncell], 1e-9)
    c10 = hits[2 * ncell] / max(weight[2 * ncell], 1e-9)  # arm "c" at depth 10: rank 30, a miss
    assert warm.cell_hits.shape == (1, 3 * ncell)
    assert weight.sum() > 0 and np.all(b_hits[weight[ncell:2 * ncell] > 0] == 1.0) and c10 == 0
    x = np.array([0.2, 0.1, -0.4])
    warm.t = 1  # share of the network ~0: the pooled Beta draws decide
    p = warm.sample_probs(x, 400)
    assert p[:, 1].mean() > 0.8 and p[:, 2, 0].mean() < 0.2
    state = warm.state_dict()
    twin = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, warm_rounds=400, seed=5)
    twin.load_state_dict(state)
    np.testing.assert_array_equal(twin.cell_hits, warm.cell_hits)
    np.testing.assert_array_equal(twin.cell_weight, warm.cell_weight)
    # from warm_rounds on, draws are the network's alone: the same as a policy without a warm start
    plain = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, seed=5)
    plain.load_state_dict(state)
    twin.t = plain.t = 400
    twin.rng, plain.rng = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(twin.sample_probs(x, 5), plain.sample_probs(x, 5))
    with pytest.raises(ValueError, match="warm_rounds"):
        NeuralLinearTSPolicy(ARMS, **KW, warm_rounds=-1)


def test_warm_strata_keep_one_pool_per_stratum_of_flagged_contexts():
    """Contexts flagged by column 0 find arm "a", the rest arm "b": with ``warm_strata=[0]`` each stratum's pooled
    draws favour its own arm; with one pool the flagged contexts are steered by the majority's rates."""
    def run(strata):
        pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, warm_rounds=400, warm_strata=strata, seed=2)
        rng = np.random.default_rng(4)
        for t in range(200):
            flag = t % 5 == 0  # a rare class: one context in five
            x = np.array([1.0 if flag else 0.0, rng.normal(), rng.normal()])
            d = pol.select(x)
            ranks = np.array([5.0, np.inf, np.inf]) if flag else np.array([np.inf, 5.0, np.inf])
            pol.update(x, d, depth_labels(pol.space, d.allocation, ranks, bool(np.any(ranks <= d.allocation))))
        pol.t = 1  # the pooled draws decide
        flagged = pol.sample_probs(np.array([1.0, 0.0, 0.0]), 400).mean(0)[:, -1]  # (arms,) at the largest depth
        other = pol.sample_probs(np.array([0.0, 0.0, 0.0]), 400).mean(0)[:, -1]
        return pol, flagged, other

    pol, flagged, other = run([0])
    assert pol.cell_hits.shape == (2, 9) and pol.cell_weight[0].sum() > 0 and pol.cell_weight[1].sum() > 0
    assert flagged[0] > 0.6 > flagged[1] and other[1] > 0.6 > other[0]
    _, pooled, _ = run([])
    assert pooled[1] > pooled[0]  # one pool: the majority's arm leads for the rare class too
    state = pol.state_dict()
    twin = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, warm_rounds=400, warm_strata=[0], seed=5)
    twin.load_state_dict(state)
    np.testing.assert_array_equal(twin.cell_hits, pol.cell_hits)
    with pytest.raises(ValueError, match="warm-start rates of shape"):
        NeuralLinearTSPolicy(ARMS, **KW, **SMALL, warm_rounds=400, seed=5).load_state_dict(state)
    with pytest.raises(ValueError, match="warm_strata"):
        NeuralLinearTSPolicy(ARMS, **KW, warm_strata=[3])


def test_warm_scale_narrows_the_pooled_draws_around_their_means():
    spreads = {}
    for scale in (1.0, 0.1, 0.0):
        pol = NeuralLinearTSPolicy(ARMS, **KW, **SMALL, warm_rounds=400, warm_scale=scale, seed=2)
        feed(pol, 30, np.random.default_rng(8))
        pol.t = 0  # the pooled draws alone
        draws = pol.sample_probs(np.array([0.2, 0.1, -0.4]), 400).reshape(400, -1)
        a, b = 1 + pol.cell_hits[0], 1 + pol.cell_weight[0] - pol.cell_hits[0]
        np.testing.assert_allclose(draws.mean(0), a / (a + b), atol=0.05)
        spreads[scale] = draws.std(0).mean()
    assert spreads[0.0] < 1e-12 < spreads[0.1] < 0.2 * spreads[1.0]
    with pytest.raises(ValueError, match="warm_scale"):
        NeuralLinearTSPolicy(ARMS, **KW, warm_scale=-0.5)
