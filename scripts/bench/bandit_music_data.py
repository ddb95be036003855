"""Per-query, per-arm ranks of every target of a simulated music query stream, and its contexts, for the replay bandit.

    python scripts/bench/bandit_music_data.py --out runs/bandit_music/ranks.npz [--queries 5000] [--seed 1000] \
        [--extra-arms structured,longtail] [HYDRA_OVERRIDE ...]

The world, arms and context featurizer are the main job's (``configs/train.yaml`` composed with the given Hydra
overrides, e.g. ``experiment=smoke`` for the tiny world, built with :mod:`ltrr.tasks.build`). The stream is
``QueryGenerator(world, seed=--seed, **cfg.data.queries).generate(--queries)``; the seed should differ from the
main job's stream seeds (``cfg.seeds``). Duplicate texts are **kept**: each stream entry is one query (own id,
user, hour, targets), repeat queries being an intent of their own, so the bench's uniform draw over the stored
queries follows the stream's distribution of texts.

Arms: every arm of ``cfg.arms`` that does not learn from clicks (the default config: ``bm25``, ``dense``,
``popularity``, ``fresh``; ``memory`` learns from clicks and cannot be replayed), then ``--extra-arms`` from
``configs/arm/`` (default ``structured`` and ``longtail``: they build from the catalogue alone). Static arms
retrieve once per distinct text in a batch (:func:`ltrr.simulate.loop.precompute_static`); seeded random arms
(``fresh``'s random fill, ``longtail``) are reset with ``--seed`` and called query by query in stream order, as
in the main job, so their lists are one fixed draw. Every arm retrieves ``--top-k`` (100, the largest depth);
``{split}_ranks`` ``(Q, R_max, K)`` holds the 1-based rank of each target (targets sorted by grade then id, names
in ``{split}_rel_ids``, grades in ``{split}_grades``) in each arm's list, ``inf`` when absent or padding.

Contexts: ``{split}_contexts`` is the main job's :class:`~ltrr.bandit.features.ContextFeaturizer` as
:func:`ltrr.tasks.build.build_featurizer` makes it (the config's ``arm_stats`` and ``context`` blocks: projected
query embedding, query-understanding slots, ...) over the config's replayable arms, on this query and those arms'
results (embeddings batched with ``prime`` as in the main job's loop). It is the main job's context less the
columns of the arms that cannot be replayed (``memory``) and of the blocks learned online from clicks
(``context.arm_hit_rate``: it depends on the policy's past, so it is switched off here; see
``meta.context_blocks_dropped``). ``{split}_contexts_all`` appends the extra arms' ``arm_stats`` (names in
``context_names_all``). Query types (``{split}_types``, for per-type
reports only, never a policy input): the generator's hidden intent (``exact``, ``artist``, ``topic``,
``ambiguous``, ``entity_type``, ``new_release``, ``repeat``). Only the ``test`` split is written (the bench draws
its stream from it).

The printed table gives ``hit`` (some target retrieved: the bandit's reward) and ``frac`` (share of the targets
retrieved); for each budget, ``static nreg`` places the best static allocation on the bench's normalised-regret
scale (uniform split = 100, per-query oracle = 0), and ``intent static`` is the best allocation per hidden intent
(what a policy that knew the intent could reach without per-query adaptation).
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ltrr.arms.base import Arm  # noqa: E402
from ltrr.simulate.replay import RankedListEnv, union_hits  # noqa: E402

log = logging.getLogger("bench.bandit_music_data")
SPLIT = "test"
HIT_DEPTHS = (10, 20, 50, 100)
TYPE_DEPTH = 20
GRIDS = {50: (10, 25, 50), 100: (10, 25, 50, 100)}
DYNAMIC_CONTEXT = ("arm_hit_rate",)  # context blocks learned online from clicks: not replayable


def compose(overrides: list[str], extra_arms: list[str]):
    """``configs/train.yaml`` with ``overrides`` and every extra arm added as ``arms.<name>``."""
    from ltrr.tasks.catalogue import compose as compose_train

    return compose_train(ROOT / "configs", list(overrides) + [f"+arm@arms.{a}={a}" for a in extra_arms])


def learns(arm: Arm) -> bool:
    """Whether the arm learns from clicks (then its lists depend on the policy's past and cannot be replayed)."""
    return type(arm).observe is not Arm.observe


def build(cfg, extra_arms: list[str]):
    """World, replayable arms (config order, extras last), the names of the main job's replayable arms, and the
    names of the skipped (learning) arms."""
    from ltrr.tasks import build as B

    world = B.build_world(cfg)
    arms = B.build_arms(cfg, world.docs)
    skipped = [n for n, a in arms.items() if learns(a)]
    if skipped:
        log.info("not replayable (learn from clicks): %s", skipped)
    arms = {n: a for n, a in arms.items() if n not in skipped}
    main = [n for n in arms if n not in extra_arms]
    return world, arms, main, skipped


def retrieve(arms: dict[str, Arm], stream, k: int, seed: int) -> tuple[list[dict], dict[str, float]]:
    """Every arm's top-``k`` list for every query of ``stream`` (static arms batched per distinct text; seeded random
    arms reset with ``seed`` and called in stream order) and the seconds per arm."""
    from ltrr.simulate.loop import precompute_static

    results: list[dict] = [{} for _ in stream]
    times = {}
    for name, arm in arms.items():
        t0 = time.perf_counter()
        if arm.static:
            for r, c in zip(results, precompute_static({name: arm}, stream, k)):
                r[name] = c[name]
        else:
            arm.reset(seed)
            for r, sq in zip(results, stream):
                r[name] = arm.retrieve(sq.query, k)
        times[name] = time.perf_counter() - t0
        log.info("arm %s: %d lists in %.1f s", name, len(stream), times[name])
    return results, times


def targets_of(sq) -> list[tuple[str, int]]:
    """Targets, highest grade first, then by id."""
    return sorted(sq.targets.items(), key=lambda kv: (-kv[1], kv[0]))


def rank_array(results: list[dict], stream, arms: list[str], r_max: int) -> np.ndarray:
    """``(Q, r_max, K)`` 1-based rank of each target in each arm's list (``inf``: absent or padding)."""
    out = np.full((len(stream), r_max, len(arms)), np.inf)
    for i, (res, sq) in enumerate(zip(results, stream)):
        tg = targets_of(sq)
        for k, a in enumerate(arms):
            pos = {c.doc_id: c.rank for c in res[a].candidates}
            for r, (d, _) in enumerate(tg):
                out[i, r, k] = pos.get(d, np.inf)
    return out


def featurizer(cfg, world, arms: dict[str, Arm]):
    """The main job's featurizer (``build_featurizer`` with the config's ``arm_stats`` and ``context`` blocks) over
    ``arms``, without the blocks learned from clicks (``arm_hit_rate``); returns it and the blocks dropped."""
    from omegaconf import OmegaConf

    from ltrr.tasks.build import build_featurizer

    context = cfg.get("context")
    if context is None or "context" not in inspect.signature(build_featurizer).parameters:
        return build_featurizer(arms, world.docs, cfg.get("arm_stats")), []
    context = OmegaConf.to_container(context, resolve=True)
    dropped = [k for k in DYNAMIC_CONTEXT if context.get(k)]
    context.update({k: False for k in DYNAMIC_CONTEXT if k in context})
    return build_featurizer(arms, world.docs, cfg.get("arm_stats"), context), dropped


def contexts(feat, stream, results: list[dict]) -> np.ndarray:
    """``(Q, dim)`` contexts; query embeddings batched first (``prime``) as the main job's loop does."""
    if hasattr(feat, "prime"):
        feat.prime(list(dict.fromkeys(sq.query.text for sq in stream)))
    return np.stack([feat(sq.query, r) for sq, r in zip(stream, results)])


def make_npz(cfg, world, arms: dict[str, Arm], main: list[str], skipped: list[str], stream, results: list[dict],
             args, times: dict[str, float]) -> dict:
    """The npz contents (``test_*`` arrays, arm and context names, meta)."""
    names = list(arms)
    feat, dropped = featurizer(cfg, world, {a: arms[a] for a in main})
    t0 = time.perf_counter()
    ctx = contexts(feat, stream, results)
    times["contexts"] = time.perf_counter() - t0
    extra = [a for a in names if a not in main]
    extra_names = [f"{a}.{s}" for a in extra for s in feat.arm_stats]
    ctx_extra = np.array([[float(r[a].features.get(s, 0.0)) for a in extra for s in feat.arm_stats]
                          for r in results]).reshape(len(stream), len(extra_names))
    r_max = max(len(sq.targets) for sq in stream)
    tg = [targets_of(sq) for sq in stream]
    s = SPLIT
    texts = [sq.query.text for sq in stream]
    npz = {"arms": np.array(names), "main_arms": np.array(main), "context_names": np.array(feat.names),
           "context_names_all": np.array(feat.names + extra_names),
           f"{s}_qids": np.array([sq.query.id for sq in stream]), f"{s}_texts": np.array(texts),
           f"{s}_user_ids": np.array([str(sq.query.user_id) for sq in stream]),
           f"{s}_ranks": rank_array(results, stream, names, r_max),
           f"{s}_n_rel": np.array([len(sq.targets) for sq in stream]),
           f"{s}_rel_ids": np.array([[d for d, _ in t] + [""] * (r_max - len(t)) for t in tg]),
           f"{s}_grades": np.array([[g for _, g in t] + [0] * (r_max - len(t)) for t in tg]),
           f"{s}_contexts": ctx.astype(np.float32),
           f"{s}_contexts_all": np.column_stack([ctx, ctx_extra]).astype(np.float32),
           f"{s}_types": np.array([sq.intent for sq in stream])}
    from omegaconf import OmegaConf

    meta = {"queries": len(stream), "distinct_texts": len(set(texts)), "duplicates": "kept (one row per query)",
            "query_seed": args.seed, "main_job_seeds": list(cfg.seeds), "top_k": args.top_k,
            "world": OmegaConf.to_container(cfg.data.world, resolve=True),
            "query_generator": OmegaConf.to_container(cfg.data.queries, resolve=True),
            "overrides": list(args.overrides), "arms": names, "main_arms": main, "extra_arms": list(args.extra),
            "not_replayed": skipped, "static": {a: bool(arms[a].static) for a in names},
            "arm_stats": list(feat.arm_stats), "context_dim": int(feat.dim),
            "context_blocks": OmegaConf.to_container(cfg.context, resolve=True) if cfg.get("context") else None,
            "context_blocks_dropped": dropped,
            "ranks": "1-based rank of each target (grade desc, id) per arm in its top_k list; inf if absent or "
                     "padding (see test_n_rel)",
            "contexts": "main job ContextFeaturizer (arm_stats, context blocks) over main_arms: the main job's "
                        "context less the columns of not_replayed arms and of context_blocks_dropped (learned "
                        "from clicks); contexts_all: contexts then the extra arms' arm_stats",
            "random_arms": "non-static arms reset with query_seed and called in stream order: one fixed draw",
            "types": "the generator's hidden intent (never a policy input)",
            "seconds": {k: round(v, 1) for k, v in times.items()}}
    npz["meta"] = np.array(json.dumps(meta))
    return npz


def frac_table(ranks: np.ndarray, actions: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """``(Q, A)`` share of the targets each allocation retrieves (chunked over queries)."""
    Q, R, K = ranks.shape
    out = np.empty((Q, len(actions)))
    step = max(1, int(2e7 // max(len(actions) * R * K, 1)))
    for i in range(0, Q, step):
        out[i:i + step] = union_hits(ranks[i:i + step], actions).sum(-1) / n_rel[i:i + step, None]
    return out


def report(npz: dict) -> None:
    """Print per-arm hit / frac, intent x arm hit, and uniform / best static / oracle per arm set and budget."""
    s = SPLIT
    arms, main = [str(a) for a in npz["arms"]], [str(a) for a in npz["main_arms"]]
    ranks, n_rel, types = npz[f"{s}_ranks"], npz[f"{s}_n_rel"], npz[f"{s}_types"]
    meta = json.loads(str(npz["meta"]))
    intents, counts = np.unique(types, return_counts=True)
    print(f"\nmusic stream: {len(n_rel)} queries ({meta['distinct_texts']} distinct texts, kept), query seed "
          f"{meta['query_seed']}, {n_rel.mean():.3f} targets per query (max {n_rel.max()}); hit = some target "
          f"retrieved, frac = share of the targets; not replayed: {meta['not_replayed']}; context: "
          f"{meta.get('context_dim')} features, blocks dropped: {meta.get('context_blocks_dropped')}")
    print("intents: " + ", ".join(f"{t} {c}" for t, c in zip(intents, counts)))

    print("\n| arm | " + " | ".join(f"hit@{d}" for d in HIT_DEPTHS) + " | "
          + " | ".join(f"frac@{d}" for d in HIT_DEPTHS) + " |")
    print("|---" * (1 + 2 * len(HIT_DEPTHS)) + "|")
    depth = np.array(HIT_DEPTHS)[:, None]
    for k, a in enumerate(arms):
        h = union_hits(ranks[..., k:k + 1], depth)
        f = h.sum(-1) / n_rel[:, None]
        print(f"| {a}{'' if a in main else ' (extra)'} | " + " | ".join(f"{v:.4f}" for v in h.any(-1).mean(0))
              + " | " + " | ".join(f"{v:.4f}" for v in f.mean(0)) + " |")

    best = ranks.min(axis=1)  # (Q, K)
    print("\n| intent | n | " + " | ".join(f"{a} hit@{TYPE_DEPTH}" for a in arms)
          + " | any main arm @100 | any arm @100 |")
    print("|---" * (4 + len(arms)) + "|")
    cols = [arms.index(a) for a in main]
    for t, c in zip(intents, counts):
        m = types == t
        print(f"| {t} | {c} | " + " | ".join(f"{v:.3f}" for v in (best[m] <= TYPE_DEPTH).mean(0))
              + f" | {(best[m][:, cols] <= 100).any(1).mean():.3f} | {(best[m] <= 100).any(1).mean():.3f} |")

    sets = [main] + ([arms] if len(arms) > len(main) else [])
    print("\n| arms | B | D | uniform hit | best static | hit | frac | intent static hit | oracle hit | oracle frac "
          "| static nreg | A |")
    print("|---" * 12 + "|")
    per_intent = []
    for names in sets:
        c = [arms.index(a) for a in names]
        for B, D in GRIDS.items():
            env = RankedListEnv(names, B, D, npz[f"{s}_contexts"], ranks[..., c], query_types=types)
            static, value = env.best_static()
            f = frac_table(ranks[..., c], env.actions, n_rel)
            share = [d for d in D if d <= B // len(names)]
            uni = env.recall((share[-1],) * len(names)) if share else float("nan")
            oracle = env.oracle_recall()
            mu = env.mu_table
            intent_static = sum(mu[types == t].mean(0).max() * n for t, n in zip(intents, counts)) / len(types)
            nreg = 100 * (oracle - value) / (oracle - uni) if share and oracle > uni else float("nan")
            print(f"| {'+'.join(names)} | {B} | {','.join(map(str, D))} | {uni:.4f} | {static} | {value:.4f} | "
                  f"{f[:, env.index[static]].mean():.4f} | {intent_static:.4f} | {oracle:.4f} | "
                  f"{f.max(1).mean():.4f} | {nreg:.1f} | {len(env.actions)} |")
            if names is main:
                per_intent.append((B, env, static))
    for B, env, static in per_intent:
        print(f"\nper intent, arms {'+'.join(main)}, B={B}: best static {static}")
        print("| intent | static hit | best allocation for the intent | its hit | oracle hit |\n|---|---|---|---|---|")
        mu = env.mu_table
        for t in intents:
            m = mu[types == t]
            j = int(m.mean(0).argmax())
            print(f"| {t} | {m[:, env.index[static]].mean():.3f} | {tuple(int(v) for v in env.actions[j])} | "
                  f"{m[:, j].mean():.3f} | {m.any(1).mean():.3f} |")
    print(f"\nseconds per arm: {meta['seconds']}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1000, help="query stream seed (distinct from the main job's)")
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--extra-arms", default="structured,longtail",
                    help="comma-separated configs/arm/ names added to the config's arms ('' for none)")
    ap.add_argument("--show", action="store_true", help="print the table of an existing --out file")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of configs/train.yaml (e.g. experiment=smoke)")
    args = ap.parse_args(argv)
    args.extra = [a for a in args.extra_arms.split(",") if a]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    if args.show:
        z = np.load(args.out)
        npz = {k: z[k] for k in z.files}
        report(npz)
        return npz
    from ltrr.data.music import QueryGenerator

    t_start = time.perf_counter()
    cfg = compose(args.overrides, args.extra)
    if args.seed in set(int(x) for x in cfg.seeds):
        log.warning("query seed %d is one of the main job's stream seeds %s", args.seed, list(cfg.seeds))
    t0 = time.perf_counter()
    world, arms, main_arms, skipped = build(cfg, args.extra)
    times = {"build": time.perf_counter() - t0}
    stream = QueryGenerator(world, seed=args.seed, **cfg.data.queries).generate(args.queries)
    results, t_arms = retrieve(arms, stream, args.top_k, args.seed)
    times.update(t_arms)
    npz = make_npz(cfg, world, arms, main_arms, skipped, stream, results, args, times)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **npz)
    log.info("wrote %s (%d queries, arms %s); %.0f s in all", args.out, len(stream), list(arms),
             time.perf_counter() - t_start)
    report(npz)
    return npz


if __name__ == "__main__":
    main()
