"""The main job: every configured policy, online, on the same seeded query streams; then evaluation."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ltrr.data.music import QueryGenerator
from ltrr.eval import metrics as M
from ltrr.eval.online import (allocation_share, intent_arm_recall, paired_difference, regret_curve, run_metrics,
                              summarize)
from ltrr.eval.plots import plot_heatmap, plot_regret
from ltrr.pipeline.log import InteractionLog
from ltrr.simulate.loop import precompute_static, run_online
from ltrr.tasks import build
from ltrr.tasks.tracking import Tracker
from ltrr.utils.statefile import save_state

log = logging.getLogger(__name__)


def _run_one(cfg, ctx, policy_name: str, seed: int, stream, cache, run_dir: Path) -> dict:
    """One policy on one seed; returns the partial result saved for resuming."""
    arms, featurizer = ctx["arms"], ctx["featurizer"]
    policy = build.build_policy(cfg, policy_name, list(arms), featurizer.dim, seed, featurizer.names)
    pipeline = build.build_pipeline(cfg, arms, featurizer, policy, ctx["reranker"])
    log_path = run_dir / "logs" / f"{policy_name}_seed{seed}.jsonl"
    log_path.unlink(missing_ok=True)
    with InteractionLog(log_path) as ilog:
        records = run_online(pipeline, stream, ctx["click_model"], ilog, seed, cache, bool(cfg.progress),
                             desc=f"seed {seed} {policy_name}")
    state_dir = run_dir / "state" / f"{policy_name}_seed{seed}"
    state_dir.mkdir(parents=True, exist_ok=True)
    save_state(state_dir / "state.npz", pipeline.state_dict())  # no pickle: npz + JSON (what serve.py restores)
    return {"metrics": run_metrics(records), "regret_curve": regret_curve(records).tolist(),
            "intent_arm": {str(k): intent_arm_recall(records, k) for k in cfg.intent_k},
            "allocation_share": allocation_share(records)}


def _context(cfg: DictConfig) -> dict:
    world = build.build_world(cfg)
    histories = build.user_histories(world)
    arms = build.build_arms(cfg, world.docs, histories)
    featurizer = build.build_featurizer(arms, world.docs, cfg.get("arm_stats"), cfg.get("context"))
    return {"world": world, "arms": arms, "featurizer": featurizer, "click_model": instantiate(cfg.click_model),
            "reranker": build.build_reranker(cfg, world.docs, arms, histories)}


def _summary(cfg: DictConfig, results: dict, n_docs: int, seconds: float) -> dict:
    """The contents of ``metrics.json`` from the per-(policy, seed) partial results."""
    per_seed = {p: {s: results[p][s]["metrics"] for s in results[p]} for p in results}
    out = summarize(per_seed)
    first = list(cfg.policies)[0]
    out["comparison"] = {f"{p} - {first}": {m: paired_difference(per_seed, p, first, m)
                                            for m in (M.RECALL_AT_BUDGET, M.NDCG_10, M.CUM_REGRET)}
                         for p in list(cfg.policies)[1:]}
    out["intent_arm_recall"] = {k: _mean_tables([r["intent_arm"][k] for r in results[first].values()])
                                for k in map(str, cfg.intent_k)}
    out["allocation_share"] = {p: _mean_tables([r["allocation_share"] for r in results[p].values()])
                               for p in results}
    out["meta"] = {"seeds": list(cfg.seeds), "rounds": int(cfg.rounds), "budget": int(cfg.budget),
                   "depths": list(cfg.depths), "arms": list(cfg.arms), "n_docs": n_docs,
                   "seconds": round(seconds, 1), "intent_arm_policy": first}
    return out


def _plots(out: dict, results: dict, run_dir: Path, tracker: Tracker) -> None:
    plot_regret({p: [np.array(r["regret_curve"]) for r in results[p].values()] for p in results},
                run_dir / "cumulative_regret.png")
    for k, table in out["intent_arm_recall"].items():
        plot_heatmap(table, run_dir / f"intent_arm_recall@{k}.png", f"recall@{k} of each arm alone, by intent")
    for p, table in out["allocation_share"].items():
        plot_heatmap(table, run_dir / f"allocation_share_{p}.png", f"{p}: share of the budget per arm")
    for png in sorted(run_dir.glob("*.png")):
        tracker.image(png.stem, png)


def _check_resume(cfg: DictConfig, run_dir: Path) -> None:
    """Refuse to mix partial results of a different configuration into this run folder."""
    keep = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items()
            if k not in ("seeds", "progress", "resume", "logger")}
    stamp = run_dir / "partial" / "config.json"
    if stamp.exists() and json.loads(stamp.read_text()) != json.loads(json.dumps(keep)):
        if cfg.resume:
            raise ValueError(f"{run_dir}: holds results of a different configuration; choose another "
                             "hydra.run.dir, or set resume=false to overwrite them")
        for old in (run_dir / "partial").glob("*_seed*.json"):
            old.unlink()
    stamp.write_text(json.dumps(keep))


def _mean_tables(tables: list[dict]) -> dict:
    rows = tables[0]
    return {r: {c: float(np.mean([t[r][c] for t in tables if r in t])) for c in rows[r]} for r in rows}


def _link_latest(run_dir: Path) -> None:
    """Point ``runs/latest`` at ``run_dir`` (only for run folders directly under a ``runs`` folder)."""
    if run_dir.parent.name != "runs":
        return
    latest = run_dir.parent / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name, target_is_directory=True)


def train(cfg: DictConfig, run_dir: Path | str) -> dict:
    """Run the main job into ``run_dir`` and return the contents of ``metrics.json``."""
    t0 = time.time()
    build.check_config(cfg)
    run_dir = Path(run_dir).resolve()
    (run_dir / "partial").mkdir(parents=True, exist_ok=True)
    _check_resume(cfg, run_dir)
    tracker = Tracker(run_dir=run_dir, config=OmegaConf.to_container(cfg, resolve=True), **cfg.logger)
    ctx = _context(cfg)
    results: dict[str, dict[int, dict]] = {p: {} for p in cfg.policies}
    for seed in cfg.seeds:
        todo = [p for p in cfg.policies if not (cfg.resume and (run_dir / "partial" / f"{p}_seed{seed}.json").exists())]
        stream = QueryGenerator(ctx["world"], seed=seed, **cfg.data.queries).generate(int(cfg.rounds)) if todo else []
        cache = precompute_static(ctx["arms"], stream, max(cfg.depths)) if todo else None
        for p in cfg.policies:
            part = run_dir / "partial" / f"{p}_seed{seed}.json"
            if p in todo:
                part.write_text(json.dumps(_run_one(cfg, ctx, p, seed, stream, cache, run_dir)))
            results[p][seed] = json.loads(part.read_text())
            tracker.log({f"{p}/{m}": v for m, v in results[p][seed]["metrics"].items()} | {"seed": seed})
            log.info("seed %d %s: %s", seed, p, {k: round(v, 4) for k, v in results[p][seed]["metrics"].items()})
    out = _summary(cfg, results, len(ctx["world"].docs), time.time() - t0)
    (run_dir / "metrics.json").write_text(json.dumps(out, indent=2))
    _plots(out, results, run_dir, tracker)
    tracker.summary({f"{p}/{m}": out[p][m] for p in results for m in results[p][cfg.seeds[0]]["metrics"]})
    tracker.finish()
    _link_latest(run_dir)
    log.info("run folder: %s", run_dir)
    return out
