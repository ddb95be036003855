"""SpladeArm on a BEIR dataset (SciFact by default): nDCG@10, build time, nnz/doc, ms/query.

Runs the arm with BM25 term weights over the BERT WordPiece vocabulary (``BM25TermWeights``) for each ``k1,b``
pair, optionally with static doc pruning, and the project's ``BM25Arm`` (stemmed words) as a reference. Writes a
JSON file and prints a table. Latency (k = 100, query encoding included, after a warm-up batch): ``batch`` is the
per-query time of one ``retrieve_batch`` over all test queries (best of 3); ``single`` is the mean of one
``retrieve`` call per query.

Usage: ``.venv/bin/python scripts/bench/splade_scifact.py [--root /work/shared/data/beir/scifact] [--split test]
[--params 1.2,0.75 0.9,0.4] [--doc-top-k 0 64] [--out splade_scifact.json]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ltrr.arms.base import Arm
from ltrr.arms.lexical import BM25Arm
from ltrr.arms.splade import SpladeArm
from ltrr.data.beir import load_beir
from ltrr.encoders.bm25_weights import BM25TermWeights
from ltrr.eval.metrics import ndcg_at_10


def measure(arm: Arm, build_s: float, queries, qrels, k: int = 100) -> dict[str, float]:
    arm.retrieve_batch(queries[:8], k)  # warm-up (first-call costs)
    times = []
    for _ in range(3):  # best of 3: the machine is shared and Python's GC adds spikes
        t0 = time.perf_counter()
        res = arm.retrieve_batch(queries, k)
        times.append(time.perf_counter() - t0)
    batch_ms = min(times) * 1e3 / len(queries)
    single_ms = float(np.mean([arm.retrieve(q, k).latency_ms for q in queries]))
    ndcg = ndcg_at_10({q.id: [c.doc_id for c in r.candidates] for q, r in zip(queries, res)}, qrels)
    nnz = getattr(getattr(arm, "index", None), "nnz_per_doc", float("nan"))
    return {"ndcg@10": float(np.mean(list(ndcg.values()))), "build_s": build_s, "nnz_per_doc": nnz,
            "ms_per_query_batch": batch_ms, "ms_per_query_single": single_ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default="/work/shared/data/beir/scifact")
    ap.add_argument("--split", default="test")
    ap.add_argument("--params", nargs="+", default=["1.2,0.75", "0.9,0.4"], help="k1,b pairs")
    ap.add_argument("--doc-top-k", nargs="+", type=int, default=[0], help="0 = no pruning")
    ap.add_argument("--no-reference", action="store_true", help="skip the BM25Arm reference")
    ap.add_argument("--out", default="splade_scifact.json")
    args = ap.parse_args()

    data = load_beir(args.root, args.split)
    docs = list(data.corpus.values())
    queries = [data.queries[q] for q in data.qrels]
    rows: dict[str, dict[str, float]] = {}
    for kb in args.params:
        k1, b = (float(v) for v in kb.split(","))
        for top in args.doc_top_k:
            t0 = time.perf_counter()
            arm = SpladeArm(docs, BM25TermWeights(k1=k1, b=b), doc_top_k=top or None, progress=False)
            rows[f"splade-arm bm25-wordpiece k1={k1} b={b} doc_top_k={top or '-'}"] = measure(
                arm, time.perf_counter() - t0, queries, data.qrels)
    if not args.no_reference:
        t0 = time.perf_counter()
        arm = BM25Arm(docs)
        rows["BM25Arm, default fields (reference)"] = measure(arm, time.perf_counter() - t0, queries, data.qrels)
    meta = {"root": args.root, "split": args.split, "n_docs": len(docs), "n_queries": len(queries)}
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    print(f"{meta}\n| run | nDCG@10 | build s | nnz/doc | ms/q batch | ms/q single |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['ndcg@10']:.4f} | {r['build_s']:.2f} | {r['nnz_per_doc']:.1f} | "
              f"{r['ms_per_query_batch']:.3f} | {r['ms_per_query_single']:.3f} |")


if __name__ == "__main__":
    main()
