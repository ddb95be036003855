import numpy as np
import pytest

from ltrr.bandit.base import depth_labels
from ltrr.bandit.baselines import RandomPolicy, UniformPolicy
from ltrr.bandit.linear import LinTSPolicy
from ltrr.bandit.posterior import NIGPosterior

ARMS = ["a", "b", "c"]
KW = dict(budget=50, depths=[10, 20, 50], n_features=3)


def test_uniform_splits_budget_evenly():
    pol = UniformPolicy(ARMS, **KW)
    d = pol.select(np.ones(3))
    assert d.allocation == (10, 10, 10) and d.propensity == 1.0
    assert sum(pol.pmf(np.ones(3)).values()) == pytest.approx(1.0)


def test_uniform_with_a_small_budget_spreads_the_smallest_depth_over_random_arms():
    pol = UniformPolicy(["a", "b", "c", "d"], budget=20, depths=[10, 20], n_features=3, seed=0)
    seen = {pol.select(np.ones(3)).allocation for _ in range(200)}
    assert len(seen) == 6 and all(sorted(a) == [0, 0, 10, 10] for a in seen)  # C(4, 2) pairs of arms at depth 10
    assert sum(pol.pmf(np.ones(3)).values()) == pytest.approx(1.0)


@pytest.mark.parametrize("policy_cls", [RandomPolicy, UniformPolicy])
def test_pmfs_sum_to_one_and_match_logged_propensity(policy_cls):
    pol = policy_cls(ARMS, **KW)
    x = np.ones(3)
    pmf = pol.pmf(x)
    assert sum(pmf.values()) == pytest.approx(1.0) and min(pmf.values()) > 0
    for _ in range(20):
        d = pol.select(x)
        assert d.propensity == pytest.approx(pmf[d.allocation])


def test_lints_propensities_sum_to_one_over_actions():
    pol = LinTSPolicy(ARMS, **KW, initial_pulls=0, eps_mix=0.1, n_samples=200, seed=3)
    x = np.array([1.0, 0.5, -0.2])
    pmf = pol.pmf(x)
    assert sum(pmf.values()) == pytest.approx(1.0)
    assert min(pmf.values()) >= 0.1 / len(pol.space.all()) - 1e-12
    d = pol.select(x)
    assert 0 < d.propensity <= 1


def test_nig_update_matches_closed_form_batch_fit():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    post = NIGPosterior(1, 3, lam=0.5, a0=2, b0=3)
    post.update(np.zeros(20, int), z[:20], y[:20])
    post.update(np.zeros(20, int), z[20:], y[20:])
    prec = z.T @ z + 0.5 * np.eye(3)
    mu = np.linalg.solve(prec, z.T @ y)
    assert np.allclose(post.mu[0], mu)
    assert post.a[0] == pytest.approx(2 + 20)
    assert post.b[0] == pytest.approx(3 + 0.5 * (y @ y - mu @ prec @ mu))


def test_posterior_sample_spread_shrinks_with_data():
    rng = np.random.default_rng(1)
    post = NIGPosterior(1, 2)
    before = post.sample(2000, rng)[:, 0].std(0)
    z = rng.normal(size=(500, 2))
    post.update(np.zeros(500, int), z, z @ np.array([0.3, -0.1]) + 0.1 * rng.normal(size=500))
    after = post.sample(2000, rng)[:, 0]
    assert np.all(after.std(0) < before / 10)
    assert np.allclose(after.mean(0), [0.3, -0.1], atol=0.02)


def test_depth_labels_are_censored_by_allocation():
    from ltrr.bandit.allocation import AllocationSpace

    space = AllocationSpace(3, 50, [10, 20, 50])
    lab = depth_labels(space, (20, 0, 10), np.array([15, 3, np.inf]), clicked=True)
    assert lab.mask.tolist() == [[True, True, False], [False, False, False], [True, False, False]]
    assert lab.y.tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    nolab = depth_labels(space, (20, 0, 10), np.array([np.inf] * 3), clicked=False, no_click_weight=0.3)
    assert nolab.y.sum() == 0 and nolab.weight == 0.3


def play(learn: bool, rounds: int = 600) -> list[bool]:
    """Arm "b" holds the target at rank 5 in context 0 and arm "c" in context 1; arm "a" never does."""
    pol = LinTSPolicy(ARMS, budget=20, depths=[10, 20], n_features=2, seed=0, eps_mix=0.0)
    rng = np.random.default_rng(0)
    ctx = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    hits = []
    for _ in range(rounds):
        c = int(rng.integers(2))
        d = pol.select(ctx[c])
        ranks = np.array([np.inf, 5 if c == 0 else np.inf, 5 if c == 1 else np.inf])
        hit = bool(np.any(ranks <= np.array(d.allocation)))
        if learn:
            pol.update(ctx[c], d, depth_labels(pol.space, d.allocation, ranks, hit))
        hits.append(hit)
    return hits


def test_lints_learns_the_arm_that_hits():
    learned, frozen = play(learn=True), play(learn=False)
    assert np.mean(learned[-200:]) > 0.9
    assert np.mean(frozen[-200:]) < 0.8  # the same sampler without updates keeps guessing


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="eps_mix"):
        LinTSPolicy(ARMS, **KW, eps_mix=2)
    with pytest.raises(ValueError, match="lam"):
        LinTSPolicy(ARMS, **KW, lam=0)
