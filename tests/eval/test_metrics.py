import numpy as np
import pytest

from ltrr.eval.metrics import mean_ci, ndcg_at_10


def test_ndcg_known_values():
    got = ndcg_at_10({"q1": ["a", "b"], "q2": ["x", "a"], "q3": []}, {"q1": {"a": 1}, "q2": {"a": 1}, "q3": {"a": 1}})
    assert got["q1"] == pytest.approx(1.0)
    assert got["q2"] == pytest.approx(1 / np.log2(3))
    assert got["q3"] == 0.0


def test_mean_ci_matches_t_interval():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci["mean"] == 3.0
    assert ci["half_width"] == pytest.approx(2.776445 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5), rel=1e-5)
    assert mean_ci([2.0])["half_width"] == 0.0
