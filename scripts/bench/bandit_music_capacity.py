"""Offline capacity check on the music-sim bandit environment: how far can a learner get from its contexts?

    python scripts/bench/bandit_music_capacity.py --out bench/bandit_music_capacity.json

``music-sim`` (``scripts/bench/bandit.py``) draws each round's context from a logged music query and its outcome from
another query of the same hidden intent, so its oracle plays the best allocation of the query's intent. This check
places reference points on the bench's scale (normalised regret, uniform split = 100, oracle = 0), over all stored
queries (the stream draws them uniformly):

- ``true_intent``: the best allocation of each query's own intent (0 up to ties), and ``independence_knapsack``: the
  policies' knapsack on the intent's true per-(arm, depth) marginals, which ignores how arms overlap;
- ``classifier:<name>``: an intent classifier trained on the hidden intent labels, which no policy sees (5-fold
  cross-fitted over queries), playing the best allocation under its predicted intent mix: a generous bound on what
  the context tells about the intent;
- ``network``: the policies' one-layer network of stop 19 (``representation: context``, width ``--width``; the shipped
  policy now has two layers, ``hidden: [32, 20]``) fitted on *full-information*
  labels ``1[rank_k <= d]`` of every (arm, depth) cell of the first ``n`` rounds of a stream, then the knapsack on its
  predictions over the next 5,000 rounds, with and without an L2 penalty (``--weight-decay``), on ``--seeds``;
- ``network on the true intent``: the same fits with the one-hot hidden intent as the network's only input instead
  of the context, which no policy sees: what the network reaches from the same labels once the representation
  problem is solved.

A bandit sees less than either: only the cells it drew, and only hits.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

log = logging.getLogger("bench.bandit_music_capacity")


def normalized_regret(env, queries: np.ndarray, idx: np.ndarray, uniform: int) -> float:
    """Regret of playing action rows ``idx`` on ``queries`` against the intent oracle, uniform split = 100."""
    mu, best = env.mu_table[queries, idx], env.mu_table[queries].max(axis=1)
    return float(100 * (best - mu).sum() / max((best - env.mu_table[queries, uniform]).sum(), 1e-12))


def knapsack_regret(env, queries: np.ndarray, probs: np.ndarray, uniform: int) -> float:
    """Normalised regret of the exact knapsack on per-cell hit probabilities ``probs`` ``(len(queries), K, |D|)``."""
    idx = np.array([env.index[tuple(int(v) for v in a)] for a in env.space.solve(probs)])
    return normalized_regret(env, queries, idx, uniform)


def classifier_floors(env, uniform: int, seed: int) -> dict[str, float]:
    """Cross-fitted intent classifiers on the contexts; each plays ``argmax_n Σ_τ P̂(τ | x) M[τ, n]``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    q = np.arange(env.n_queries)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    out = {}
    for name, clf in (("logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
                      ("gradient_boosting", HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05,
                                                                           random_state=seed))):
        p = cross_val_predict(clf, env.contexts, env.query_type, cv=folds, method="predict_proba")
        out[f"classifier:{name}"] = normalized_regret(env, q, np.argmax(p @ env.mu_type, axis=1), uniform)
        out[f"classifier:{name}:accuracy"] = float((p.argmax(1) == env.query_type).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "bandit_music" / "ranks.npz",
                    help="scripts/bench/bandit_music_data.py's output")
    ap.add_argument("--train", nargs="+", type=int, default=[2000, 5000, 10000, 15000], help="full-information rounds")
    ap.add_argument("--width", type=int, default=20)
    ap.add_argument("--weight-decay", nargs="+", type=float, default=[0.0, 1e-3])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="stream and network seeds (tuning seeds)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "bandit_music_capacity.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    import bandit as bench
    from bandit_capacity import N_TEST, fit, mean_regret

    torch.set_num_threads(1)
    bench.REPLAY["music-sim"]["data"] = args.data
    env, _ = bench.replay_env("music-sim", 100)
    uniform = env.index[(env.space.budget // len(env.arms),) * len(env.arms)]
    q = np.arange(env.n_queries)
    depths = np.array(env.space.depths)
    marg = np.stack([(env.best_ranks[env.query_type == k][:, :, None] <= depths).mean(0)
                     for k in range(len(env.types))])                                  # (n_types, K, |D|)
    floors = {"true_intent": normalized_regret(env, q, np.argmax(env.mu_type[env.query_type], axis=1), uniform),
              "independence_knapsack": knapsack_regret(env, q, marg[env.query_type], uniform),
              "best_static": normalized_regret(env, q, np.full(len(q), np.argmax(env.mu_table.mean(0))), uniform),
              **classifier_floors(env, uniform, args.seeds[0])}
    out = {"data": str(args.data), "n_queries": env.n_queries, "seeds": args.seeds, "steps": args.steps,
           "lr": args.lr, "width": args.width, "n_test": N_TEST, "floors": floors, "fits": []}
    for seed in args.seeds:
        ep = env.episode(max(args.train) + N_TEST, seed)
        onehot = np.eye(len(env.types), dtype=np.float32)[env.query_type[ep.queries]]
        for (inputs, ctx), wd, n in itertools.product((("context", None), ("true_intent", onehot)),
                                                      args.weight_decay, args.train):
            t0 = time.time()
            probs = fit(env, ep, n, "context", [args.width], args.steps, args.lr, seed, wd, contexts=ctx)
            r = knapsack_regret(env, ep.queries[n:n + N_TEST], probs, uniform)
            out["fits"].append({"seed": seed, "inputs": inputs, "weight_decay": wd, "n_train": n,
                                "normalized_regret": r})
            log.info("seed %d %s wd %g n=%d: plug-in normalised regret %.1f (%.0fs)", seed, inputs, wd, n, r,
                     time.time() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print("\n| reference (all queries) | normalised regret |\n|---|---|")
    for k, v in floors.items():
        if not k.endswith(":accuracy"):
            acc = floors.get(f"{k}:accuracy")
            print(f"| {k} | {v:.1f}" + (f" (intent accuracy {acc:.3f})" if acc is not None else "") + " |")
    print(f"\n| network [{args.width}], full information: input, weight decay | "
          + " | ".join(f"n = {n}" for n in args.train) + " |")
    print("|---" * (1 + len(args.train)) + "|")
    for inputs in ("context", "true_intent"):
        for wd in args.weight_decay:
            cells = [mean_regret(out["fits"], inputs=inputs, weight_decay=wd, n_train=n) for n in args.train]
            print(f"| {inputs}, {wd:g} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
