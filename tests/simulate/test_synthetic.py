"""The synthetic allocation environment: reproducible streams, exact μ, hindsight figures, and the policy loop."""

import numpy as np
import pytest
from hydra.utils import instantiate

from ltrr.bandit.base import Policy
from ltrr.bandit.baselines import UniformPolicy
from ltrr.bandit.linear import LinTSPolicy
from ltrr.simulate.synthetic import SyntheticAllocationEnv, run_policy
from tests.conftest import compose_cfg

FAVOURED = {"navigational": "bm25", "semantic": "dense", "rare_term": "splade", "personal": "memory",
            "attribute": "structured", "trending": "popularity"}
DRIFT = dict(drift_at=0.5, drift_hit_scale={"memory": 1.8, "popularity": 0.5})


@pytest.fixture(scope="module")
def env():
    return SyntheticAllocationEnv(seed=0)


@pytest.fixture(scope="module")
def big(env):
    return env.episode(40_000, seed=7)


def hits(ep, alloc):
    return np.any(ep.ranks <= np.asarray(alloc), axis=1)


def kw(env):
    return dict(arms=env.arms, budget=env.space.budget, depths=env.space.depths, n_features=env.n_features)


class Fixed(Policy):
    """Plays one allocation, or the episode's per-round oracle when given an episode (for bookkeeping checks)."""

    def __init__(self, *args, allocation=None, episode=None, **kwargs):
        super().__init__(*args, name="fixed", **kwargs)
        self.allocation, self.episode, self.t, self.seen = allocation, episode, 0, []

    def select(self, context):
        a = self.allocation if self.episode is None else self.episode.oracle_allocation(self.t)
        self.t += 1
        return self._decision(a, 1.0)

    def update(self, context, decision, labels):
        self.seen.append((decision.allocation, labels))


def test_same_seeds_give_the_same_stream_and_other_seeds_differ(env):
    a, b, c = env.episode(300, 1), env.episode(300, 1), env.episode(300, 2)
    other = SyntheticAllocationEnv(seed=1).episode(300, 1)
    for f in ("contexts", "types", "lexical", "ranks", "click_u", "type_posterior"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert not np.array_equal(a.types, c.types) and not np.allclose(a.contexts, c.contexts)
    assert not np.allclose(a.contexts[:, 1:26], other.contexts[:, 1:26])  # another env seed: another MLP
    assert a.contexts.shape == (300, 32) and not a.contexts.flags.writeable


@pytest.mark.parametrize("alloc", [(50, 0, 50, 0, 0, 0, 0), (10,) * 7, (0, 25, 25, 10, 25, 10, 0),
                                   (100, 0, 0, 0, 0, 0, 0), (0, 0, 25, 25, 0, 50, 0)])
def test_mu_given_type_matches_monte_carlo(env, big, alloc):
    h, a = hits(big, alloc), env.index[alloc]
    for j, ty in enumerate(env.types):
        sel = big.types == j
        se = np.sqrt(env.mu_type[0, j, a] * (1 - env.mu_type[0, j, a]) / sel.sum())
        assert h[sel].mean() == pytest.approx(env.mu_type[0, j, a], abs=4 * se + 1e-3), ty


def test_bm25_splade_correlation_is_exact_and_matters(env, big):
    """Independence of the lexical pair would overstate the union; the conditioned μ does not."""
    j, alloc = env.types.index("navigational"), (50, 0, 50, 0, 0, 0, 0)
    sel = big.types == j
    marg = [hits(big, tuple(v if i == k else 0 for i, v in enumerate(alloc)))[sel].mean() for k in (0, 2)]
    independent = 1 - (1 - marg[0]) * (1 - marg[1])
    truth = hits(big, alloc)[sel].mean()
    assert truth == pytest.approx(env.mu_type[0, j, env.index[alloc]], abs=0.01)
    assert independent - truth > 0.03
    r = big.ranks[sel][:, [0, 2]] <= 50
    assert np.corrcoef(r.T)[0, 1] > 0.2


def test_mu_of_context_is_the_bayes_value(env, big):
    """Mean μ(x_t, n) equals the hit rate, and P(type | x) is calibrated."""
    mean_mu = big.mean_mu()
    for alloc in [(50, 0, 50, 0, 0, 0, 0), (0, 50, 0, 50, 0, 0, 0), (0, 0, 0, 0, 50, 50, 0)]:
        assert hits(big, alloc).mean() == pytest.approx(mean_mu[env.index[alloc]], abs=0.01)
    p = big.type_posterior.ravel()
    y = (big.types[:, None] == np.arange(len(env.types))).ravel()
    bins = np.digitize(p, np.linspace(0, 1, 11)[1:-1])
    for b in np.unique(bins):
        if (bins == b).sum() > 500:
            assert y[bins == b].mean() == pytest.approx(p[bins == b].mean(), abs=0.03)


def test_mu_is_monotone_in_every_arm_depth(env):
    opts = env.space.options.tolist()
    for a, i in env.index.items():
        for k in range(len(a)):
            if a[k] != opts[-1]:
                deeper = a[:k] + (opts[opts.index(a[k]) + 1],) + a[k + 1:]
                if deeper in env.index:
                    assert np.all(env.mu_type[..., env.index[deeper]] >= env.mu_type[..., i] - 1e-12)


def test_oracle_is_the_max_over_all_allocations(env):
    ep = env.episode(50, 3)
    p = env.p_depth[..., 1:]  # (phase, type, latent, K, |D|)
    q = np.stack([1 - env.lex_prob, env.lex_prob], axis=1)
    per_type = np.array([[sum(q[j, lat] * env.space.hit_probability(p[0, j, lat], a) for lat in (0, 1))
                          for a in env.space.all()] for j in range(len(env.types))])
    for t in range(0, 50, 10):
        brute = ep.type_posterior[t] @ per_type
        assert np.allclose(brute, ep.mu(t))
        assert ep.oracle[0][t] == pytest.approx(max(brute))
        assert ep.mu_of(t, ep.oracle_allocation(t)) == pytest.approx(max(brute))


def test_knapsack_dp_agrees_when_the_arms_are_independent():
    env = SyntheticAllocationEnv(lexical_miss_scale=1.0)  # the latent no longer matters: arms independent
    for j in range(len(env.types)):
        best = tuple(int(v) for v in env.space.solve(env.p_depth[0, j, 0][None, :, 1:])[0])
        assert env.mu_type[0, j, env.index[best]] == pytest.approx(env.mu_type[0, j].max())


def test_each_type_favours_its_arm(env):
    top = env.space.depths[-1]
    for j, ty in enumerate(env.types):
        solo = [env.mu_type[0, j, env.index[tuple(top if i == k else 0 for i in range(len(env.arms)))]]
                for k in range(len(env.arms))]
        assert env.arms[int(np.argmax(solo))] == FAVOURED[ty]
        assert sorted(solo)[-2] > 0.15  # a mixture: some other arm also finds the target


def test_random_arm_covers_n_over_catalogue():
    env = SyntheticAllocationEnv(catalogue_size=1000)
    ep = env.episode(20_000, 0)
    for d in env.space.depths:
        a = env.index[(0,) * 6 + (d,)]
        assert np.allclose(env.mu_type[..., a], d / 1000)
        assert hits(ep, (0,) * 6 + (d,)).mean() == pytest.approx(d / 1000, abs=4 * np.sqrt(d / 1000 / 20_000))


def test_linear_read_out_of_the_type_underfits(env):
    ep = env.episode(5000, 11)
    x, y = ep.contexts, ep.types
    tr, te = slice(0, 4000), slice(4000, None)
    w = np.linalg.lstsq(x[tr], np.eye(len(env.types))[y[tr]], rcond=None)[0]
    linear = np.mean((x[te] @ w).argmax(1) == y[te])
    nn = np.argsort((x[tr] ** 2).sum(1)[None] - 2 * x[te] @ x[tr].T, axis=1)[:, :25]
    knn = np.mean(np.array([np.bincount(y[tr][r], minlength=6).argmax() for r in nn]) == y[te])
    bayes = np.mean(ep.type_posterior[te].argmax(1) == y[te])
    assert linear < knn - 0.1 and knn < bayes + 0.02 and bayes > 0.75


def test_drift_raises_memory_and_lowers_popularity():
    env, still = SyntheticAllocationEnv(**DRIFT), SyntheticAllocationEnv()
    ep, ep0 = env.episode(20_000, 0), still.episode(20_000, 0)
    assert np.array_equal(ep.contexts, ep0.contexts) and (ep0.phase == 0).all() and ep.phase[10_000:].all()
    first, second = slice(0, 10_000), slice(10_000, None)
    mem, pop = (np.isfinite(ep.ranks[:, env.arms.index(a)]) for a in ("memory", "popularity"))
    assert mem[second].mean() > mem[first].mean() + 0.05 and pop[second].mean() < pop[first].mean() - 0.1
    assert np.array_equal(ep.ranks[first], ep0.ranks[first])
    mem_solo, pop_solo = (env.index[tuple(100 * (a == k) for a in env.arms)] for k in ("memory", "popularity"))
    assert np.all(env.mu_type[1, :, mem_solo] > env.mu_type[0, :, mem_solo])
    assert np.all(env.mu_type[1, :, pop_solo] < env.mu_type[0, :, pop_solo])
    assert np.array_equal(still.mu_type[0], still.mu_type[1]) and np.array_equal(env.mu_type[0], still.mu_type[0])


def test_hindsight_figures_match_brute_force(env):
    ep = SyntheticAllocationEnv(**DRIFT).episode(200, 4)
    mus = np.stack([ep.mu(t) for t in range(200)])
    static, value = ep.best_static()
    assert value == pytest.approx(mus.mean(0).max()) and ep.mean_mu() == pytest.approx(mus.mean(0))
    arm, alloc, v = ep.best_single_arm()
    solo = [mus[:, ep.env.index[tuple(100 if i == k else 0 for i in range(7))]].mean() for k in range(7)]
    assert v == pytest.approx(max(solo)) and alloc[env.arms.index(arm)] == 100
    assert np.allclose(ep.oracle[0], mus.max(1))
    assert ep.hindsight_hit().mean() >= value - 0.05


def test_run_policy_bookkeeping_labels_and_regret(env):
    ep = env.episode(300, 5)
    static, value = ep.best_static()
    pol = Fixed(**kw(env), allocation=static)
    res = run_policy(env, pol, episode=ep, seed=5, no_click_weight=0.3)
    assert res.mu.mean() == pytest.approx(value) and np.array_equal(res.hit, hits(ep, static))
    assert np.all(res.mu <= res.mu_star + 1e-12) and res.regret[-1] > 0
    assert not np.any(res.click & ~res.hit) and res.click.sum() < res.hit.sum()
    for t, (alloc, lab) in enumerate(pol.seen):
        mask = np.asarray(env.space.depths)[None, :] <= np.asarray(alloc)[:, None]
        assert np.array_equal(lab.mask, mask)
        want = (ep.ranks[t][:, None] <= np.asarray(env.space.depths)[None, :]) & mask if res.click[t] else 0 * mask
        assert np.array_equal(lab.y, want) and lab.weight == (1.0 if res.click[t] else 0.3)
    oracle = run_policy(env, Fixed(**kw(env), episode=ep), episode=ep)
    assert oracle.regret[-1] == pytest.approx(0, abs=1e-9) and res.select_s.min() >= 0


def test_click_rate_given_hit_is_c(env, big):
    alloc = (0, 25, 25, 10, 25, 10, 0)
    h = hits(big, alloc)
    clicks = np.array([big.step(t, alloc).click for t in range(5000)])
    assert clicks.sum() / h[:5000].sum() == pytest.approx(0.9, abs=0.02)


def test_run_policy_rejects_a_policy_over_other_arms(env):
    with pytest.raises(ValueError, match="arms"):
        run_policy(env, UniformPolicy(env.arms[::-1], 100, env.space.depths, 32), 10)


def test_lints_learns_and_overtakes_uniform(env):
    ep = env.episode(2500, 0)
    lints = run_policy(env, LinTSPolicy(**kw(env), n_samples=10), episode=ep, seed=0)
    uniform = run_policy(env, UniformPolicy(**kw(env)), episode=ep, seed=0)
    assert lints.mu[-500:].mean() > lints.mu[:300].mean() + 0.1        # it learns
    assert lints.mu[-500:].mean() > uniform.mu[-500:].mean() + 0.01    # and ends above the even split
    assert np.all((lints.propensity > 0) & (lints.propensity <= 1))


@pytest.mark.parametrize("name", ["synthetic", "synthetic_drift"])
def test_configs_instantiate(name):
    env = instantiate(compose_cfg("train", [f"+env={name}"]).env)
    assert isinstance(env, SyntheticAllocationEnv) and len(env.actions) == len(env.space.all())
    assert (env.drift_at is not None) == (name == "synthetic_drift")
