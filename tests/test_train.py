"""The main job end to end on the smoke config, and the API over its run folder."""

import json

import pytest
from fastapi.testclient import TestClient

from ltrr.tasks.serve import load_pipeline
from ltrr.serve.app import create_app
from ltrr.tasks.train import train
from tests.conftest import compose_cfg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    cfg = compose_cfg("train", ["experiment=smoke", "seeds=[0,1]", "rounds=60"])
    out = train(cfg, run_dir)
    (run_dir / ".hydra").mkdir()
    from omegaconf import OmegaConf

    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    return run_dir, out, cfg


def test_run_folder_contents(run):
    run_dir, out, _ = run
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(out))
    for policy in ("uniform", "lints"):
        for key in ("recall_at_budget", "ndcg@10", "cumulative_regret"):
            assert key in saved[policy]
            assert saved[policy]["ci95"][key]["n"] == 2
        assert (run_dir / "logs" / f"{policy}_seed1.jsonl").is_file()
        assert (run_dir / f"allocation_share_{policy}.png").stat().st_size > 1000
    assert (run_dir / "cumulative_regret.png").is_file()
    assert set(saved["intent_arm_recall"]) == {"20", "100"}
    assert "lints - uniform" in saved["comparison"]
    assert (run_dir.parent / "latest").resolve() == run_dir.resolve()


def test_resume_skips_finished_pairs(run):
    run_dir, out, cfg = run
    before = (run_dir / "partial" / "lints_seed0.json").stat().st_mtime_ns
    again = train(cfg, run_dir)
    assert (run_dir / "partial" / "lints_seed0.json").stat().st_mtime_ns == before
    assert again["lints"]["recall_at_budget"] == out["lints"]["recall_at_budget"]


def test_api_search_and_feedback(run):
    run_dir, _, _ = run
    pipeline, docs = load_pipeline(run_dir, "lints")
    client = TestClient(create_app(pipeline, docs))
    assert client.get("/health").json()["status"] == "ok"
    r = client.post("/search", json={"query": 'love AND title:"x" (', "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) <= 5 and 0 < body["propensity"] <= 1
    clicked = [body["results"][0]["doc_id"]] if body["results"] else []
    fb = client.post("/feedback", json={"search_id": body["search_id"], "clicked": clicked})
    assert fb.status_code == 200 and fb.json()["labels_observed"] > 0
    assert client.post("/feedback", json={"search_id": body["search_id"], "clicked": []}).status_code == 404
    assert client.post("/search", json={"query": ""}).status_code == 422
    assert client.post("/search", json={"query": "x", "k": 1000}).status_code == 422
    r2 = client.post("/search", json={"query": "love"}).json()
    assert client.post("/feedback", json={"search_id": r2["search_id"], "clicked": ["nope"]}).status_code == 422


def test_unknown_policy_is_named(run):
    with pytest.raises(ValueError, match="'policy'"):
        load_pipeline(run[0], "nope")


def test_wandb_logs_offline_inside_the_run_folder(tmp_path, monkeypatch):
    for var in ("WANDB_MODE", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    cfg = compose_cfg("train", ["experiment=smoke", "logger=wandb", "rounds=20"])
    train(cfg, tmp_path / "run")
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0
