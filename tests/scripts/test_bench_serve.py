"""The serve benchmark on the smoke world: a real server process under load, kill -9 restarts under concurrent
writers with every acknowledged event recovered, schema fuzzing without 5xx, and the JSON layout."""

import json
import runpy

from tests.conftest import ROOT

NS = runpy.run_path(str(ROOT / "scripts" / "bench" / "serve.py"), run_name="not_main")


def test_serve_bench_on_the_smoke_world(tmp_path, capsys):
    out = tmp_path / "serve.json"
    res = NS["main"](["--catalogue", "music", "--set", "experiment=smoke", "--rerank", "none", "--duration", "2",
                      "--concurrency", "2", "--warmup", "3", "--restarts", "2", "--writers", "3", "--fuzz", "120",
                      "--work", str(tmp_path / "work"), "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    saved = json.loads(out.read_text())
    assert saved["search"]["searches"] > 0 and saved["search"]["rps"] > 0
    assert saved["search"]["p99_ms"] >= saved["search"]["p50_ms"] > 0
    assert set(saved["search"]["stage_p50_ms"]) == {"retrieve", "featurize", "policy", "fuse", "rerank"}
    f = saved["faults"]
    assert f["restarts"] == 2 and f["acknowledged"] > 0 and f["lost"] == 0 and f["seq_mismatch"] == 0
    assert f["journal_seq_after_restart"] >= f["max_acknowledged_seq"]
    assert saved["fuzz"]["requests"] >= 100 and saved["fuzz"]["status_5xx"] == 0
    assert res["faults"] == f
    printed = capsys.readouterr().out
    assert "kill -9 restarts" in printed and "/search p50 ms" in printed


def test_open_loop_part_on_the_smoke_world(tmp_path, capsys):
    out, plot = tmp_path / "serve.json", tmp_path / "curve.png"
    NS["main"](["--catalogue", "music", "--set", "experiment=smoke", "--rerank", "none", "--parts", "openloop",
                "--rates", "5", "20", "--duration", "2", "--warmup", "3", "--work", str(tmp_path / "work"),
                "--search-key", "search_open_loop", "--out", str(out), "--plot", str(plot),
                "--cache-dir", str(tmp_path / "cache")])
    s = json.loads(out.read_text())["search_open_loop"]
    assert [r["offered_rps"] for r in s["runs"]] == [5, 20]
    for r in s["runs"]:
        assert r["searches"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 and r["max_in_flight"] >= 1
        assert abs(r["arrivals_per_s"] - r["offered_rps"]) < r["offered_rps"]  # Poisson count over 2 s
    ok = [r["offered_rps"] for r in s["runs"] if r["sustained"] and r["p50_ms"] <= 15 and r["p99_ms"] <= 50]
    assert s["max_rate_within_targets"] == (max(ok) if ok else None)
    assert plot.stat().st_size > 0
    assert "open loop" in capsys.readouterr().out
