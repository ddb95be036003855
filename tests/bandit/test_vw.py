"""Vowpal Wabbit over allocation templates: templates, valid pmfs and propensities, and learning."""

import numpy as np
import pytest

from ltrr.bandit.allocation import AllocationSpace
from ltrr.bandit.base import depth_labels
from ltrr.bandit.vw import VWPolicy, allocation_templates

pytest.importorskip("vowpalwabbit")
ARMS = ["a", "b", "c"]


def test_templates_cover_singles_groups_and_the_even_split():
    t = allocation_templates(AllocationSpace(7, 100, [10, 25, 50, 100]))
    assert len(t) == 7 + 21 + 35 + 1 and len(set(t)) == len(t)
    assert (100, 0, 0, 0, 0, 0, 0) in t and (50, 50, 0, 0, 0, 0, 0) in t and (25, 25, 25, 0, 0, 0, 0) in t
    assert (10,) * 7 in t and all(sum(a) <= 100 for a in t)


@pytest.mark.parametrize("exploration", ["squarecb", "epsilon"])
def test_pmf_sums_to_one_and_propensity_matches(exploration):
    pol = VWPolicy(ARMS, budget=20, depths=[10, 20], n_features=2, exploration=exploration, seed=0)
    x = np.array([1.0, 0.5])
    pmf = pol.pmf(x)
    assert sum(pmf.values()) == pytest.approx(1.0) and min(pmf.values()) >= 0
    d = pol.select(x)
    assert d.propensity == pytest.approx(pmf[d.allocation], abs=1e-6)
    with pytest.raises(ValueError, match="exploration"):
        VWPolicy(ARMS, budget=20, depths=[10, 20], n_features=2, exploration="ucb")


def test_vw_learns_which_arm_hits_per_context():
    pol = VWPolicy(ARMS, budget=20, depths=[10, 20], n_features=2, seed=0)
    rng, ctx, hits = np.random.default_rng(0), [np.array([1.0, 0.0]), np.array([0.0, 1.0])], []
    for _ in range(1500):
        c = int(rng.integers(2))
        d = pol.select(ctx[c])
        ranks = np.array([np.inf, 5 if c == 0 else np.inf, 5 if c == 1 else np.inf])
        hit = bool(np.any(ranks <= np.array(d.allocation)))
        pol.update(ctx[c], d, depth_labels(pol.space, d.allocation, ranks, hit))
        hits.append(hit)
    assert np.mean(hits[-300:]) > 0.85 and np.mean(hits[:100]) < np.mean(hits[-300:])
