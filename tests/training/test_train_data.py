"""Training data: splits, mining, group sampling and the resumable, rank-sharded batch order."""

import numpy as np
import pytest

from ltrr.data.pairs import RetrievalSet
from ltrr.training.data import GroupDataset, ResumableBatchSampler
from ltrr.training.mining import mine_negatives
from ltrr.training.retrieval import ExactIndex, fuse_runs, rerank_run, tune_interpolation
from ltrr.types import Doc


def _set(n=20):
    docs = {f"d{i}": Doc(f"d{i}", f"title {i}", f"text number {i}") for i in range(n)}
    return RetrievalSet({f"q{i}": f"query {i}" for i in range(n)}, docs, {f"q{i}": {f"d{i}": 1} for i in range(n)})


def test_split_is_disjoint_seeded_and_keeps_corpus():
    data = _set()
    tr, dev = data.split(0.25, seed=3)
    tr2, dev2 = data.split(0.25, seed=3)
    assert set(tr.qrels).isdisjoint(dev.qrels) and len(dev.qrels) == 5 and set(dev.qrels) == set(dev2.qrels)
    assert tr.docs is data.docs and dev.docs is data.docs
    with pytest.raises(ValueError, match="dev_fraction"):
        data.split(1.0)


def test_zero_grade_judgments_are_not_positives():
    docs = {"a": Doc("a"), "b": Doc("b")}
    s = RetrievalSet({"q": "x", "r": "y"}, docs, {"q": {"a": 1, "b": 0}, "r": {"b": 0}})
    assert s.positives("q") == ["a"] and "r" not in s.qrels


def test_mining_drops_positives_and_near_duplicates():
    texts = {"p": "alpha beta gamma delta", "dup": "alpha beta gamma delta", "n1": "zeta eta", "n2": "theta iota"}
    negs = mine_negatives({"q": ["p", "dup", "n1", "n2"]}, {"q": ["p"]}, texts.__getitem__, depth=5)
    assert negs["q"] == ["n1", "n2"]
    assert mine_negatives({"q": ["p", "n1", "n2"]}, {"q": ["p"]}, texts.__getitem__, depth=1)["q"] == ["n1"]
    assert mine_negatives({"q": ["n1", "n2"]}, {"q": ["p"]}, texts.__getitem__, depth=5, skip_top=1)["q"] == ["n2"]


def test_group_dataset_is_deterministic_per_epoch_and_fills_from_pool():
    ds = GroupDataset(["q0", "q1"], [["p0"], ["p1"]], [["a", "b", "c"], []], str.upper, group_size=3,
                      pool=["p1", "x", "y", "z"], seed=0)
    q, texts, ids = ds[(0, 0)]
    assert q == "q0" and ids[0] == "p0" and len(ids) == 3 and set(ids[1:]) <= {"a", "b", "c"} and texts[0] == "P0"
    assert ds[(0, 0)] == ds[(0, 0)]
    _, _, ids1 = ds[(0, 1)]
    assert ids1[0] == "p1" and "p1" not in ids1[1:] and len(set(ids1)) == 3
    assert any(ds[(e, 0)][2] != ids for e in range(1, 6))  # another epoch draws other negatives


def test_sampler_shards_ranks_disjointly_and_resumes_mid_epoch():
    full = [b for b in ResumableBatchSampler(23, 4, seed=1)]
    assert len(full) == 5 and all(len(b) == 4 for b in full)
    r0 = list(ResumableBatchSampler(23, 4, rank=0, world_size=2, seed=1))
    r1 = list(ResumableBatchSampler(23, 4, rank=1, world_size=2, seed=1))
    assert len(r0) == len(r1) == 2
    seen = [i for b in r0 + r1 for _, i in b]
    assert len(seen) == len(set(seen)) == 16
    resumed = list(ResumableBatchSampler(23, 4, seed=1, epoch=0, start_batch=3))
    assert resumed == full[3:]
    s = ResumableBatchSampler(23, 4, seed=1, epoch=0, start_batch=3)
    s.set_epoch(1)
    assert len(list(s)) == 5 and list(s) != full  # the skip applies to the resumed epoch only
    with pytest.raises(ValueError, match="global batch"):
        ResumableBatchSampler(3, 4)


def test_exact_index_and_fusion():
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(10, 4)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    idx = ExactIndex([f"d{i}" for i in range(10)], dense=docs)
    run = idx.search("dense", docs[:2], ["a", "b"], 3)
    assert run["a"][0][0] == "d0" and run["b"][0][0] == "d1" and abs(run["a"][0][1] - 1.0) < 1e-5
    fused = fuse_runs({"x": {"q": [("a", 3.0), ("b", 1.0)]}, "y": {"q": [("b", 5.0), ("c", 1.0)]}},
                      {"x": 0.5, "y": 0.5})
    assert [d for d, _ in fused["q"]] == ["a", "b", "c"] or [d for d, _ in fused["q"]] == ["b", "a", "c"]
    assert fused["q"][0][1] == pytest.approx(0.5)


def test_rerank_run_and_interpolation_tuned_on_given_qrels():
    first = {"q": [("a", 3.0), ("b", 2.0), ("c", 1.0), ("tail", 0.5)], "r": [("x", 2.0), ("y", 1.0)]}
    ce = {"q": [0.0, 1.0, 5.0], "r": [0.0, 1.0]}  # the tail is not scored and stays last
    assert rerank_run(first, ce) == {"q": ["c", "b", "a", "tail"], "r": ["y", "x"]}
    assert rerank_run(first, ce, 1.0) == {"q": ["a", "b", "c", "tail"], "r": ["x", "y"]}

    def p_at_1(run, qrels):
        return {"ndcg@10": float(np.mean([run[q][0] in qrels[q] for q in qrels]))}

    w, score = tune_interpolation(first, ce, {"q": {"c": 1}, "r": {"y": 1}}, p_at_1)
    assert (w, score) == (0.0, 1.0)  # the cross-encoder alone is right; ties go to the smaller weight
    w, score = tune_interpolation(first, ce, {"q": {"a": 1}, "r": {"x": 1}}, p_at_1)
    assert score == 1.0 and w >= 0.5
