"""The learned rank stage inside the main job and the server: built from configs, retrained on its schedule."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from ltrr.rerank.dla import DualLearningRanker
from ltrr.rerank.learned import LearnedReranker
from ltrr.rerank.neural_ranker import NeuralListwiseRanker
from ltrr.serve.app import create_app
from ltrr.tasks import build
from ltrr.tasks.train import train
from ltrr.types import Query
from ltrr.utils.statefile import load_state
from tests.conftest import compose_cfg

SMOKE = ["experiment=smoke", "seeds=[0]", "rounds=80", "~policies.lints", "~policies.neural_linear_ts"]
LTR = ["rerank=ltr", "rerank.learned.min_lists=10", "rerank.learned.retrain_every=10", "rerank.ranker.n_trees=5",
       "rerank.ranker.min_data_in_leaf=5", "rerank.ranker.threads=1"]


def test_config_builds_each_ranker_and_names_bad_keys(tiny_world):
    cfg = compose_cfg("train", SMOKE + LTR)
    arms = build.build_arms(cfg, tiny_world.docs)
    rr = build.build_reranker(cfg, tiny_world.docs, arms)
    assert isinstance(rr, LearnedReranker) and rr.featurizer.arms == list(arms) and rr.top_n == 50
    neural = build.build_reranker(compose_cfg("train", SMOKE + ["rerank=ltr", "ranker@rerank.ranker=neural"]),
                                  tiny_world.docs, arms)
    assert isinstance(neural.ranker, NeuralListwiseRanker)
    dla = build.build_reranker(compose_cfg("train", SMOKE + ["rerank=ltr", "ranker@rerank.ranker=dla"]),
                               tiny_world.docs, arms)
    assert isinstance(dla.ranker, DualLearningRanker) and dla.ranker.n_positions == 10
    with pytest.raises(ValueError, match="config 'rerank.learned'.*nope"):
        build.build_reranker(compose_cfg("train", SMOKE + LTR + ["+rerank.learned.nope=1"]), tiny_world.docs, arms)
    with pytest.raises(ValueError, match="config 'rerank.learned'.*swap_rate"):
        build.build_reranker(compose_cfg("train", SMOKE + LTR + ["rerank.learned.swap_rate=1.5"]), tiny_world.docs,
                             arms)
    with pytest.raises(ValueError, match="needs the arms"):
        build.build_reranker(cfg, tiny_world.docs)


def test_main_job_retrains_the_ranker_from_its_clicks(tmp_path):
    cfg = compose_cfg("train", SMOKE + LTR)
    train(cfg, tmp_path / "ltr")
    logs = [json.loads(x) for x in (tmp_path / "ltr" / "logs" / "uniform_seed0.jsonl").read_text().splitlines()]
    assert len(logs) == 80
    docs = build.build_world(cfg).docs
    state = build.build_reranker(cfg, docs, build.build_arms(cfg, docs))
    saved = load_state(tmp_path / "ltr" / "state" / "uniform_seed0" / "state.npz")["reranker"]
    state.load_state_dict(saved)
    # the pipeline learns from clicks and session conversions; the ranker keeps impressions with one among the shown
    clicked = sum(bool(set(r["clicked"] + r["extra"]["converted"]) & set(r["shown"])) for r in logs)
    assert state.n_lists == clicked >= 10 and state.fits >= 1 and state.ranker.fitted


def test_server_retrains_on_demand(tiny_world):
    cfg = compose_cfg("train", SMOKE + LTR)
    arms = build.build_arms(cfg, tiny_world.docs)
    feat = build.build_featurizer(arms, tiny_world.docs, cfg.get("arm_stats"))
    rr = build.build_reranker(cfg, tiny_world.docs, arms)
    pol = build.build_policy(cfg, "uniform", list(arms), feat.dim, 0)
    pipe = build.build_pipeline(cfg, arms, feat, pol, rr)
    pipe.reset(0)
    app = create_app(pipe, tiny_world.by_id)
    client = TestClient(app)
    assert rr.defer_retrain  # scheduled refits run on a worker thread, off the search lock
    assert client.post("/admin/retrain-ranker").status_code == 409  # nothing learned yet
    for i in range(12):
        r = client.post("/search", json={"query": tiny_world.docs[i].title, "k": 10}).json()
        fb = client.post("/feedback", json={"impression_id": r["impression_id"],
                                            "clicked": [r["results"][-1]["doc_id"]]})
        assert fb.status_code == 200
    app.state.rank_retrainer.wait(60)
    assert rr.n_lists == 12 and rr.fits == 1  # first fit at min_lists = 10, once (not again while in flight)
    assert app.state.rank_retrainer.completed == 1 and app.state.rank_retrainer.failed == 0
    got = client.post("/admin/retrain-ranker")
    assert got.status_code == 200 and got.json() == {"fits": 2, "lists": 12}
    plain = build.build_pipeline(cfg, arms, feat, build.build_policy(cfg, "uniform", list(arms), feat.dim, 0))
    assert TestClient(create_app(plain, tiny_world.by_id)).post("/admin/retrain-ranker").status_code == 409
    pipe.search(Query("x", "y"))
