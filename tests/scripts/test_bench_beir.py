"""The BEIR harness runs on a folder it has never seen and writes the documented JSON."""

import json
import runpy
import sys

from tests.conftest import ROOT

DOCS = [
    {"_id": "d1", "title": "Love Story", "text": "Artist: Taylor Swift.", "artist": "Taylor Swift", "year": 2008,
     "popularity": 70, "audio_features": {"valence": 0.3, "energy": 0.7}},
    {"_id": "d2", "title": "Shake It Off", "text": "Artist: Taylor Swift.", "artist": "Taylor Swift", "year": 2014,
     "popularity": 80, "audio_features": {"valence": 0.9, "energy": 0.8}},
    {"_id": "d3", "title": "Blue Monday", "text": "Artist: New Order.", "artist": "New Order", "year": 1983,
     "popularity": 50, "audio_features": {"valence": 0.6, "energy": 0.9}},
    {"_id": "d4", "title": "Clair de Lune", "text": "Artist: Debussy. calm piano", "artist": "Debussy", "year": 1905,
     "popularity": 40, "audio_features": {"valence": 0.1, "energy": 0.05}},
]
QUERIES = [{"_id": "q1", "text": "taylor swift love"}, {"_id": "q2", "text": "calm piano"},
           {"_id": "q3", "text": "new order"}]
QRELS = ["q1\td1\t1", "q2\td4\t1", "q3\td3\t1"]


def test_harness_on_an_unseen_folder(tmp_path, monkeypatch):
    data = tmp_path / "unseen"
    (data / "qrels").mkdir(parents=True)
    (data / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in DOCS) + "\n")
    (data / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n")
    (data / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(QRELS) + "\n")
    out = tmp_path / "out.json"
    argv = ["beir.py", "--data", str(data), "--split", "dev", "--out", str(out), "--peers", "bm25s",
            "--known-item", "20", "--latency-queries", "3", "--set", "encoder=tiny",
            "--set", "encoder.max_length=32", "--set", "arms.dense.cache_dir=null"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "scripts" / "bench" / "beir.py"), run_name="__main__")
    res = json.loads(out.read_text())
    systems = res["systems"]
    assert {"bm25", "dense", "splade", "structured", "union@20", "rrf", "peer:bm25s"} <= set(systems)
    for name in ("bm25", "structured", "peer:bm25s"):
        assert {"ndcg@10", "mrr@10", "recall@10", "recall@100", "qps", "p50_ms", "p99_ms"} <= set(systems[name])
    assert systems["bm25"]["recall@10"] == 1.0  # every query shares words with its one relevant document
    assert res["oracle_arm"]["recall@100"] >= max(s["recall@100"] for n, s in systems.items() if n in
                                                 ("bm25", "dense", "splade", "structured"))
    assert "bm25/peer:bm25s" in res["ratios"] and res["known_item"]["n"] == 20
    assert res["known_item"]["systems"]["structured"]["recall@10"] > 0.5
