"""Offline capacity check of the neural-linear network on the synthetic allocation env (no bandit loop).

    python scripts/bench/bandit_capacity.py --out bench/bandit_capacity.json

Fits the policy's network (both layouts: ``cell``, an MLP over [x; arm one-hot; depth] with a head per arm, and
``context``, an MLP over x with a head per (arm, depth) cell) on *full-information* labels ``y_{k,d} = 1[rank_k <= d]``
(times the click) of the first ``n`` rounds of a stream, then plays the exact knapsack on its predictions for 5,000
held-out rounds and reports the normalised regret there (uniform = 100). Two floors use the env's exact quantities:
the independence knapsack on the true per-arm marginals ``P(rank_k <= d | x)``, and the same with the most likely
type instead of the type posterior. This separates what the representation can reach from what exploration costs.
Each fit runs with and without an L2 penalty (``--weight-decay``) on seeds ``--seeds``; the table gives the means.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

log = logging.getLogger("bench.bandit_capacity")
N_TEST = 5000


def plugin_regret(env, ep, rows: np.ndarray, probs: np.ndarray, uniform: tuple) -> float:
    """Normalised regret on ``rows`` of the knapsack played on ``probs`` ``(len(rows), K, |D|)``."""
    alloc = env.space.solve(probs)
    idx = np.array([env.index[tuple(int(v) for v in a)] for a in alloc])
    mu_t = env.mu_type[0]
    mu = np.einsum("nt,tn->n", ep.type_posterior[rows], mu_t[:, idx])
    mu_u = ep.type_posterior[rows] @ mu_t[:, env.index[uniform]]
    best = ep.oracle[0][rows]
    return float(100 * (best - mu).sum() / (best - mu_u).sum())


def mean_regret(fits: list[dict], **keys) -> float:
    """Mean ``normalized_regret`` over the fits (seeds) whose fields equal ``keys``."""
    return float(np.mean([f["normalized_regret"] for f in fits if all(f[k] == v for k, v in keys.items())]))


def fit(env, ep, n_train: int, representation: str, hidden: list[int], steps: int, lr: float, seed: int,
        weight_decay: float = 0.0, contexts: np.ndarray | None = None) -> np.ndarray:
    """Train the policy's network on full labels of rounds ``[0, n_train)``; predictions on the test rounds.
    ``contexts`` ``(rounds, dim)`` replaces the stream's contexts as the network's input."""
    import torch

    from ltrr.bandit.neural import NeuralLinearTSPolicy

    ctx = ep.contexts if contexts is None else contexts
    torch.manual_seed(seed)
    pol = NeuralLinearTSPolicy(env.arms, env.space.budget, env.space.depths, n_features=ctx.shape[1],
                               hidden=hidden, representation=representation, seed=seed)
    depths = np.array(env.space.depths)
    units = pol._units()

    def data(rows):
        inp = np.concatenate([pol._cell_inputs(ctx[t]) for t in rows])
        clicked = ep.click_u[rows] < env.click_prob
        y = ((ep.ranks[rows][:, :, None] <= depths[None, None, :]) & clicked[:, None, None]).reshape(len(rows), -1)
        return torch.from_numpy(inp), torch.from_numpy(np.tile(units, len(rows))), torch.from_numpy(
            y.ravel().astype(np.float32))

    x, u, y = data(np.arange(n_train))
    opt = torch.optim.Adam(pol.net.parameters(), lr=lr, weight_decay=weight_decay)
    g = np.random.default_rng(seed)
    for _ in range(steps):
        i = torch.from_numpy(g.integers(len(y), size=512))
        loss = ((pol.net(x[i], u[i])[1] - y[i]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    xt, ut, _ = data(np.arange(n_train, n_train + N_TEST))
    with torch.no_grad():
        pred = pol.net(xt, ut)[1].double().numpy()
    return pred.reshape(N_TEST, len(env.arms), len(depths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", type=int, default=[1000, 2000, 5000, 10000], help="full-information rounds")
    ap.add_argument("--layouts", nargs="+", default=["cell:50", "context:50", "context:20", "context:32,20"],
                    help="representation:width[,width...]")
    ap.add_argument("--weight-decay", nargs="+", type=float, default=[0.0, 1e-3],
                    help="L2 penalties of the optimiser (the policy's weight_decay); one row of fits each")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1],
                    help="stream and network seeds (tuning seeds); the table gives the mean over them")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "bandit_capacity.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    from ltrr.bandit.baselines import UniformPolicy
    from ltrr.simulate.synthetic import SyntheticAllocationEnv

    torch.set_num_threads(1)
    env = SyntheticAllocationEnv(budget=100, seed=0)
    out = {"seeds": args.seeds, "steps": args.steps, "lr": args.lr, "n_test": N_TEST, "floors": {}, "fits": []}
    floors: dict[str, list[float]] = {"true_marginals": [], "map_type": []}
    rows = np.arange(max(args.train), max(args.train) + N_TEST)
    q = np.stack([1 - env.lex_prob, env.lex_prob], axis=1)
    marg = np.einsum("tl,tlkd->tkd", q, env.p_depth[0][..., 1:])  # P(rank_k <= d | type), latent marginalised
    for seed in args.seeds:
        ep = env.episode(max(args.train) + N_TEST, seed)
        uniform = UniformPolicy(env.arms, 100, env.space.depths, n_features=env.n_features).select(
            ep.contexts[0]).allocation
        floors["true_marginals"].append(plugin_regret(env, ep, rows, np.einsum(
            "nt,tkd->nkd", ep.type_posterior[rows], marg), uniform))
        floors["map_type"].append(plugin_regret(env, ep, rows, marg[ep.type_posterior[rows].argmax(1)], uniform))
        for layout in args.layouts:
            rep, widths = layout.split(":")
            hidden = [int(w) for w in widths.split(",")]
            for wd in args.weight_decay:
                for n in args.train:
                    t0 = time.time()
                    probs = fit(env, ep, n, rep, hidden, args.steps, args.lr, seed, wd)
                    r = plugin_regret(env, ep, np.arange(n, n + N_TEST), probs, uniform)
                    out["fits"].append({"representation": rep, "hidden": hidden, "weight_decay": wd, "seed": seed,
                                        "n_train": n, "normalized_regret": r})
                    log.info("seed %d %s %s wd %g n=%d: plug-in normalised regret %.1f (%.0fs)", seed, rep, hidden,
                             wd, n, r, time.time() - t0)
    out["floors"] = {k: float(np.mean(v)) for k, v in floors.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"\nFloors (held-out rounds, mean over seeds {args.seeds}): true marginals "
          f"{out['floors']['true_marginals']:.1f}, most likely type {out['floors']['map_type']:.1f}")
    print("| layout | weight decay | " + " | ".join(f"n = {n}" for n in args.train) + " |")
    print("|---" * (2 + len(args.train)) + "|")
    for layout in args.layouts:
        rep, widths = layout.split(":")
        hidden = [int(w) for w in widths.split(",")]
        for wd in args.weight_decay:
            cells = [mean_regret(out["fits"], representation=rep, hidden=hidden, weight_decay=wd, n_train=n)
                     for n in args.train]
            print(f"| {rep} [{widths}] | {wd:g} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
