"""The type-resampled replay: exact μ(x, n) as the type mix of the context, hits from the type's pool, the Bayes
oracle, common random numbers with the plain replay, and its input check."""

import numpy as np
import pytest

from ltrr.bandit.baselines import UniformPolicy
from ltrr.simulate.replay import RankedListEnv, TypeResampledEnv
from ltrr.simulate.synthetic import run_policy

INF = np.inf
ARMS = ["bm25", "dense"]
# (Q=6, K=2) best ranks; types a (q0-q2), b (q3-q5); q2 and q3 share a context
RANKS = np.array([[3, INF], [5, 30], [INF, INF], [INF, 4], [40, 8], [1, 1]])
TYPES = ["a", "a", "a", "b", "b", "b"]
X = np.array([[1, 0], [1, 1], [1, 2], [1, 2], [1, 4], [1, 5]], dtype=float)


@pytest.fixture()
def env():
    return TypeResampledEnv(ARMS, 20, (10, 20), X, RANKS, query_types=TYPES)


def hit(q, alloc):
    return float(np.any(RANKS[q] <= np.asarray(alloc)))


def test_mu_is_the_type_mix_of_the_context(env):
    for a, alloc in enumerate(map(tuple, env.actions)):
        m_a = np.mean([hit(q, alloc) for q in range(3)])
        m_b = np.mean([hit(q, alloc) for q in range(3, 6)])
        want = [m_a, m_a, (m_a + m_b) / 2, (m_a + m_b) / 2, m_b, m_b]  # q2, q3: one context, half each type
        assert np.allclose(env.mu_table[:, a], want), alloc
    assert np.allclose(env.type_posterior[2], [0.5, 0.5]) and np.allclose(env.type_posterior[0], [1, 0])
    assert env.oracle_recall() == pytest.approx(env.mu_table.max(axis=1).mean())


def test_hits_come_from_the_type_pool_and_average_to_mu(env):
    ep = env.episode(6000, 3)
    base = RankedListEnv(ARMS, 20, (10, 20), X, RANKS, query_types=TYPES).episode(6000, 3)
    assert np.array_equal(ep.queries, base.queries) and np.array_equal(ep.click_u, base.click_u)  # CRN
    assert np.array_equal(env.query_type[ep.rank_queries], env.query_type[ep.queries])
    assert np.array_equal(ep.ranks, RANKS[ep.rank_queries]) and (ep.rank_queries != ep.queries).mean() > 0.5
    r = run_policy(env, UniformPolicy(ARMS, 20, (10, 20), n_features=2), episode=ep)  # plays (10, 10)
    assert np.array_equal(r.hit, [hit(q, (10, 10)) > 0 for q in ep.rank_queries])
    assert np.array_equal(r.mu, [ep.mu_of(t, (10, 10)) for t in range(len(ep))])
    for group in ([0], [1], [2, 3], [4], [5]):  # the realised hit rate of a context matches its exact μ
        rows = np.isin(ep.queries, group)        # (binomial 4-sigma band); q2 and q3 share one context
        mu = env.mu_table[group[0], env.index[(10, 10)]]
        assert abs(r.hit[rows].mean() - mu) <= 4 * np.sqrt(mu * (1 - mu) / rows.sum()) + 1e-9
    assert np.array_equal(r.mu_star, env.mu_table[ep.queries].max(axis=1))  # the Bayes oracle of the context
    assert np.all(r.mu_star >= r.mu) and r.regret[-1] >= 0


def test_needs_query_types():
    with pytest.raises(ValueError, match="query_types"):
        TypeResampledEnv(ARMS, 20, (10, 20), X, RANKS)
