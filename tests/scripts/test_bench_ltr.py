"""The learning-to-rank benchmark end to end on the smoke world, and its target arithmetic."""

import json
import runpy
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT

NS = runpy.run_path(str(ROOT / "scripts" / "bench" / "ltr.py"), run_name="not_main")


def seed_result(naive, ips, full, best):
    cell = {"naive_lambdamart": naive, "ips_lambdamart": ips, "naive_neural": naive, "ips_neural": ips}
    return {"full_info_lambdamart": full, "best_single_feature": {"ndcg@10": best}, "pbm": {"100": cell}}


def test_gap_closed_and_margin_over_the_best_feature():
    per_seed = [seed_result(0.70, 0.78, 0.80, 0.60), seed_result(0.71, 0.79, 0.81, 0.61),
                seed_result(0.69, 0.77, 0.79, 0.62)]
    t = NS["targets"](per_seed, SimpleNamespace(sizes=[100], click_models=["pbm"]))
    g = t["pbm/ips_lambdamart"]
    assert g["gap_closed"] == pytest.approx(0.8) and g["met_80pct"] and g["naive_below_ips_nonoverlap"]
    assert g["paired_gain"]["mean"] == pytest.approx(0.08) and g["paired_gain"]["ci95"][0] == pytest.approx(0.08)
    d = t["pbm/ips_lambdamart_minus_best_single"]
    assert d["diff"] == pytest.approx((0.18 + 0.18 + 0.15) / 3) and d["met_0.03"]
    worse = [seed_result(0.70, 0.72, 0.80, 0.71)] * 3
    t = NS["targets"](worse, SimpleNamespace(sizes=[100], click_models=["pbm"]))
    assert not t["pbm/ips_lambdamart"]["met_80pct"] and not t["pbm/ips_lambdamart_minus_best_single"]["met_0.03"]


def test_bench_runs_on_the_smoke_world(tmp_path, capsys):
    out = tmp_path / "ltr.json"
    common = ["--set", "experiment=smoke", "--embed-cache", str(tmp_path / "emb"), "--cache", str(tmp_path / "c"),
              "--out", str(out)]
    NS["main"](["--parts", "rankers", "--seeds", "0", "--sizes", "300", "600", "--click-models", "pbm", "cascade",
                "--train-queries", "60", "--test-queries", "30", "--swap-impressions", "3000", "--trees", "5",
                "--epochs", "1", "--depths", "bm25=20", "dense=20", "popularity=5"] + common)
    res = json.loads(out.read_text())
    r = res["rankers"]
    assert set(r["ips_lambdamart"]) == {"pbm", "cascade"} and set(r["ips_lambdamart"]["pbm"]) == {"300", "600"}
    assert "cascade" not in r["ips_lambdamart_true"]  # true propensities exist for PBM only
    assert set(r["ips_neural_cascade"]) == {"cascade"} and set(r["ips_lambdamart_cascade"]["cascade"]) == {"300", "600"}
    assert "cascade/ips_neural_cascade" in res["targets"] and res["meta"]["cascade_prior"] == 10.0
    assert res["meta"]["pairing"] == "preference" and res["meta"]["eb_label"] == "mode"
    assert set(r["eb_lambdamart"]) == {"pbm", "cascade"} and "pbm/eb_lambdamart" in res["targets"]
    assert 0 <= r["click_limit_top10_lambdamart"]["ndcg@10"] <= 1
    assert set(r["eb_lambdamart_cascade"]) == {"cascade"} and "cascade/eb_lambdamart_cascade" in res["targets"]
    assert "click_limit_gap_closed" in res["targets"]["pbm/eb_lambdamart"]
    assert set(r["reb_lambdamart"]) == {"pbm", "cascade"} and set(r["reb_lambdamart_cascade"]) == {"cascade"}
    assert "cascade/reb_lambdamart_cascade" in res["targets"] and 0 <= r["reb_lambdamart"]["pbm"]["600"]["ndcg@10"] <= 1
    for name in ("score_fusion", "full_info_lambdamart", "full_info_top10_lambdamart", "best_single_feature"):
        assert 0 <= r[name]["ndcg@10"] <= 1 and len(r[name]["ci95"]) == 2
    assert len(res["propensities"]["pbm"]["estimated_mean"]) == 10 and res["propensities"]["pbm"]["true"][1] == 0.5
    assert set(r["dla_neural"]) == {"pbm", "cascade"} and set(r["ips_lambdamart_dla"]["pbm"]) == {"300", "600"}
    dla = res["propensities"]["pbm"]["dla_mean"]
    assert len(dla) == 10 and dla[0] == 1.0 and "pbm/dla_neural" in res["targets"]
    pos = tmp_path / "positive.json"
    NS["main"](["--parts", "rankers", "--seeds", "0", "--sizes", "300", "--click-models", "pbm", "--pairing",
                "positive", "--rankers", "eb_lambdamart", "reb_lambdamart", "--eb-label", "relevant",
                "--eb-min-examinations", "1", "--train-queries", "60",
                "--test-queries", "30", "--swap-impressions", "3000", "--trees", "5", "--epochs", "1", "--depths",
                "bm25=20", "dense=20", "popularity=5", "--set", "experiment=smoke",
                "--embed-cache", str(tmp_path / "emb"), "--cache", str(tmp_path / "cp"), "--out", str(pos)])
    rp = json.loads(pos.read_text())
    assert rp["meta"]["eb_label"] == "relevant" and 0 <= rp["rankers"]["eb_lambdamart"]["pbm"]["300"]["ndcg@10"] <= 1
    assert rp["meta"]["pairing"] == "positive" and 0 <= rp["rankers"]["ips_lambdamart"]["pbm"]["300"]["ndcg@10"] <= 1
    # --rankers trains the rows asked for, with the two LambdaMART rows every target needs
    assert rp["meta"]["click_rankers"] == ["naive_lambdamart", "ips_lambdamart", "eb_lambdamart", "reb_lambdamart"]
    assert rp["meta"]["eb_min_examinations"] == 1.0
    assert 0 <= rp["rankers"]["reb_lambdamart"]["pbm"]["300"]["ndcg@10"] <= 1
    assert not rp["rankers"]["naive_neural"] and not rp["rankers"]["dla_neural"] and rp["rankers"]["eb_lambdamart"]
    # the naive and full-information rankers keep the classic pairs: the same figures as the first run
    assert rp["rankers"]["full_info_lambdamart"]["ndcg@10"] == r["full_info_lambdamart"]["ndcg@10"]
    assert '"pairing": "positive"' in (tmp_path / "cp" / "seed0.json").read_text()
    NS["main"](["--parts", "personal", "--personal-seeds", "0", "--personal-rounds", "40", "--history-range", "0",
                "40", "--personal-share", "0.3"] + common)
    res = json.loads(out.read_text())
    assert res["rankers"] == r  # the personal part keeps the rankers' figures
    p = res["personalized_arm"]
    assert p["personal_share"] == 0.3 and (tmp_path / "c" / "personal_share0.3_with").is_dir()
    assert p["seeds"] == [0] and set(p["by_group"]) <= {"short", "medium", "long"} and p["by_group"]
    for g in p["by_group"].values():
        assert "personal" in g["arm_alone_recall_at_budget"] and 0 <= g["personal_budget_share"] <= 1
        assert 0 <= g["hit_without_personal"]["mean"] <= 1 and "hit_ceiling_relative_change" in g
        assert "hit_relative_change_second_half" in g
    NS["main"](["--show", str(out)])
    assert "personalized arm" in capsys.readouterr().out
