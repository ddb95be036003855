"""Context features: the per-arm statistics are chosen by name and checked."""

import pytest

from ltrr.bandit.features import ContextFeaturizer
from ltrr.types import ArmResult, Query


def test_arm_stats_choose_the_per_arm_features():
    res = {"a": ArmResult("a", (), {"n": 0.1, "top": 0.2, "gap": 0.3, "mean": 0.4, "std": 0.5, "latency": 0.6})}
    feat = ContextFeaturizer(["a"], arm_stats=["mean", "latency"])
    assert feat.names[-2:] == ["a.mean", "a.latency"] and list(feat(Query("q", "x"), res)[-2:]) == [0.4, 0.6]
    assert ContextFeaturizer(["a"]).names[-3:] == ["a.n", "a.top", "a.gap"]
    with pytest.raises(ValueError, match="arm_stats"):
        ContextFeaturizer(["a"], arm_stats=["median"])
