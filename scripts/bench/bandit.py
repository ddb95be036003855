"""Benchmark of the allocation policies: regret, recall@budget, calibration, latency and off-policy evaluation.

    python scripts/bench/bandit.py --envs synthetic synthetic-drift --budgets 50 100 --seeds 5-24 --rounds 20000 \
        --out bench/bandit.json

Every policy of ``--policies`` (configs/policy/<name>.yaml, built by the main job's composition root) runs on the same
stream per (environment, budget, seed): common random numbers. Hindsight baselines (best static allocation, best single
arm) and the per-context oracle come from the environment's exact ``μ(x, n)``. Reported per policy: normalised regret
(uniform = 100, per seed, then averaged), cumulative pseudo-regret, recall@budget (share of rounds whose union holds the
wanted item), each with a 95% t-interval over seeds, and p50 decision and update latency. Tune on seeds 0-4
(``--seeds 0-4 --set policies.neural_linear_ts.lr=...``), report on seeds 5-24. Each (env, budget, seed) cell is saved
under ``--cache``; policies already there are reused (resumable; delete the folder after changing a policy config).

Off-policy evaluation (``--ope``): the logs of the neural-linear TS run (its eps_mix floor gives every allocation a
propensity) over the second half of the stream evaluate the final posterior's policy (its Monte-Carlo pmf); the truth is
the exact on-policy value ``click_prob · mean_t Σ_a π(a|x_t) μ(x_t, a)`` on the same contexts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

log = logging.getLogger("bench.bandit")
ENVS = {"synthetic": "synthetic", "synthetic-drift": "synthetic_drift", "scifact": None, "music": None, "music-sim": None}
REPLAY = {"scifact": {"data": ROOT / "runs" / "bandit_scifact" / "ranks.npz", "arms": ["bm25", "dense"],
                      "script": "scripts/bench/bandit_scifact_data.py"},
          "music": {"data": ROOT / "runs" / "bandit_music" / "ranks.npz", "arms": ["bm25", "dense", "popularity", "fresh"],
                    "script": "scripts/bench/bandit_music_data.py"}}
# the music stream with ranks resampled within the hidden intent: exact μ(x, n), Bayes oracle (TypeResampledEnv)
REPLAY["music-sim"] = {**REPLAY["music"], "resample": True}
POLICIES = ["uniform", "random", "lints", "lints_fixed_noise", "linucb", "eps_greedy", "neural_greedy",
            "neural_linear_ts", "vw_squarecb", "vw_epsilon"]


def depths_for(budget: int) -> list[int]:
    """Depth grid of BANDIT.md ({10, 25, 50, 100}) cut at the budget, plus the budget itself."""
    d = [x for x in (10, 25, 50, 100, 200) if x <= budget]
    return sorted(set(d + [budget]))


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def compose(env: str, budget: int, policies: list[str], sets: list[str], rounds: int):
    from ltrr.tasks.catalogue import compose as compose_train

    base = {"uniform", "lints", "neural_linear_ts"}  # already in train.yaml's defaults
    # rounds: the stream's length, so settings that scale with the run (train.yaml's warm start) see this one's
    over = ([f"+env={ENVS[env]}"] if ENVS[env] else []) + [f"budget={budget}", f"depths=[{','.join(map(str, depths_for(budget)))}]",
            "logger=none", f"rounds={rounds}"] + [f"+policy@policies.{p}={p}" for p in policies if p not in base] + list(sets)
    return compose_train(ROOT / "configs", over)


def run_cell(env_name: str, budget: int, seed: int, rounds: int, policies: list[str], sets: list[str],
             ope: bool) -> dict:
    """Every policy on one stream; per-policy summaries, curves and (optionally) the OPE check."""
    import torch
    from hydra.utils import instantiate

    from ltrr.simulate.synthetic import run_policy
    from ltrr.tasks import build

    torch.set_num_threads(1)
    cfg = compose(env_name, budget, policies, sets, rounds)
    if env_name in REPLAY:
        env, frac_of = replay_env(env_name, budget)
    else:
        env, frac_of = instantiate(cfg.env, budget=budget, depths=depths_for(budget)), None
    ep = env.episode(rounds, seed)
    mu_star = ep.oracle[0]
    T, pts = len(ep), np.unique(np.linspace(0, len(ep) - 1, 200).astype(int))
    out = {"policies": {}, "oracle_mu": float(mu_star.mean()), "hindsight_recall": float(ep.hindsight_hit().mean())}
    static, static_mu = ep.best_static()
    arm, solo, solo_mu = ep.best_single_arm()
    for name, alloc, m in (("best_static", static, static_mu), ("best_single_arm", solo, solo_mu)):
        out["policies"][name] = {"regret": float(mu_star.sum() - T * m), "mean_mu": m, "allocation": list(alloc),
                                 "recall": float(np.mean(np.any(ep.ranks <= np.asarray(alloc), axis=1)))}
    for name in policies:
        pol = build.build_policy(cfg, name, env.arms, ep.contexts.shape[1], seed, getattr(env, "context_names", None))
        t0 = time.time()
        r = run_policy(env, pol, episode=ep, seed=seed, no_click_weight=float(cfg.no_click_weight))
        hit = r.hit.astype(float)
        roll = np.convolve(hit, np.ones(1000) / 1000, mode="valid") if T >= 1000 else np.array([hit.mean()])
        res = {"regret": float(r.regret[-1]), "mean_mu": float(r.mu.mean()), "recall": float(hit.mean()),
               "recall_last_20pct": float(hit[-T // 5:].mean()), "seconds": round(time.time() - t0, 1),
               "select_ms_p50": float(np.median(r.select_s) * 1e3), "update_ms_p50": float(np.median(r.update_s) * 1e3),
               "select_ms_p99": float(np.percentile(r.select_s, 99) * 1e3),
               "update_ms_p99": float(np.percentile(r.update_s, 99) * 1e3),
               "regret_curve": r.regret[pts].round(2).tolist(),
               "rolling_recall": roll[np.unique(np.linspace(0, len(roll) - 1, 200).astype(int))].round(4).tolist(),
               "alloc_by_type": alloc_by_type(r.allocations, ep.types, env)}
        if frac_of is not None:  # BEIR's recall (share of the relevant documents in the union), the anchors' sense
            frac = frac_of(getattr(ep, "rank_queries", ep.queries), r.allocations)
            res["recall_frac"], res["recall_frac_last_20pct"] = float(frac.mean()), float(frac[-T // 5:].mean())
        if hasattr(pol, "mean_probs"):
            res["calibration"] = calibration(pol, ep, env)
        if ope and name == "neural_linear_ts":
            res["ope"] = ope_check(pol, r, ep, env, budget)
        out["policies"][name] = res
    return out


def replay_env(name: str, budget: int):
    """Replay env over the logged queries of ``REPLAY[name]`` (SciFact test queries, or the music world's stream),
    and the fraction-of-relevant recall of played allocations: ``frac_of(queries (T,), allocations (T, K)) -> (T,)``."""
    from ltrr.simulate.replay import RankedListEnv, TypeResampledEnv

    spec = REPLAY[name]
    if not Path(spec["data"]).exists():
        raise SystemExit(f"{spec['data']}: missing; run {spec['script']} first")
    z = np.load(spec["data"], allow_pickle=True)
    all_arms = list(z["arms"])
    unknown = [a for a in spec["arms"] if a not in all_arms]
    if unknown:
        raise SystemExit(f"{spec['data']}: no arms {unknown}; it has {all_arms}")
    cols = [all_arms.index(a) for a in spec["arms"]]
    ranks, n_rel = z["test_ranks"][:, :, cols], z["test_n_rel"]
    main = list(z["main_arms"]) if "main_arms" in z else all_arms
    key = "" if set(spec["arms"]) <= set(main) else "_all"
    contexts = z[f"test_contexts{key}"]
    env = (TypeResampledEnv if spec.get("resample") else RankedListEnv)(spec["arms"], budget, depths_for(budget), contexts, ranks,
                        query_types=z["test_types"], query_ids=z["test_qids"])
    # column names, for settings that pick columns by name (a policy's warm_by)
    env.context_names = [str(n) for n in z[f"context_names{key}"]] if f"context_names{key}" in z else None

    def frac_of(queries: np.ndarray, allocs: np.ndarray) -> np.ndarray:
        hit = np.any(ranks[queries] <= allocs[:, None, :], axis=2)  # (T, R); padding ranks are inf
        return hit.sum(1) / n_rel[queries]

    return env, frac_of


def alloc_by_type(allocs: np.ndarray, types: np.ndarray, env) -> dict:
    """Mean depth per arm for each hidden type, over the first and the last 20% of rounds."""
    T, names = len(allocs), getattr(env, "types", None) or [str(t) for t in sorted(set(types.tolist()))]
    out = {}
    for phase, sl in (("early", slice(0, T // 5)), ("late", slice(T - T // 5, T))):
        a, ty = allocs[sl], types[sl]
        out[phase] = {names[i]: dict(zip(env.arms, a[ty == i].mean(0).round(2).tolist()))
                      for i in range(len(names)) if np.any(ty == i)}
    return out


def calibration(pol, ep, env, n: int = 400) -> dict:
    """Final posterior-mean predictions of P(rank_k <= d) vs the realised indicator on the last rounds."""
    T = len(ep)
    rows = np.linspace(T - T // 5, T - 1, min(n, T // 5)).astype(int)
    depths = np.array(env.space.depths)
    pred = np.stack([pol.mean_probs(ep.contexts[t]) for t in rows]).ravel()
    obs = (ep.ranks[rows][:, :, None] <= depths[None, None, :]).astype(float).ravel()
    return {"pred": pred.round(4).tolist(), "obs": obs.astype(int).tolist()}


def ope_check(pol, r, ep, env, budget: int, n_logs: int = 4000, m: int = 100) -> dict:
    """IPS / SNIPS / DR from the run's own logs (last ``n_logs`` rounds) for the final posterior's policy."""
    from ltrr.eval.ope import IPS, SNIPS, BanditLogs, DoublyRobust, TargetPmf
    from ltrr.eval.reward_model import action_features

    T = len(ep)
    rows = np.arange(max(T // 2, T - n_logs), T)
    logs = BanditLogs(ep.contexts[rows], [tuple(a) for a in r.allocations[rows]], r.click[rows].astype(float),
                      r.propensity[rows])
    acts = [tuple(int(v) for v in a) for a in env.actions]
    probs = np.zeros((len(rows), len(acts)))
    for i, t in enumerate(rows):
        pmf = pol.pmf(ep.contexts[t], m)
        for a, p in pmf.items():
            probs[i, env.index[a]] = p
    truth = float(env.click_prob * np.mean([probs[i] @ ep.mu(t) for i, t in enumerate(rows)]))
    target = TargetPmf.from_dense(probs, acts)
    out = {"truth": truth, "n": len(rows), "mc_draws": m}
    for est in (IPS(), SNIPS(), DoublyRobust(seed=0)):
        e = est.estimate(logs, target, featurize=partial(action_features, budget=budget))
        out[est.name] = {"value": e.value, "ci95": list(e.ci95), "ess": e.ess,
                         "rel_error": abs(e.value - truth) / max(truth, 1e-12)}
    return out


def aggregate(cells: dict, policies: list[str]) -> dict:
    """``envs -> budgets -> policies -> metric -> {mean, ci95}`` over seeds; normalised regret per seed first."""
    from ltrr.eval.metrics import mean_ci

    out = {}
    for (env, budget), per_seed in cells.items():
        seeds = sorted(per_seed)
        names = [p for p in ["best_static", "best_single_arm", *policies] if p in per_seed[seeds[0]]["policies"]]
        table = {}
        for p in names:
            rows = [per_seed[s]["policies"][p] for s in seeds]
            norm = [100 * row["regret"] / max(per_seed[s]["policies"]["uniform"]["regret"], 1e-9)
                    for row, s in zip(rows, seeds)] if "uniform" in per_seed[seeds[0]]["policies"] else None
            entry = {}
            for key, vals in (("normalized_regret", norm), ("cumulative_regret", [x["regret"] for x in rows]),
                              ("recall_at_budget", [x["recall"] for x in rows]),
                              ("recall_last_20pct", [x.get("recall_last_20pct") for x in rows]),
                              ("recall_frac", [x.get("recall_frac") for x in rows]),
                              ("recall_frac_last_20pct", [x.get("recall_frac_last_20pct") for x in rows])):
                if vals is not None and None not in vals:
                    ci = mean_ci(vals)
                    entry[key] = {"mean": ci["mean"], "ci95": [ci["lo"], ci["hi"]]}
            if "select_ms_p50" in rows[0]:
                entry["latency_ms"] = {"decision_p50": float(np.median([x["select_ms_p50"] for x in rows])),
                                       "update_p50": float(np.median([x["update_ms_p50"] for x in rows]))}
            if "ope" in rows[0]:
                entry["ope"] = {k: {"rel_error": mean_ci([x["ope"][k]["rel_error"] for x in rows])}
                                for k in ("ips", "snips", "dr")}
            table[p] = entry
        oracle = mean_ci([per_seed[s]["oracle_mu"] for s in seeds])
        out.setdefault(env, {"budgets": {}})["budgets"][str(budget)] = {
            "policies": table, "seeds": seeds, "oracle_mean_mu": {"mean": oracle["mean"], "ci95": [oracle["lo"], oracle["hi"]]},
            "targets": targets(per_seed, seeds, table),
            "variant_targets": {p: targets(per_seed, seeds, table, main=p) for p in table
                                if p.startswith("neural_linear_ts_")}}
    return out


def targets(per_seed: dict, seeds: list[int], table: dict, main: str = "neural_linear_ts") -> dict:
    """The issue's regret targets for ``main``: normalised regret <= 20, <= 0.5x LinTS and below VW squarecb, each
    with non-overlapping 95% intervals, plus the paired per-seed regret ratio to each peer (mean and 95% interval)."""
    from ltrr.eval.metrics import mean_ci

    if main not in table or "normalized_regret" not in table[main]:
        return {}
    lo, hi = table[main]["normalized_regret"]["ci95"]
    out = {"normalized_regret_le_20": hi <= 20.0}
    for peer, factor in (("lints", 0.5), ("vw_squarecb", 1.0)):
        if peer not in table:
            continue
        ratio = mean_ci([per_seed[s]["policies"][main]["regret"] / max(per_seed[s]["policies"][peer]["regret"], 1e-9)
                         for s in seeds])
        out[f"vs_{peer}"] = {"factor": factor, "ratio": {"mean": ratio["mean"], "ci95": [ratio["lo"], ratio["hi"]]},
                             "met": hi < factor * table[peer]["normalized_regret"]["ci95"][0]}
    return out


def plots(cells: dict, policies: list[str], folder: Path) -> None:
    from ltrr.eval.plots import plot_bands, plot_heatmap, plot_ope, plot_reliability

    folder.mkdir(parents=True, exist_ok=True)
    for (env, budget), per_seed in cells.items():
        seeds = sorted(per_seed)
        first = per_seed[seeds[0]]["policies"]
        names = [p for p in policies if p in first]
        tag = f"{env}_B{budget}"
        plot_bands({p: [np.array(per_seed[s]["policies"][p]["regret_curve"]) for s in seeds] for p in names},
                   folder / f"bandit_regret_{tag}.png", "round (x T/200)", "cumulative pseudo-regret",
                   title=f"{env}, B={budget}, {len(seeds)} seeds")
        plot_bands({p: [np.array(per_seed[s]["policies"][p]["rolling_recall"]) for s in seeds] for p in names},
                   folder / f"bandit_recall_{tag}.png", "round (x T/200)", "rolling recall@budget (window 1000)",
                   title=f"{env}, B={budget}")
        calib = {p: (np.concatenate([per_seed[s]["policies"][p]["calibration"]["pred"] for s in seeds]),
                     np.concatenate([per_seed[s]["policies"][p]["calibration"]["obs"] for s in seeds]))
                 for p in names if "calibration" in first[p]}
        if calib:
            plot_reliability(calib, folder / f"bandit_calibration_{tag}.png")
        if "ope" in first.get("neural_linear_ts", {}):
            opes = [per_seed[s]["policies"]["neural_linear_ts"]["ope"] for s in seeds]
            plot_ope({k: (np.array([o["truth"] for o in opes]), np.array([o[k]["value"] for o in opes]))
                      for k in ("ips", "snips", "dr")}, folder / f"bandit_ope_{tag}.png",
                     f"{env}, B={budget}: OPE of the final posterior")
        if "neural_linear_ts" in first:
            for phase in ("early", "late"):
                tables = [per_seed[s]["policies"]["neural_linear_ts"]["alloc_by_type"][phase] for s in seeds]
                mean = {ty: {a: float(np.mean([t[ty][a] for t in tables if ty in t])) for a in tables[0][ty]}
                        for ty in tables[0]}
                plot_heatmap(mean, folder / f"bandit_alloc_{tag}_{phase}.png",
                             f"NL-TS: mean depth by type ({phase} 20%)")


def table(summary: dict) -> None:
    """Markdown table: normalised regret, cumulative regret and recall@budget with 95% intervals."""
    def fmt(e, key, digits=1):
        if key not in e:
            return ""
        m, (lo, hi) = e[key]["mean"], e[key]["ci95"]
        return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"

    for env, body in summary["envs"].items():
        for budget, b in body["budgets"].items():
            print(f"\n### {env}, B={budget}, seeds {b['seeds'][0]}-{b['seeds'][-1]}, oracle mean mu "
                  f"{b['oracle_mean_mu']['mean']:.4f}")
            frac = any("recall_frac" in e for e in b["policies"].values())
            print("| policy | normalised regret (uniform=100) | cumulative regret | recall@B | recall@B, last 20% | "
                  + ("BEIR recall@B, last 20% | " if frac else "") + "decision / update p50 ms |")
            print("|---" * (6 + frac) + "|")
            for p, e in b["policies"].items():
                lat = e.get("latency_ms")
                print(f"| {p} | {fmt(e, 'normalized_regret')} | {fmt(e, 'cumulative_regret')} | "
                      f"{fmt(e, 'recall_at_budget', 4)} | {fmt(e, 'recall_last_20pct', 4)} | "
                      + (f"{fmt(e, 'recall_frac_last_20pct', 4)} | " if frac else "")
                      + (f"{lat['decision_p50']:.2f} / {lat['update_p50']:.2f} |" if lat else " |"))
            for main, tg in [("neural_linear_ts", b.get("targets") or {}), *(b.get("variant_targets") or {}).items()]:
                if not tg:
                    continue
                print(f"Targets for {main}: normalised regret <= 20 (upper 95% bound): "
                      f"{tg['normalized_regret_le_20']}; "
                      + "; ".join(f"<= {v['factor']}x {k[3:]} with non-overlapping intervals: {v['met']} (paired regret "
                                  f"ratio {v['ratio']['mean']:.3f} [{v['ratio']['ci95'][0]:.3f}, {v['ratio']['ci95'][1]:.3f}])"
                                  for k, v in tg.items() if k.startswith("vs_")))
            for p, e in b["policies"].items():
                if "ope" in e:
                    print(f"OPE ({p} logs, final posterior as target), mean relative error: "
                          + ", ".join(f"{k} {v['rel_error']['mean']:.3f} [{v['rel_error']['lo']:.3f}, "
                                      f"{v['rel_error']['hi']:.3f}]" for k, v in e["ope"].items()))


def reusable(cell: dict | None, stamp: dict) -> dict | None:
    """The cached ``cell`` if it was run under ``stamp`` (its ``policies`` entry aside), else ``None``. A cell run
    without ``--ope`` serves a run with it, less its neural-linear TS result: the OPE check only concerns that one."""
    if cell is None:
        return None
    old = {k: v for k, v in cell.get("stamp", {}).items() if k != "policies"}
    if old == stamp:
        return cell
    if stamp.get("ope") and {**old, "ope": True} == stamp:
        cell["policies"].pop("neural_linear_ts", None)
        cell["stamp"] = {**cell.get("stamp", {}), "ope": True}
        return cell
    return None


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--show":
        table(json.loads(Path(sys.argv[2]).read_text()))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", nargs="+", default=["synthetic", "synthetic-drift"], choices=sorted(ENVS))
    ap.add_argument("--budgets", nargs="+", type=int, default=[50, 100])
    ap.add_argument("--seeds", default="5-24", help="report on 5-24; tune on 0-4")
    ap.add_argument("--rounds", type=int, default=20000)
    ap.add_argument("--policies", nargs="+", default=POLICIES)
    ap.add_argument("--set", nargs="*", default=[], help="Hydra overrides, e.g. policies.lints.lam=0.5")
    ap.add_argument("--ope", action="store_true", help="off-policy evaluation check on the neural-linear TS logs")
    for name, spec in REPLAY.items():
        ap.add_argument(f"--{name}-data", type=Path, default=spec["data"], help=f"from {spec['script']}")
        ap.add_argument(f"--{name}-arms", nargs="+", default=spec["arms"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "bench_bandit")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-plots", action="store_true",
                    help="skip the plots (they go to the --out folder's bandit_plots/ and would replace those of "
                         "another run of the same env and budget)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    seeds = parse_seeds(args.seeds)
    for name, spec in REPLAY.items():
        key = name.replace("-", "_")
        spec.update(data=getattr(args, f"{key}_data"), arms=list(getattr(args, f"{key}_arms")))
    if "uniform" not in args.policies:
        args.policies = ["uniform", *args.policies]  # the normaliser
    base_stamp = {"rounds": args.rounds, "set": args.set, "ope": args.ope}

    def stamp_of(env: str) -> dict:
        return {**base_stamp, "arms": REPLAY[env]["arms"]} if env in REPLAY else base_stamp
    todo, cells = [], {}
    for env in args.envs:
        for b in args.budgets:
            for s in seeds:
                f = args.cache / f"{env}_B{b}_seed{s}.json"
                old = reusable(json.loads(f.read_text()) if f.exists() else None, stamp_of(env))
                if old is not None:
                    cells.setdefault((env, b), {})[s] = old
                    missing = [p for p in args.policies if p not in old["policies"]]
                else:
                    missing = list(args.policies)
                if missing:
                    todo.append((env, b, s, f, missing))
    log.info("%d cells to (partly) run", len(todo))
    args.cache.mkdir(parents=True, exist_ok=True)

    def done(item, res):
        env, b, s, f, _ = item
        old = cells.get((env, b), {}).get(s)
        if old is not None:
            res["policies"] = {**old["policies"], **res["policies"]}
        res["stamp"] = stamp_of(env)
        f.write_text(json.dumps(res))
        cells.setdefault((env, b), {})[s] = res
        log.info("done %s B=%d seed %d", env, b, s)

    if args.workers > 1 and len(todo) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.workers) as pool:
            futs = {pool.submit(run_cell, e, b, s, args.rounds, miss, args.set, args.ope): (e, b, s, f, miss)
                    for e, b, s, f, miss in todo}
            for fut, item in futs.items():
                done(item, fut.result())
    else:
        for item in todo:
            e, b, s, _, miss = item
            done(item, run_cell(e, b, s, args.rounds, miss, args.set, args.ope))
    summary = {"rounds": args.rounds, "set": args.set, "envs": aggregate(cells, args.policies)}
    out = args.out or args.cache / "bandit.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    if not args.no_plots:
        plots(cells, args.policies, out.parent / "bandit_plots" if args.out else args.cache)
    table(summary)


if __name__ == "__main__":
    main()
