"""The main job end to end on the smoke config, and the API over its run folder."""

import json

import pytest

from ltrr.tasks.train import train
from tests.conftest import compose_cfg


def test_run_folder_contents(run):
    run_dir, out, _ = run
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(out))
    for policy in ("uniform", "lints", "neural_linear_ts"):
        for key in ("recall_at_budget", "ndcg@10", "cumulative_regret"):
            assert key in saved[policy]
            assert saved[policy]["ci95"][key]["n"] == 2
        assert (run_dir / "logs" / f"{policy}_seed1.jsonl").is_file()
        assert (run_dir / f"allocation_share_{policy}.png").stat().st_size > 1000
    assert (run_dir / "cumulative_regret.png").is_file()
    assert set(saved["intent_arm_recall"]) == {"20", "100"}
    assert "lints - uniform" in saved["comparison"]


def test_resume_skips_finished_pairs(run):
    run_dir, out, cfg = run
    before = (run_dir / "partial" / "lints_seed0.json").stat().st_mtime_ns
    again = train(cfg, run_dir)
    assert (run_dir / "partial" / "lints_seed0.json").stat().st_mtime_ns == before
    assert again["lints"]["recall_at_budget"] == out["lints"]["recall_at_budget"]


def test_wandb_logs_offline_inside_the_run_folder(tmp_path, monkeypatch):
    for var in ("WANDB_MODE", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    cfg = compose_cfg("train", ["experiment=smoke", "logger=wandb", "rounds=20"])
    train(cfg, tmp_path / "run")
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0


def test_latest_link_follows_the_newest_run(tmp_path):
    cfg = compose_cfg("train", ["experiment=smoke", "rounds=10"])
    for name in ("a", "b"):
        train(cfg, tmp_path / "runs" / name)
    assert (tmp_path / "runs" / "latest").resolve() == (tmp_path / "runs" / "b").resolve()


def test_resume_refuses_a_different_config(run):
    run_dir, _, cfg = run
    other = compose_cfg("train", ["experiment=smoke", "seeds=[0,1]", "rounds=60", "budget=60"])
    with pytest.raises(ValueError, match="different configuration"):
        train(other, run_dir)
