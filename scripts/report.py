"""Print the README's result tables (markdown) from a run folder's metrics.json.

Usage: ``.venv/bin/python scripts/report.py [runs/latest] [BASELINE_RUN]``; with a baseline run (same seeds and
query streams, another configuration, e.g. ``rerank=none``) it also prints the paired differences run - baseline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

METRICS = ("recall_at_budget", "hit_at_budget", "ndcg@10", "cumulative_regret", "mean_union_size")


def fmt(ci: dict, digits: int) -> str:
    return f"{ci['mean']:.{digits}f} ± {ci['half_width']:.{digits}f}"


def policy_table(m: dict) -> list[str]:
    policies = [p for p in m if p not in {"meta", "comparison", "intent_arm_recall", "allocation_share"}]
    lines = ["| policy | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for p in policies:
        cells = [fmt(m[p]["ci95"][k], 1 if k in ("cumulative_regret", "mean_union_size") else 4) for k in METRICS]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    for name, diffs in m["comparison"].items():
        cells = [fmt(d, 1 if k == "cumulative_regret" else 4) for k, d in diffs.items()]
        lines.append(f"\nPaired difference {name} (95% CI over seeds): " +
                     ", ".join(f"{k} {c}" for k, c in zip(diffs, cells)))
    return lines


def intent_table(table: dict) -> list[str]:
    arms = list(next(iter(table.values())))
    lines = ["| intent | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for intent, row in table.items():
        best = max(row.values())
        lines.append(f"| {intent} | " + " | ".join(
            (f"**{row[a]:.2f}**" if row[a] == best else f"{row[a]:.2f}") for a in arms) + " |")
    return lines


def baseline_table(m: dict, base: dict) -> list[str]:
    """Paired differences (mean and 95% t-interval over the common seeds) of every policy and metric."""
    from scipy import stats

    lines = ["| policy | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for p in m:
        if p in {"meta", "comparison", "intent_arm_recall", "allocation_share"} or p not in base:
            continue
        cells = []
        for k in METRICS:
            a = {s: v[k] for s, v in m[p]["per_seed"].items()}
            b = {s: v[k] for s, v in base[p]["per_seed"].items()}
            seeds = sorted(set(a) & set(b))
            d = [a[s] - b[s] for s in seeds]
            h = stats.t.ppf(0.975, len(d) - 1) * stats.tstd(d) / len(d) ** 0.5 if len(d) > 1 else 0.0
            mean = sum(d) / len(d)
            digits = 1 if k in ("cumulative_regret", "mean_union_size") else 4
            cells.append(f"{mean:+.{digits}f} ± {h:.{digits}f}")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines


def main(run: str = "runs/latest", baseline: str | None = None) -> None:
    m = json.loads((Path(run) / "metrics.json").read_text())
    meta = m["meta"]
    print(f"Run: {Path(run).resolve().name}; seeds {meta['seeds']}, {meta['rounds']} queries per seed, budget "
          f"{meta['budget']}, depths {meta['depths']}, {meta['n_docs']} entities, {meta['seconds']} s.\n")
    print("\n".join(policy_table(m)))
    for k, table in m["intent_arm_recall"].items():
        print(f"\nrecall@{k} of each arm alone, by intent (during the {meta['intent_arm_policy']} runs):\n")
        print("\n".join(intent_table(table)))
    if baseline:
        base = json.loads((Path(baseline) / "metrics.json").read_text())
        print(f"\nPaired difference {Path(run).resolve().name} - {Path(baseline).resolve().name} (95% CI over seeds):\n")
        print("\n".join(baseline_table(m, base)))


if __name__ == "__main__":
    main(*sys.argv[1:])
