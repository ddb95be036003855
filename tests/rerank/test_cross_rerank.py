"""Cross-encoder reranker: the head reordered by cross-encoder score, the tail untouched; in the pipeline and the
main job (``rerank=tiny``), and built from configs."""

import json

import numpy as np
import pytest

from ltrr.encoders.cross import CrossEncoder
from ltrr.rerank.cross import CrossEncoderReranker, interpolate_scores
from ltrr.tasks import build
from ltrr.tasks.train import train
from ltrr.types import FusedItem, Query
from tests.conftest import compose_cfg

SMOKE = ["experiment=smoke", "seeds=[0]", "rounds=20"]


@pytest.fixture(scope="module")
def ce():
    return CrossEncoder.tiny(device="cpu", max_length=64, batch_size=4)


def fused(docs, n):
    return [FusedItem(d.id, 1.0 / (i + 1), ("bm25",), (i + 1,)) for i, d in enumerate(docs[:n])]


class ConstantEncoder:
    model_id = "constant"

    def score(self, query, docs):
        return np.zeros(len(docs), dtype=np.float32)


def test_head_is_sorted_by_cross_encoder_score_and_tail_is_kept(ce, tiny_world):
    items = fused(tiny_world.docs, 12)
    rr = CrossEncoderReranker(ce, tiny_world.docs, top_n=5)
    q = Query("q", "sad love song")
    out = rr.rerank(q, items)
    scores = ce.score(q.text, [tiny_world.by_id[it.doc_id].full_text for it in items[:5]])
    order = np.argsort(-scores, kind="stable")
    assert [it.doc_id for it in out[:5]] == [items[i].doc_id for i in order]
    np.testing.assert_allclose([it.score for it in out[:5]], scores[order], atol=1e-6)
    assert [(it.arms, it.arm_ranks) for it in out[:5]] == [(items[i].arms, items[i].arm_ranks) for i in order]
    assert out[5:] == items[5:]
    assert rr.last_latency_ms > 0


def test_ties_keep_the_fused_order_and_short_lists_work(tiny_world):
    items = fused(tiny_world.docs, 6)
    rr = CrossEncoderReranker(ConstantEncoder(), tiny_world.docs, top_n=20)
    out = rr.rerank(Query("q", "x"), items)
    assert [it.doc_id for it in out] == [it.doc_id for it in items] and all(it.score == 0.0 for it in out)
    assert rr.rerank(Query("q", "x"), []) == []


def test_unknown_ids_and_bad_top_n_are_named(ce, tiny_world):
    rr = CrossEncoderReranker(ce, tiny_world.docs, top_n=3)
    items = fused(tiny_world.docs, 2) + [FusedItem("nope", 0.1, ("bm25",), (3,))]
    with pytest.raises(KeyError, match="nope"):
        rr.rerank(Query("q", "x"), items)
    with pytest.raises(ValueError, match="top_n"):
        CrossEncoderReranker(ce, tiny_world.docs, top_n=0)


class FixedEncoder:
    model_id = "fixed"

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def score(self, query, docs):
        return self.scores[: len(docs)]


def test_interpolation_blends_normalised_scores():
    ce, first = np.array([0.0, 10.0, 5.0]), np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(interpolate_scores(ce, first, 0.0), ce)
    np.testing.assert_allclose(interpolate_scores(ce, first, 1.0), [1.0, 0.0, 0.5])
    np.testing.assert_allclose(interpolate_scores(ce, first, 0.5), [0.5, 0.5, 0.5])
    np.testing.assert_allclose(interpolate_scores(ce, first, 0.25), [0.25, 0.75, 0.5])
    with pytest.raises(ValueError, match="first_stage_weight"):
        interpolate_scores(ce, first, 1.5)


def test_first_stage_weight_can_keep_a_strong_first_stage_on_top(tiny_world):
    items = fused(tiny_world.docs, 4)  # fused scores 1, 1/2, 1/3, 1/4
    enc = FixedEncoder([0.0, 1.0, 2.0, 3.0])  # the cross-encoder reverses the list
    ce_only = CrossEncoderReranker(enc, tiny_world.docs, top_n=4).rerank(Query("q", "x"), items)
    assert [it.doc_id for it in ce_only] == [it.doc_id for it in items[::-1]]
    mostly_first = CrossEncoderReranker(enc, tiny_world.docs, top_n=4, first_stage_weight=0.9).rerank(Query("q", "x"), items)
    assert [it.doc_id for it in mostly_first] == [it.doc_id for it in items]
    with pytest.raises(ValueError, match="first_stage_weight"):
        CrossEncoderReranker(enc, tiny_world.docs, first_stage_weight=-0.1)


def test_pipeline_reorders_only_the_head(tiny_world):
    cfg = compose_cfg("train", SMOKE + ["rerank=tiny", "rerank.top_n=5"])
    world = build.build_world(cfg)
    arms = build.build_arms(cfg, world.docs)
    feat = build.build_featurizer(arms, world.docs, cfg.get("arm_stats"))
    rr = build.build_reranker(cfg, world.docs)
    assert isinstance(rr, CrossEncoderReranker) and rr.top_n == 5
    rankings = []
    for reranker in (None, rr):
        pol = build.build_policy(cfg, "uniform", list(arms), feat.dim, seed=0)
        pipe = build.build_pipeline(cfg, arms, feat, pol, reranker)
        pipe.reset(0)
        rankings.append(pipe.search(Query("q0", world.docs[0].title)).ranking)
    plain, reranked = rankings
    assert len(plain) > 5 and reranked[5:] == plain[5:]
    assert {it.doc_id for it in reranked[:5]} == {it.doc_id for it in plain[:5]}
    assert np.all(np.diff([it.score for it in reranked[:5]]) <= 0)


def test_config_options_build(tmp_path, ce, tiny_world):
    assert build.build_reranker(compose_cfg("train", SMOKE + ["rerank=none"]), tiny_world.docs) is None
    with pytest.raises(ValueError, match="config 'rerank.encoder'.*name_or_path"):
        build.build_reranker(compose_cfg("train", SMOKE + ["rerank=cross_encoder"]), tiny_world.docs)
    ce.save_pretrained(tmp_path / "reranker")
    cfg = compose_cfg("train", SMOKE + ["rerank=cross_encoder", f"rerank.encoder.name_or_path={tmp_path / 'reranker'}",
                                        "rerank.encoder.device=cpu"])
    rr = build.build_reranker(cfg, tiny_world.docs)
    assert rr.top_n == 20 and rr.encoder.max_length == 128  # 256 clamped to the tiny model's positions
    bad = compose_cfg("train", SMOKE + ["rerank=tiny", "rerank.top_n=0"])
    with pytest.raises(ValueError, match="config 'rerank'.*top_n"):
        build.build_reranker(bad, tiny_world.docs)


def _logs(run_dir, policy):
    return [json.loads(line) for line in (run_dir / "logs" / f"{policy}_seed0.jsonl").read_text().splitlines()]


def test_main_job_with_the_tiny_reranker(tmp_path):
    cfg = compose_cfg("train", SMOKE + ["rerank=tiny"])
    assert cfg.rerank.top_n == cfg.show_k == 10  # so what is shown is exactly the reranked head
    out = train(cfg, tmp_path / "rerank")
    train(compose_cfg("train", SMOKE), tmp_path / "plain")
    assert out["meta"]["rounds"] == 20
    docs = build.build_world(cfg).by_id
    encoder = build.build_reranker(cfg, list(docs.values())).encoder
    reordered = []
    for policy in cfg.policies:
        logs = _logs(tmp_path / "rerank", policy)
        assert len(logs) == 20
        for rec in logs:  # every round shows the union's head in cross-encoder order
            s = encoder.score(rec["query_text"], [docs[d].full_text for d in rec["shown"]])
            assert np.all(np.diff(s) <= 1e-5), rec["round"]
        first, plain = logs[0], _logs(tmp_path / "plain", policy)[0]
        # before any feedback both runs are in the same state: same union and head, only the head's order differs
        assert first["allocation"] == plain["allocation"] and first["union_size"] == plain["union_size"]
        assert set(first["shown"]) == set(plain["shown"])
        reordered.append(first["shown"] != plain["shown"])
    assert any(reordered)
