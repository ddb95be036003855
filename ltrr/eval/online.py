"""Summaries of simulated runs: per-policy metrics with seed intervals, intent x arm recall, allocation shares."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from ltrr.eval import metrics as M


def run_metrics(records: Sequence[dict]) -> dict[str, float]:
    """Metrics of one policy on one seed.

    ``recall_at_budget`` is the mean share of a query's targets inside the candidate union;
    ``cumulative_regret`` is ``Σ_t (oracle_hit_t − hit_t)``, against the per-query best feasible allocation.
    """
    runs = {f"r{r['round']}": r["shown"] for r in records}
    qrels = {f"r{r['round']}": r["extra"]["targets"] for r in records}
    ndcg = M.ndcg_at_10(runs, qrels)
    hit = np.array([r["extra"]["hit"] for r in records], dtype=float)
    oracle = np.array([r["extra"]["oracle_hit"] for r in records], dtype=float)
    return {
        M.RECALL_AT_BUDGET: float(np.mean([r["extra"]["recall"] for r in records])),
        M.HIT_AT_BUDGET: float(hit.mean()),
        M.NDCG_10: float(np.mean(list(ndcg.values()))),
        M.CUM_REGRET: float(np.sum(oracle - hit)),
        M.CTR: float(np.mean([bool(r["clicked"]) for r in records])),
        M.UNION_SIZE: float(np.mean([r["union_size"] for r in records])),
    }


def summarize(per_seed: dict[str, dict[int, dict[str, float]]]) -> dict[str, dict]:
    """Aggregate ``per_seed[policy][seed][metric]`` into mean and 95% interval per policy and metric."""
    out: dict[str, dict] = {}
    for policy, seeds in per_seed.items():
        names = next(iter(seeds.values())).keys()
        out[policy] = {m: M.mean_ci([seeds[s][m] for s in sorted(seeds)])["mean"] for m in names}
        out[policy]["ci95"] = {m: M.mean_ci([seeds[s][m] for s in sorted(seeds)]) for m in names}
        out[policy]["per_seed"] = {str(s): seeds[s] for s in sorted(seeds)}
    return out


def paired_difference(per_seed: dict, a: str, b: str, metric: str) -> dict[str, float]:
    """Mean and 95% interval of ``metric(a) − metric(b)`` paired by seed."""
    seeds = sorted(set(per_seed[a]) & set(per_seed[b]))
    return M.mean_ci([per_seed[a][s][metric] - per_seed[b][s][metric] for s in seeds])


def intent_arm_recall(records: Sequence[dict], k: int) -> dict[str, dict[str, float]]:
    """Share of queries, per intent, whose best target each arm alone ranks within ``k``."""
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for arm, rank in r["extra"]["arm_ranks"].items():
            acc[r["extra"]["intent"]][arm].append(float(rank is not None and rank <= k))
    return {i: {a: float(np.mean(v)) for a, v in arms.items()} for i, arms in sorted(acc.items())}


def allocation_share(records: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Mean share of the allocated candidates that went to each arm, per intent."""
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        total = sum(r["allocation"].values()) or 1
        for arm, n in r["allocation"].items():
            acc[r["extra"]["intent"]][arm].append(n / total)
    return {i: {a: float(np.mean(v)) for a, v in arms.items()} for i, arms in sorted(acc.items())}


def regret_curve(records: Sequence[dict]) -> np.ndarray:
    """Cumulative regret after each round, shape ``(n_rounds,)``."""
    return np.cumsum([float(r["extra"]["oracle_hit"]) - float(r["extra"]["hit"]) for r in records])
