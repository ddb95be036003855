import faiss
import numpy as np
import pytest

from ltrr.arms.dense import DenseArm
from ltrr.arms.explore import FreshArm
from ltrr.arms.lexical import BM25Arm
from ltrr.arms.memory import MemoryArm
from ltrr.arms.popularity import PopularityArm
from ltrr.indexes.faiss_index import FaissIndex
from ltrr.types import Doc, Query

DOCS = [
    Doc("a", "Love Story", "by Taylor Swift. pop", {"popularity": 90, "added_days_ago": 400}),
    Doc("b", "Midnight Rain", "by Taylor Swift. pop", {"popularity": 40, "added_days_ago": 3}),
    Doc("c", "Love Me Tender", "by Elvis. rock", {"popularity": 60, "added_days_ago": 900}),
    Doc("d", "Blue Monday", "by New Order. electronic", {"popularity": 10, "added_days_ago": 10}),
    Doc("e", "History Files", "podcast about history", {"popularity": 5, "added_days_ago": 20}),
]


def q(text):
    return Query("q", text)


def assert_well_formed(res, arm, k):
    assert res.arm == arm and len(res.candidates) <= k
    assert [c.rank for c in res.candidates] == list(range(1, len(res.candidates) + 1))
    scores = [c.score for c in res.candidates]
    assert scores == sorted(scores, reverse=True)
    assert len({c.doc_id for c in res.candidates}) == len(res.candidates)
    assert all(0 <= v <= 1 for v in res.features.values())


def test_bm25_finds_exact_title_and_handles_nonsense():
    arm = BM25Arm(DOCS)
    res = arm.retrieve(q("midnight rain"), 3)
    assert_well_formed(res, "bm25", 3)
    assert res.candidates[0].doc_id == "b"
    assert arm.retrieve(q("zzzz qqqq"), 3).candidates == ()
    hostile = arm.retrieve(q('title:"love" AND (rock OR ^2) \\ *'), 5)
    assert {"a", "c"} <= {c.doc_id for c in hostile.candidates}
    assert [r.candidates for r in arm.retrieve_batch([q("love"), q("blue")], 2)] == \
           [arm.retrieve(q("love"), 2).candidates, arm.retrieve(q("blue"), 2).candidates]


def test_dense_returns_k_sorted_results(tiny_encoder):
    arm = DenseArm(DOCS, tiny_encoder, progress=False)
    res = arm.retrieve(q("love story"), 3)
    assert_well_formed(res, "dense", 3)
    assert len(res.candidates) == 3
    full = arm.retrieve(q("Love Story by Taylor Swift. pop"), 1)
    assert full.candidates[0].doc_id == "a"  # identical text has cosine 1 even for a random encoder


def test_dense_search_params_reach_the_index_and_bad_ones_are_named(tiny_encoder):
    exact = DenseArm(DOCS, tiny_encoder, progress=False)
    half = DenseArm(DOCS, tiny_encoder, factory="SQfp16", progress=False)
    hnsw = DenseArm(DOCS, tiny_encoder, factory="HNSW32", search_params={"efSearch": 64}, progress=False)
    assert hnsw.index.params == {"efSearch": 64}
    for arm in (half, hnsw):  # same top lists as the exact scan on a tiny catalogue
        assert [c.doc_id for c in arm.retrieve(q("love song"), 5).candidates] == \
            [c.doc_id for c in exact.retrieve(q("love song"), 5).candidates]
    with pytest.raises(ValueError, match="efSearch"):
        DenseArm(DOCS, tiny_encoder, search_params={"efSearch": 64}, progress=False)  # a flat index has none


def test_memory_learns_from_clicks_and_saves_state():
    arm = MemoryArm(DOCS)
    assert arm.retrieve(q("tayler love"), 5).candidates == ()
    arm.observe(q("Tayler  LOVE"), ["c", "a"], ["a"])
    arm.observe(q("tayler love"), ["a"], ["a", "unknown-id"])
    res = arm.retrieve(q("tayler love"), 5)
    assert [c.doc_id for c in res.candidates] == ["a"]
    clone = MemoryArm(DOCS)
    clone.load_state_dict(arm.state_dict())
    assert clone.retrieve(q("tayler love"), 5).candidates == res.candidates
    arm.reset(0)
    assert len(arm) == 0


def test_popularity_ranks_matches_by_popularity_with_global_fallback():
    arm = PopularityArm(DOCS)
    assert [c.doc_id for c in arm.retrieve(q("love"), 5).candidates] == ["a", "c"]
    assert [c.doc_id for c in arm.retrieve(q("xyzzy"), 2).candidates] == ["a", "c"]


def test_fresh_arm_only_returns_fresh_items_query_matches_first():
    arm = FreshArm(DOCS, fresh_days=30, seed=1)
    res = arm.retrieve(q("history"), 5)
    assert_well_formed(res, "fresh", 5)
    assert res.candidates[0].doc_id == "e"
    assert {c.doc_id for c in res.candidates} == {"b", "d", "e"}
    with pytest.raises(ValueError, match="younger than"):
        FreshArm(DOCS, fresh_days=1)


def test_empty_catalogue_is_an_error():
    with pytest.raises(ValueError, match="empty catalogue"):
        PopularityArm([])


def test_feature_vector_in_unit_range():
    res = BM25Arm(DOCS).retrieve(q("love"), 10)
    assert set(res.features) == {"n", "top", "gap", "mean", "std", "latency"}
    vals = np.array(list(res.features.values()))
    assert np.all((vals >= 0) & (vals <= 1)) and res.latency_ms > 0
    norm = [c.norm_score for c in res.candidates]
    assert norm[0] == 1.0 and norm == sorted(norm, reverse=True) and min(norm) >= 0


@pytest.mark.skipif(faiss.get_num_gpus() > 0, reason="a GPU is visible: the fallback path does not run")
def test_gpu_request_falls_back_to_cpu_with_a_warning(caplog):
    with caplog.at_level("WARNING"):
        idx = FaissIndex(4, "Flat", use_gpu=True)
    assert not idx.on_gpu and "GPU requested but none visible" in caplog.text
    idx.add(np.eye(4, dtype=np.float32))
    scores, ids = idx.search(np.eye(4, dtype=np.float32)[:1], 10)
    assert ids.shape == (1, 4) and ids[0, 0] == 0
