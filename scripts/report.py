"""Print the README's result tables (markdown) from a run folder's metrics.json.

Usage: ``.venv/bin/python scripts/report.py [runs/latest]``
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


def main(run: str = "runs/latest") -> None:
    m = json.loads((Path(run) / "metrics.json").read_text())
    meta = m["meta"]
    print(f"Run: {Path(run).resolve().name}; seeds {meta['seeds']}, {meta['rounds']} queries per seed, budget "
          f"{meta['budget']}, depths {meta['depths']}, {meta['n_docs']} entities, {meta['seconds']} s.\n")
    print("\n".join(policy_table(m)))
    for k, table in m["intent_arm_recall"].items():
        print(f"\nrecall@{k} of each arm alone, by intent (during the {meta['intent_arm_policy']} runs):\n")
        print("\n".join(intent_table(table)))


if __name__ == "__main__":
    main(*sys.argv[1:])
