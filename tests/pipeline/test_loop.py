import json
import threading

import numpy as np
import pytest

from ltrr.arms.dense import DenseArm
from ltrr.arms.explore import FreshArm
from ltrr.arms.lexical import BM25Arm
from ltrr.arms.memory import MemoryArm
from ltrr.arms.popularity import PopularityArm
from ltrr.bandit.baselines import UniformPolicy
from ltrr.bandit.features import ContextFeaturizer
from ltrr.bandit.linear import LinTSPolicy
from ltrr.data.music import QueryGenerator
from ltrr.pipeline import InteractionLog, RetrievePipeline
from ltrr.pipeline.log import read_log
from ltrr.rerank.fusion import RRFFusion
from ltrr.simulate.click_models import PositionBasedModel
from ltrr.simulate.loop import precompute_static, run_online


@pytest.fixture(scope="module")
def arms(tiny_world, tiny_encoder):
    docs = tiny_world.docs
    return {"bm25": BM25Arm(docs), "dense": DenseArm(docs, tiny_encoder, progress=False), "memory": MemoryArm(docs),
            "popularity": PopularityArm(docs), "fresh": FreshArm(docs)}


def make(arms, cls, **kw):
    feat = ContextFeaturizer(list(arms), ["rock", "sad"])
    pol = cls(list(arms), budget=50, depths=[10, 20, 50], n_features=feat.dim, **kw)
    return RetrievePipeline(arms, pol, feat, RRFFusion())


def test_end_to_end_loop_logs_propensities_and_learns(tmp_path, tiny_world, arms):
    stream = QueryGenerator(tiny_world, 0).generate(120)
    cache = precompute_static(arms, stream, 50)
    pipe = make(arms, LinTSPolicy, initial_pulls=0)
    with InteractionLog(tmp_path / "log.jsonl") as log:
        recs = run_online(pipe, stream, PositionBasedModel(), log, seed=0, cache=cache, progress=False)
    assert len(recs) == 120 == len(list(read_log(tmp_path / "log.jsonl")))
    for r in recs:
        assert 0 < r["propensity"] <= 1
        assert sum(r["allocation"].values()) <= 50
        assert set(r["clicked"]) <= set(r["shown"])
        assert r["extra"]["hit"] <= r["extra"]["oracle_hit"]
        assert len(r["context"]) == pipe.featurizer.dim
    assert pipe.policy.post.n.sum() > 0          # the policy received labels
    assert len(pipe.arms["memory"]) > 0           # the memory index learned from clicks


def test_same_seed_reproduces_the_run(tiny_world, arms):
    stream = QueryGenerator(tiny_world, 1).generate(40)
    runs = []
    for _ in range(2):
        pipe = make(arms, LinTSPolicy)
        recs = run_online(pipe, stream, PositionBasedModel(), InteractionLog(), seed=7, progress=False)
        runs.append([(r["allocation"], r["clicked"], r["propensity"]) for r in recs])
    assert runs[0] == runs[1]


def test_union_keeps_provenance_and_respects_allocation(tiny_world, arms):
    pipe = make(arms, UniformPolicy)
    res = pipe.search(QueryGenerator(tiny_world, 2).sample().query)
    assert res.allocation == {a: 10 for a in arms}
    for item in res.ranking:
        for arm, rank in zip(item.arms, item.arm_ranks):
            assert rank <= 10 and res.arm_results[arm].rank_of(item.doc_id) == rank
    scores = [it.score for it in res.ranking]
    assert scores == sorted(scores, reverse=True)


def test_parallel_arms_return_what_serial_retrieval_returns(tiny_world, arms):
    serial = make(arms, UniformPolicy)
    feat = ContextFeaturizer(list(arms), ["rock", "sad"])
    pol = UniformPolicy(list(arms), budget=50, depths=[10, 20, 50], n_features=feat.dim)
    threaded = RetrievePipeline(arms, pol, feat, RRFFusion(), parallel_arms=["dense", "bm25"])
    names = []
    dense = arms["dense"]
    original = dense.retrieve
    dense.retrieve = lambda q, n: names.append(threading.current_thread().name) or original(q, n)
    try:
        for sq in QueryGenerator(tiny_world, 3).generate(5):
            for arm in arms.values():  # exploration arms draw from their own RNG: start both searches alike
                arm.reset(7)
            a = serial.search(sq.query)
            for arm in arms.values():
                arm.reset(7)
            b = threaded.search(sq.query)
            assert list(b.arm_results) == list(arms)  # the arms' order is kept
            assert [[c.doc_id for c in r.candidates] for r in a.arm_results.values()] == \
                [[c.doc_id for c in r.candidates] for r in b.arm_results.values()]
            assert [it.doc_id for it in a.ranking] == [it.doc_id for it in b.ranking]
    finally:
        dense.retrieve = original
    assert len(names) == 10 and set(names[0::2]) == {"MainThread"} and all(n.startswith("ltrr-arm") for n in names[1::2])
    with pytest.raises(ValueError, match="parallel_arms: unknown"):
        RetrievePipeline(arms, pol, feat, RRFFusion(), parallel_arms=["nope"])


def test_arm_order_mismatch_is_an_error(arms):
    feat = ContextFeaturizer(list(arms))
    pol = UniformPolicy(list(arms)[::-1], budget=50, depths=[10], n_features=feat.dim)
    with pytest.raises(ValueError, match="arm order"):
        RetrievePipeline(arms, pol, feat, RRFFusion())


def test_log_reader_names_bad_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"a": 1}) + "\n{oops\n")
    with pytest.raises(ValueError, match="x.jsonl:2"):
        list(read_log(p))
