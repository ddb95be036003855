"""The replay environment over real ranked lists: exact μ, oracle, the policy loop, reproducibility, input checks."""

import itertools

import numpy as np
import pytest

from ltrr.bandit.base import Policy
from ltrr.bandit.baselines import UniformPolicy
from ltrr.bandit.linear import LinTSPolicy
from ltrr.simulate.replay import RankedListEnv, union_hits
from ltrr.simulate.synthetic import run_policy

INF = np.inf
ARMS = ["bm25", "dense", "splade"]
# (Q=6, R_max=2, K=3): rank of each relevant document in each arm's list; the second slot of a query with one
# relevant document is padding (inf everywhere)
RANKS = np.array([
    [[3, 40, INF], [INF, INF, INF]],     # bm25 finds it at once
    [[INF, 12, 18], [INF, INF, INF]],    # dense or splade, only at 20
    [[20, INF, INF], [INF, 10, INF]],    # two docs, on the boundaries: bm25 at 20 finds one, dense at 10 the other
    [[INF, INF, INF], [INF, INF, INF]],  # nothing anywhere
    [[21, 25, 30], [INF, INF, INF]],     # beyond the budget of any feasible allocation at B=20
    [[1, 1, 1], [2, 2, 2]],              # everything finds it
])
TYPES = ["bm25-only", "dense-only", "both", "neither", "neither", "both"]


@pytest.fixture()
def env():
    x = np.column_stack([np.ones(6), np.arange(6) / 6, np.arange(6) % 2])
    return RankedListEnv(ARMS, 20, (10, 20), x, RANKS, query_types=TYPES, query_ids=[f"q{i}" for i in range(6)])


def brute_mu(q, alloc):
    return float(any(RANKS[q, r, k] <= alloc[k] for r in range(RANKS.shape[1]) for k in range(3)))


def kw(env):
    return dict(arms=env.arms, budget=env.space.budget, depths=env.space.depths, n_features=env.n_features)


class OraclePolicy(Policy):
    """Plays the episode's per-round oracle allocation."""

    def __init__(self, *args, episode=None, **kwargs):
        super().__init__(*args, name="oracle", **kwargs)
        self.episode, self.t = episode, 0

    def select(self, context):
        self.t += 1
        return self._decision(self.episode.oracle_allocation(self.t - 1), 1.0)


def test_mu_matches_brute_force(env):
    assert len(env.actions) == len([a for a in itertools.product((0, 10, 20), repeat=3) if sum(a) <= 20])
    for q in range(6):
        for a, i in env.index.items():
            assert env.mu_table[q, i] == brute_mu(q, a), (q, a)
    assert env.mu_table[0, env.index[(10, 0, 0)]] and not env.mu_table[1, env.index[(0, 0, 10)]]
    assert env.mu_table[1, env.index[(0, 0, 20)]] and env.mu_table[2, env.index[(0, 10, 0)]]
    assert not env.mu_table[4].any() and env.mu_table[5, 1:].all() and not env.mu_table[:, env.index[(0, 0, 0)]].any()
    assert np.array_equal(env.best_ranks[2], [20, 10, INF])
    hits = union_hits(RANKS, env.actions)   # the fraction-of-relevant-documents view
    assert hits.shape == (6, len(env.actions), 2) and hits[2, env.index[(20, 0, 0)]].tolist() == [True, False]


def test_oracle_is_the_max_over_allocations(env):
    ep = env.episode(200, 3)
    brute = np.array([[brute_mu(q, a) for a in env.space.all()] for q in range(6)])
    assert np.array_equal(ep.oracle[0], brute.max(1)[ep.queries])
    for t in range(0, 200, 7):
        assert ep.mu_of(t, ep.oracle_allocation(t)) == brute[ep.queries[t]].max()
        assert np.array_equal(ep.mu(t), brute[ep.queries[t]])
    assert env.oracle_recall() == pytest.approx(4 / 6)
    static, value = ep.best_static()
    assert value == pytest.approx(brute[ep.queries].mean(0).max()) and ep.mean_mu() == pytest.approx(
        brute[ep.queries].mean(0))
    assert env.best_static()[1] == pytest.approx(brute.mean(0).max()) == pytest.approx(env.recall(env.best_static()[0]))
    arm, alloc, v = ep.best_single_arm()
    solo = [brute[ep.queries, env.index[tuple(20 * (j == k) for j in range(3))]].mean() for k in range(3)]
    assert v == pytest.approx(max(solo)) and alloc[ARMS.index(arm)] == 20
    assert np.array_equal(ep.hindsight_hit(), np.isin(ep.queries, [0, 1, 2, 5]))


def test_stream_is_reproducible_by_seed(env):
    a, b, c = env.episode(300, 1), env.episode(300, 1), env.episode(300, 2)
    for f in ("queries", "contexts", "types", "ranks", "click_u"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert not np.array_equal(a.queries, c.queries)
    assert set(np.unique(a.queries)) == set(range(6)) and not a.contexts.flags.writeable
    other = RankedListEnv(ARMS[:2], 20, (10, 20), env.contexts, RANKS[..., :2], seed=9)  # another arm set
    assert np.array_equal(other.episode(300, 1).queries, a.queries)                      # same stream
    assert np.array_equal(a.contexts, env.contexts[a.queries]) and np.array_equal(a.ranks, env.best_ranks[a.queries])
    assert [env.types[i] for i in a.types] == [TYPES[q] for q in a.queries]


def test_run_policy_labels_and_zero_regret_for_the_oracle(env):
    ep = env.episode(120, 5)
    oracle = run_policy(env, OraclePolicy(**kw(env), episode=ep), episode=ep)
    assert oracle.regret[-1] == 0 and oracle.mu.mean() == pytest.approx(np.isin(ep.queries, [0, 1, 2, 5]).mean())
    two = RankedListEnv(ARMS[:2], 20, (10, 20), env.contexts, RANKS[..., :2])  # B/K = 10: uniform plays (10, 10)
    ep2 = two.episode(120, 5)
    uniform = run_policy(two, UniformPolicy(**kw(two)), episode=ep2)
    assert np.array_equal(uniform.mu, [brute_mu(q, (10, 10, 0)) for q in ep2.queries])
    assert np.array_equal(uniform.hit, uniform.mu > 0) and np.all(uniform.mu <= uniform.mu_star)
    assert uniform.regret[-1] == np.sum(ep2.queries == 1) > 0  # (10, 10) misses query 1, (0, 20) finds it
    lints = run_policy(env, LinTSPolicy(**kw(env), n_samples=5), episode=ep, seed=1)
    assert np.array_equal(lints.hit, [ep.mu_of(t, tuple(a)) > 0 for t, a in enumerate(lints.allocations)])
    assert lints.regret[-1] == pytest.approx(np.sum(lints.mu_star - lints.mu)) and lints.regret[-1] >= 0
    assert np.array_equal(lints.click, lints.hit)   # click_prob = 1
    assert np.array_equal(lints.types, ep.types)


def test_click_prob_thins_clicks_not_mu():
    env = RankedListEnv(ARMS, 20, (10, 20), np.ones((6, 1)), RANKS, click_prob=0.5)
    ep = env.episode(4000, 0)
    out = [ep.step(t, (10, 10, 0)) for t in range(4000)]
    hit = np.array([o.hit for o in out])
    click = np.array([o.click for o in out])
    assert not np.any(click & ~hit) and click.sum() / hit.sum() == pytest.approx(0.5, abs=0.04)
    assert all(o.mu == float(o.hit) for o in out)


@pytest.mark.parametrize("field,kwargs", [
    ("ranks", dict(ranks=RANKS[:5])),                       # Q mismatch
    ("ranks", dict(ranks=RANKS[..., :2])),                  # K mismatch
    ("ranks", dict(ranks=np.where(RANKS == 3, -1, RANKS))),  # negative rank
    ("ranks", dict(ranks=np.where(RANKS == 3, 0, RANKS))),   # 0 is not a 1-based rank
    ("ranks", dict(ranks=np.where(RANKS == 3, np.nan, RANKS))),
    ("contexts", dict(contexts=np.ones(6))),
    ("contexts", dict(contexts=np.full((6, 2), np.nan))),
    ("query_types", dict(query_types=TYPES[:4])),
    ("query_ids", dict(query_ids=["a"])),
    ("click_prob", dict(click_prob=1.5)),
])
def test_bad_input_names_the_field(field, kwargs):
    args = dict(arms=ARMS, budget=20, depths=(10, 20), contexts=np.ones((6, 2)), ranks=RANKS)
    with pytest.raises(ValueError, match=field):
        RankedListEnv(**{**args, **kwargs})
