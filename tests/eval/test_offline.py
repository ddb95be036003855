"""Offline metrics, fusion and the per-query oracle against hand-computed values."""

import math

import pytest

from ltrr.eval.offline import METRICS, fuse, latency_stats, mean_metrics, oracle, run_metrics
from ltrr.types import ArmResult, Candidate

QRELS = {"q1": {"a": 1, "b": 1}, "q2": {"c": 2}}


def test_metrics_match_hand_computation():
    per_q = run_metrics({"q1": ["x", "a", "y", "b"], "q2": ["c"]}, QRELS)
    ideal = 1 + 1 / math.log2(3)
    assert per_q["q1"]["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert per_q["q1"]["mrr@10"] == pytest.approx(0.5) and per_q["q1"]["recall@10"] == 1.0
    assert per_q["q2"] == {m: 1.0 for m in METRICS}


def test_mrr_is_cut_at_10_and_missing_queries_score_zero():
    per_q = run_metrics({"q1": [f"n{i}" for i in range(10)] + ["a"]}, QRELS)
    assert per_q["q1"]["mrr@10"] == 0.0 and per_q["q1"]["recall@20"] == 0.5
    assert per_q["q2"]["ndcg@10"] == 0.0
    assert mean_metrics(per_q)["recall@20"] == pytest.approx(0.25)


def test_identical_ids_are_ignored_like_beir():
    per_q = run_metrics({"q1": ["q1", "a"]}, {"q1": {"a": 1}})
    assert per_q["q1"]["mrr@10"] == 1.0


def res(arm, ids):
    return ArmResult(arm, tuple(Candidate(d, 1.0 / (i + 1), i + 1, arm) for i, d in enumerate(ids)))


def test_union_takes_each_arms_depth_and_oracle_takes_the_best_arm():
    by_arm = {"x": {"q1": res("x", ["a", "p", "q"])}, "y": {"q1": res("y", ["b", "a", "r"])}}
    union = fuse(by_arm, {"x": 1, "y": 2})["q1"]
    assert sorted(union) == ["a", "b"] and union[0] == "a"  # "a" is proposed by both
    px = run_metrics({"q1": ["a"]}, {"q1": {"b": 1}})
    py = run_metrics({"q1": ["b"]}, {"q1": {"b": 1}})
    assert oracle({"x": px, "y": py})["recall@10"] == 1.0


def test_latency_percentiles():
    stats = latency_stats(list(range(1, 101)))
    assert stats["p50_ms"] == pytest.approx(50.5) and stats["p99_ms"] == pytest.approx(99.01)
