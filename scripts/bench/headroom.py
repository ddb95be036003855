"""How much of the allocation headroom does each policy capture?

From a finished run's interaction logs (every arm's full list is logged as the rank of the best target), this
replays every feasible allocation on the same queries and reports, per seed and pooled with 95% intervals:
- ``uniform``, ``best_static`` (the best fixed allocation in hindsight, BANDIT.md §3),
  ``per_intent_oracle`` (best fixed allocation per hidden intent, in hindsight) and ``per_query_oracle``;
- each logged policy's hit rate (overall and over the second half of the stream, after learning).
All values are hit rates (a target inside the candidate union). Writes ``headroom.json`` in the run folder.

Usage: ``.venv/bin/python scripts/bench/headroom.py [runs/latest]``
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from ltrr.eval.metrics import mean_ci
from ltrr.pipeline.log import read_log


def replay(records: list[dict], depths: list[int], budget: int) -> dict[str, float]:
    arms = list(records[0]["allocation"])
    acts = np.array([a for a in itertools.product([0, *depths], repeat=len(arms)) if sum(a) <= budget], float)
    ranks = np.array([[r["extra"]["arm_ranks"][a] or np.inf for a in arms] for r in records], float)
    hits = (ranks[:, None, :] <= acts[None, :, :]).any(2)            # (n_queries, n_actions)
    intents = np.array([r["extra"]["intent"] for r in records])
    share = max(d for d in depths if d <= budget // len(arms))
    uniform = int(np.flatnonzero((acts == share).all(1))[0])
    per_intent = sum(hits[intents == i].mean(0).max() * (intents == i).sum() for i in set(intents))
    return {"uniform": float(hits[:, uniform].mean()), "best_static": float(hits.mean(0).max()),
            "per_intent_oracle": float(per_intent / len(records)), "per_query_oracle": float(hits.max(1).mean())}


def main(run: str = "runs/latest") -> None:
    run_dir = Path(run)
    meta = json.loads((run_dir / "metrics.json").read_text())["meta"]
    rows: dict[str, list[float]] = defaultdict(list)
    for seed in meta["seeds"]:
        logs = {p.stem.rsplit("_seed", 1)[0]: list(read_log(p)) for p in run_dir.glob(f"logs/*_seed{seed}.jsonl")}
        base = logs.get("uniform") or next(iter(logs.values()))
        for k, v in replay(base, meta["depths"], meta["budget"]).items():
            rows[f"replay:{k}"].append(v)
        for policy, recs in sorted(logs.items()):
            hit = np.array([r["extra"]["hit"] for r in recs], float)
            rows[f"{policy}"].append(float(hit.mean()))
            rows[f"{policy} (2nd half)"].append(float(hit[len(hit) // 2:].mean()))
    out = {k: mean_ci(v) for k, v in rows.items()}
    (run_dir / "headroom.json").write_text(json.dumps(out, indent=2))
    ref = out["replay:uniform"]["mean"]
    print(f"| hit rate (seeds {meta['seeds']}) | mean ± 95% CI | vs uniform |\n|---|---|---|")
    for k, ci in out.items():
        print(f"| {k} | {ci['mean']:.4f} ± {ci['half_width']:.4f} | {ci['mean'] / ref:.3f} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
