"""Offline (BEIR-style) evaluation of ranked lists: pytrec_eval metrics, fusion of arms, per-query oracle."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pytrec_eval

from ltrr.rerank.fusion import RRFFusion
from ltrr.types import ArmResult

RECALL_KS = (10, 20, 50, 100)
METRICS = ("ndcg@10", "mrr@10") + tuple(f"recall@{k}" for k in RECALL_KS)


def run_metrics(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
                ignore_identical_ids: bool = True) -> dict[str, dict[str, float]]:
    """Per-query :data:`METRICS` with trec_eval's definitions (via pytrec_eval).

    Parameters
    ----------
    runs : mapping of query id to ranked document ids (best first)
    qrels : mapping of query id to {doc id: grade}
        Only these queries are scored; a query without a ranking scores 0.
    ignore_identical_ids : bool
        Drop a document whose id equals the query id (BEIR's protocol, matters for ArguAna and Quora).

    Returns
    -------
    dict of query id to {metric name: value}
    """
    run = {}
    for q, docs in runs.items():
        if q in qrels:
            kept = list(dict.fromkeys(d for d in docs if not (ignore_identical_ids and d == q)))
            run[q] = {d: float(len(kept) - i) for i, d in enumerate(kept)}
    judged = {q: {d: int(g) for d, g in rel.items()} for q, rel in qrels.items()}
    measures = {"ndcg_cut.10", "recall." + ",".join(map(str, RECALL_KS))}
    full = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate({q: r for q, r in run.items() if r})
    top10 = {q: {d: s for d, s in r.items() if s > len(r) - 10} for q, r in run.items() if r}
    mrr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10)
    out = {}
    for q in judged:
        got, rr = full.get(q, {}), mrr.get(q, {})
        row = {"ndcg@10": got.get("ndcg_cut_10", 0.0), "mrr@10": rr.get("recip_rank", 0.0)}
        row.update({f"recall@{k}": got.get(f"recall_{k}", 0.0) for k in RECALL_KS})
        out[q] = {m: float(v) for m, v in row.items()}
    return out


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Average of each metric over queries."""
    if not per_query:
        return {m: 0.0 for m in METRICS}
    return {m: float(np.mean([row[m] for row in per_query.values()])) for m in METRICS}


def oracle(per_system: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """Per-query oracle: for each query and metric, the best of the given systems, averaged over queries."""
    systems = list(per_system.values())
    if not systems:
        return {}
    return {m: float(np.mean([max(s[q][m] for s in systems) for q in systems[0]])) for m in METRICS}


def fuse(results: Mapping[str, Mapping[str, ArmResult]], depths: Mapping[str, int],
         fusion: RRFFusion | None = None) -> dict[str, list[str]]:
    """Union of each arm's top ``depths[arm]`` per query, ordered by reciprocal-rank fusion.

    Parameters
    ----------
    results : mapping of arm name to {query id: ArmResult}
    depths : mapping of arm name to int

    Returns
    -------
    dict of query id to ranked document ids
    """
    fusion = fusion or RRFFusion()
    qids = next(iter(results.values())).keys() if results else []
    return {q: [it.doc_id for it in fusion.fuse({a: r[q] for a, r in results.items()}, depths)] for q in qids}


def latency_stats(ms: Sequence[float]) -> dict[str, float]:
    """``p50_ms`` and ``p99_ms`` of per-query latencies."""
    arr = np.asarray(ms, dtype=float)
    if arr.size == 0:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    return {"p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99))}
