"""The encoder benchmark trains (tiny models) on a BEIR folder's train qrels and reports every documented system."""

import json
import runpy
import sys

from ltrr.data.music import QueryGenerator, build_world
from tests.conftest import ROOT, TINY_WORLD


def _beir_folder(root):
    world = build_world(seed=0, **TINY_WORLD)
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text})
                                                 for d in world.docs) + "\n")
    qs, seen = [], set()
    for sq in QueryGenerator(world, seed=7).generate(200):
        if sq.query.text not in seen:
            seen.add(sq.query.text)
            qs.append(sq)
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": f"q{i}", "text": sq.query.text})
                                                  for i, sq in enumerate(qs)) + "\n")
    rows = [(f"q{i}", d, g) for i, sq in enumerate(qs) for d, g in sq.targets.items()]
    n_test = 25
    test_ids = {f"q{i}" for i in range(n_test)}
    for split, keep in (("train", lambda q: q not in test_ids), ("test", lambda q: q in test_ids)):
        (root / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "\n".join(f"{q}\t{d}\t{g}" for q, d, g in rows if keep(q)) + "\n")


def test_train_benchmark_on_a_tiny_beir_folder(tmp_path, monkeypatch):
    data = tmp_path / "tiny_beir"
    _beir_folder(data)
    out = tmp_path / "train.json"
    argv = ["train.py", "--data", str(data), "--run", str(tmp_path / "run"), "--experiment", "encoders_smoke",
            "--split", "test", "--rerank-top", "10", "--doc-top-k", "64", "--query-top-k", "16", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "scripts" / "bench" / "train.py"), run_name="__main__")
    res = json.loads(out.read_text())
    assert {"dense", "splade", "splade:unpruned", "fusion", "rerank", "peer:minilm-zero-shot",
            "peer:bm25"} <= set(res["systems"])
    for m in res["systems"].values():
        assert 0 <= m["ndcg@10"] <= 1 and 0 <= m["recall@100"] <= 1
    assert res["train"]["joint"]["examples_per_s"] > 0 and res["train"]["joint"]["peak_memory_mb"] > 0
    assert res["queries"] == 25 and out.with_suffix(".png").exists()
    assert 0 <= res["systems"]["rerank"]["first_stage_weight_from_dev"] <= 1
    if res["systems"]["rerank"]["first_stage_weight_from_dev"] > 0:
        assert "rerank:ce-only" in res["systems"]
    assert any(c["doc_top_k"] == 64 and c["l0_d"] <= 64 for c in res["sparsity"]["curve"])
