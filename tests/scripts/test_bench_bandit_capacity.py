"""The offline capacity check runs end to end on a tiny budget and writes its floors and fits."""

import json
import runpy
import sys

from tests.conftest import ROOT


def test_capacity_check_writes_floors_and_fits(tmp_path, monkeypatch, capsys):
    out = tmp_path / "cap.json"
    monkeypatch.setattr(sys, "argv", ["bandit_capacity.py", "--train", "200", "--steps", "20",
                                      "--layouts", "context:8", "cell:8", "--weight-decay", "0", "0.001",
                                      "--seeds", "0", "--out", str(out)])
    runpy.run_path(str(ROOT / "scripts" / "bench" / "bandit_capacity.py"), run_name="__main__")
    res = json.loads(out.read_text())
    assert 0 <= res["floors"]["true_marginals"] < res["floors"]["map_type"]  # the type posterior is worth keeping
    assert [(f["representation"], f["weight_decay"], f["n_train"]) for f in res["fits"]] == [
        ("context", 0.0, 200), ("context", 0.001, 200), ("cell", 0.0, 200), ("cell", 0.001, 200)]
    assert all(f["normalized_regret"] > res["floors"]["true_marginals"] for f in res["fits"])
    assert "| context [8] | 0.001 |" in capsys.readouterr().out
