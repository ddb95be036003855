import numpy as np
import pytest

from ltrr.bandit.allocation import AllocationSpace


@pytest.mark.parametrize("n_arms,budget,depths", [(3, 50, [10, 20, 50]), (4, 40, [10, 20]), (2, 30, [5, 10, 25])])
def test_dp_matches_brute_force(n_arms, budget, depths):
    space = AllocationSpace(n_arms, budget, depths)
    rng = np.random.default_rng(0)
    p = rng.uniform(-0.2, 0.9, size=(50, n_arms, len(depths)))
    got = space.solve(p)
    acts = space.all()
    for m in range(len(p)):
        values = [space.hit_probability(p[m], a) for a in acts]
        assert sum(got[m]) <= budget
        assert space.hit_probability(p[m], got[m]) == pytest.approx(max(values), abs=1e-9)


def test_all_allocations_are_feasible_and_complete():
    space = AllocationSpace(3, 30, [10, 20])
    acts = space.all()
    assert all(sum(a) <= 30 and set(a) <= {0, 10, 20} for a in acts)
    assert len(acts) == len(set(acts)) == 17  # 0/10/20 per arm, total <= 30


@pytest.mark.parametrize("depths,budget", [([], 10), ([0, 10], 10), ([20], 10)])
def test_bad_spaces_are_rejected(depths, budget):
    with pytest.raises(ValueError):
        AllocationSpace(2, budget, depths)
