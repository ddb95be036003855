"""The music-sim capacity check runs end to end on a tiny stored stream and orders its reference points."""

import json
import runpy
import sys

import numpy as np

from tests.conftest import ROOT

ARMS = ["bm25", "dense", "popularity", "fresh"]


def tiny_stream(path, n=120, seed=0):
    """Three intents, each found by one arm deep in its list; the context shows the intent plus noise."""
    g = np.random.default_rng(seed)
    intent = np.arange(n) % 3
    ranks = np.full((n, 1, len(ARMS)), np.inf)
    ranks[np.arange(n), 0, intent] = g.integers(30, 95, size=n)  # only a full-budget draw finds it
    ranks[g.random(n) < 0.3, 0, 3] = 5.0
    ctx = np.column_stack([np.ones(n), np.eye(3)[intent] + 0.3 * g.normal(size=(n, 3)), g.normal(size=(n, 2))])
    np.savez(path, arms=np.array(ARMS), test_ranks=ranks, test_n_rel=np.ones(n, dtype=int), test_contexts=ctx,
             test_types=np.array(["a", "b", "c"])[intent], test_qids=np.array([f"q{i}" for i in range(n)]))


def test_music_capacity_check_orders_its_reference_points(tmp_path, monkeypatch, capsys):
    data, out = tmp_path / "ranks.npz", tmp_path / "cap.json"
    tiny_stream(data)
    monkeypatch.setattr(sys, "argv", ["bandit_music_capacity.py", "--data", str(data), "--train", "300",
                                      "--steps", "30", "--seeds", "0", "--out", str(out)])
    runpy.run_path(str(ROOT / "scripts" / "bench" / "bandit_music_capacity.py"), run_name="__main__")
    res = json.loads(out.read_text())
    f = res["floors"]
    assert f["true_intent"] < 1e-6 < f["best_static"]  # distinct contexts: the intent oracle is the env's oracle
    assert f["classifier:logistic:accuracy"] > 0.9 and f["classifier:logistic"] < 0.5 * f["best_static"]
    assert [(x["inputs"], x["weight_decay"], x["n_train"]) for x in res["fits"]] == [
        ("context", 0.0, 300), ("context", 0.001, 300), ("true_intent", 0.0, 300), ("true_intent", 0.001, 300)]
    assert "| classifier:logistic |" in capsys.readouterr().out
