"""Evaluate every arm, their budgeted union, RRF fusion and the peers on any folder in the BEIR layout.

    python scripts/bench/beir.py --data ../shared/data/beir/scifact --split test --out bench/scifact.json
    python scripts/bench/beir.py --data ../shared/data/music/spotify_songs --split train \\
        --known-item 1000 --out bench/spotify.json

Metrics come from pytrec_eval (nDCG@10, MRR@10, recall@{10,20,50,100}). ``qps`` is the batch throughput over
all evaluated queries (fastest of ``--repeats`` runs); ``p50_ms``/``p99_ms`` are single-query latencies. Peers
(bm25s, sentence-transformers with the same MiniLM weights) run in the same process. With ``--known-item N``
the catalogue also gets N generated known-item queries with typos (:mod:`ltrr.data.known_item`, seed
``--known-item-seed``; tune on another seed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from ltrr.data.beir import load_beir  # noqa: E402
from ltrr.data.known_item import known_item_queries  # noqa: E402
from ltrr.encoders.dense import resolve_model_path  # noqa: E402
from ltrr.eval.offline import METRICS, fuse, latency_stats, mean_metrics, oracle, run_metrics  # noqa: E402
from ltrr.tasks.build import build_arms  # noqa: E402

log = logging.getLogger("bench.beir")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--split", default="test")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--arms", default="bm25,dense,splade,structured", help="comma-separated arm names (configs/arm)")
    p.add_argument("--peers", default="bm25s,sentence-transformers", help="comma-separated, or 'none'")
    p.add_argument("--limit-queries", type=int, default=0, help="evaluate only the first N judged queries")
    p.add_argument("--latency-queries", type=int, default=300, help="queries timed one at a time")
    p.add_argument("--repeats", type=int, default=3, help="batch runs per system; qps is the fastest")
    p.add_argument("--encode-sample", type=int, default=1000, help="documents used for the encode-throughput race")
    p.add_argument("--known-item", type=int, default=0, help="also evaluate N generated known-item queries")
    p.add_argument("--known-item-seed", type=int, default=1)
    p.add_argument("--set", action="append", default=[], help="Hydra override of configs/bench.yaml")
    return p.parse_args(argv)


def load_config(arms: list[str], overrides: list[str]):
    """Compose configs/bench.yaml, keeping only the arms asked for (others are added from configs/arm)."""
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "configs")):
        base = compose("bench")
        extra = [f"+arm@arms.{a}={a}" for a in arms if a not in base.arms]
        drop = [f"~arms.{a}" for a in base.arms if a not in arms]
        cfg = compose("bench", overrides=drop + extra + list(overrides))
    OmegaConf.resolve(cfg)
    return cfg


def best_of(run, n: int, repeats: int):
    """Output of ``run()`` and the best throughput (``n`` / fastest of ``repeats`` timed calls)."""
    best, out = float("inf"), None
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t0)
    return out, n / max(best, 1e-9)


def evaluate_arm(arm, queries, qrels, k: int, n_latency: int, repeats: int = 3) -> tuple[dict, dict, dict]:
    """Batch run (throughput), single-query run (latency), metrics.

    Returns figures, ``{qid: ArmResult}`` and per-query metrics.
    """
    results, qps = best_of(lambda: arm.retrieve_batch(queries, k), len(queries), repeats)
    lat = [arm.retrieve(q, k).latency_ms for q in queries[:n_latency]]
    by_q = {q.id: r for q, r in zip(queries, results)}
    per_q = run_metrics({q: [c.doc_id for c in r.candidates] for q, r in by_q.items()}, qrels)
    return {**mean_metrics(per_q), "qps": qps, **latency_stats(lat)}, by_q, per_q


def evaluate_peer(peer, queries, qrels, k: int, n_latency: int, repeats: int = 3) -> tuple[dict, dict]:
    runs, qps = best_of(lambda: peer.search_batch([q.text for q in queries], k), len(queries), repeats)
    lat = []
    for q in queries[:n_latency]:
        t1 = time.perf_counter()
        peer.search_batch([q.text], k)
        lat.append((time.perf_counter() - t1) * 1e3)
    per_q = run_metrics({q.id: r for q, r in zip(queries, runs)}, qrels)
    return {**mean_metrics(per_q), "qps": qps, **latency_stats(lat), "build_s": peer.build_s}, per_q


def evaluate_query_set(arms, build_s, queries, qrels, cfg, args) -> dict:
    """Every arm, union@budget, RRF and the per-query oracle arm on one query set."""
    systems, per_system, by_arm = {}, {}, {}
    for name, arm in arms.items():
        log.info("evaluating %s on %d queries", name, len(queries))
        systems[name], by_arm[name], per_system[name] = evaluate_arm(arm, queries, qrels, cfg.k,
                                                                     args.latency_queries, args.repeats)
        systems[name]["build_s"] = build_s[name]
    union = {a: int(d) for a, d in cfg.union.items() if a in arms}
    if union:
        systems[f"union@{sum(union.values())}"] = mean_metrics(run_metrics(fuse(by_arm, union), qrels))
    if len(arms) > 1:
        fusion = instantiate(cfg.fusion)
        systems["rrf"] = mean_metrics(run_metrics(fuse(by_arm, {a: cfg.k for a in arms}, fusion), qrels))
    return {"systems": systems, "oracle_arm": oracle(per_system)}


def build(cfg, docs, names) -> tuple[dict, dict]:
    """Arms by name and the seconds each took to build (index, encode)."""
    arms, build_s = {}, {}
    for name in names:
        t0 = time.perf_counter()
        arms.update(build_arms(OmegaConf.create({"arms": {name: cfg.arms[name]}}), docs))
        build_s[name] = time.perf_counter() - t0
    return arms, build_s


def encode_race(arms, peers, docs, n: int) -> dict:
    """Documents per second of ltrr's dense encoder and sentence-transformers on the same texts (best of 2)."""
    st = next((p for p in peers if p.name == "peer:sentence-transformers"), None)
    dense = next((a for a in arms.values() if hasattr(a, "encoder") and hasattr(a.encoder, "dim")), None)
    if st is None or dense is None:
        return {}
    texts = [d.full_text for d in docs[:n]]
    best = {"ltrr": float("inf"), st.name: float("inf")}
    for _ in range(2):
        for who, fn in (("ltrr", dense.encoder.encode), (st.name, st.encode)):
            t0 = time.perf_counter()
            fn(texts)
            best[who] = min(best[who], time.perf_counter() - t0)
    return {"sample": len(texts), **{f"{w}_docs_per_s": len(texts) / t for w, t in best.items()},
            "ratio": best[st.name] / best["ltrr"]}


def ratios(systems: dict, encode: dict) -> dict:
    out = {}
    for ours, peer in (("bm25", "peer:bm25s"), ("dense", "peer:sentence-transformers")):
        if ours in systems and peer in systems:
            out[f"{ours}/{peer}"] = {m: systems[ours][m] / systems[peer][m] if systems[peer][m] else None
                                     for m in ("ndcg@10", "recall@100", "qps")}
    if encode:
        out.setdefault("dense/peer:sentence-transformers", {})["encode_docs_per_s"] = encode["ratio"]
    return out


def print_table(title: str, block: dict) -> None:
    cols = list(METRICS) + ["qps", "p50_ms", "p99_ms"]
    print(f"\n## {title}")
    print("| system | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    rows = dict(block["systems"])
    rows["oracle_arm"] = block["oracle_arm"]
    for name, fig in rows.items():
        cells = [f"{fig[c]:.4f}" if c in METRICS and c in fig else f"{fig[c]:.1f}" if c in fig else "" for c in cols]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    names = [a for a in args.arms.split(",") if a]
    cfg = load_config(names, args.set)
    ds = load_beir(args.data, args.split)
    docs = list(ds.corpus.values())
    qids = [q for q in ds.qrels if q in ds.queries][: args.limit_queries or None]
    queries = [ds.queries[q] for q in qids]
    qrels = {q: ds.qrels[q] for q in qids}
    log.info("%s: %d docs, %d judged queries (%s)", args.data, len(docs), len(queries), args.split)
    arms, build_s = build(cfg, docs, names)
    block = evaluate_query_set(arms, build_s, queries, qrels, cfg, args)
    peers = []
    wanted = [] if args.peers == "none" else args.peers.split(",")
    if "bm25s" in wanted:
        from peers import Bm25sPeer

        peers.append(Bm25sPeer(docs))
    if "sentence-transformers" in wanted:
        from peers import SentenceTransformersPeer

        enc = cfg.encoder
        peers.append(SentenceTransformersPeer(docs, resolve_model_path(enc.model_name_or_path), enc.max_length,
                                              enc.batch_size))
    for peer in peers:
        block["systems"][peer.name], _ = evaluate_peer(peer, queries, qrels, cfg.k, args.latency_queries,
                                                       args.repeats)
    encode = encode_race(arms, peers, docs, args.encode_sample)
    out = {"dataset": str(args.data), "split": args.split, "n_docs": len(docs), "n_queries": len(queries),
           **block, "encode": encode, "ratios": ratios(block["systems"], encode),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    print_table(f"{Path(args.data).name} / {args.split}", block)
    if args.known_item:
        ki_q, ki_rel = known_item_queries(docs, args.known_item, seed=args.known_item_seed)
        out["known_item"] = {"n": len(ki_q), "seed": args.known_item_seed,
                             **evaluate_query_set(arms, build_s, ki_q, ki_rel, cfg, args)}
        print_table(f"known-item queries (seed {args.known_item_seed})", out["known_item"])
    print("\nratios:", json.dumps(out["ratios"], indent=1), "\nencode:", json.dumps(encode))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    log.info("wrote %s", args.out)
    return out


if __name__ == "__main__":
    main()
