"""Metric names and a thin layer over pytrec_eval (no hand-written nDCG), plus seed-level intervals."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pytrec_eval
from scipy import stats

RECALL_AT_BUDGET = "recall_at_budget"
HIT_AT_BUDGET = "hit_at_budget"
NDCG_10 = "ndcg@10"
CUM_REGRET = "cumulative_regret"
CTR = "ctr"
UNION_SIZE = "mean_union_size"


def ndcg_at_10(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Per-query nDCG@10 with trec_eval's definition.

    Parameters
    ----------
    runs : mapping of query id to ranked document ids
    qrels : mapping of query id to {doc id: grade}

    Returns
    -------
    dict of query id to nDCG@10 (queries with an empty ranking score 0)
    """
    run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in runs.items() if docs}
    judged = {q: {d: int(g) for d, g in rel.items()} for q, rel in qrels.items()}
    ev = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10"})
    got = ev.evaluate(run)
    return {q: float(got.get(q, {}).get("ndcg_cut_10", 0.0)) for q in judged}


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean and Student-t confidence interval over independent runs (seeds).

    Returns
    -------
    dict with ``mean``, ``lo``, ``hi``, ``half_width`` and ``n``; a single run has a zero-width interval.
    """
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return {"mean": m, "lo": m, "hi": m, "half_width": 0.0, "n": len(x)}
    h = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return {"mean": m, "lo": m - h, "hi": m + h, "half_width": h, "n": len(x)}
