"""Learning to rank from simulated clicks on the music world, against true relevance.

    python scripts/bench/ltr.py --out bench/ltr.json                     # sizes 1k/10k/100k, PBM + cascade, seeds 0-4
    python scripts/bench/ltr.py --seeds 0 --sizes 1000 --click-models pbm --train-queries 200 --test-queries 100

Per seed: a pool of training queries and one of test queries from the world's query generator (their own stream
seeds), each query's union of the arms' lists (``--depths``, fused by RRF: the logging ranker) with the features of
:class:`ltrr.rerank.features.RankFeaturizer` and the true grades. A click log of the largest size is drawn from the
training pool (uniform query, the fused top 10 shown, clicks from the click model); smaller logs are its prefixes.
A separate swap-intervention experiment (``--swap-impressions``; position 1 swapped with a random position on half
of them) estimates the examination propensities. Rankers, all scored by nDCG@10 (trec_eval) on the test pool:

- ``score_fusion``: the fused (RRF) order; ``best_single_feature``: the one feature (or its negation) that ranks the
  training pool best by true grades; ``cross_encoder_alone``: the cross-encoder score (with ``--cross``);
- ``full_info_lambdamart``: LambdaMART on the training pool's true grades over whole unions (the ceiling);
  ``full_info_top10_lambdamart``: the same on the fused top 10 only, the most a click log of the deterministic
  logger can reveal (what is left above it is item-selection bias, which position debiasing cannot remove);
  ``click_limit_top10_lambdamart``: the same top 10 labelled with the click model's true attractiveness per grade,
  what infinitely many perfectly debiased clicks would teach (a click-trained ranker's asymptote; its share of the
  naive-to-ceiling gap is reported as ``click_limit_gap_closed``);
- ``naive_lambdamart``: clicks as labels; ``ips_lambdamart``: clicks weighted by ``1 / θ̂_position`` (estimated
  propensities); ``ips_lambdamart_true``: with the true PBM propensities (PBM only);
- ``naive_neural`` and ``ips_neural``: the neural listwise ranker, unweighted and with ``θ̂``;
- ``dla_neural``: the dual learning algorithm (Ai et al. 2018), the same network trained jointly with position
  propensities estimated from the click log itself (no intervention); ``ips_lambdamart_dla``: LambdaMART weighted by
  those propensities;
- ``ips_lambdamart_cascade`` and ``ips_neural_cascade`` (cascade clicks only): clicks weighted by ``1 / ρ_d``, each
  candidate's examination under the cascade estimated per query from the log itself (the share of the query's
  impressions with no click above it; :func:`ltrr.rerank.propensity.cascade_propensities`);
- ``eb_lambdamart``: LambdaMART on one list per query, each shown candidate labelled with its PBM attractiveness
  estimated by empirical Bayes (a prior fitted to every shown candidate of the log, the posterior mode with
  ``--eb-label mode``; :mod:`ltrr.rerank.attractiveness`) under ``θ̂``; ``eb_lambdamart_cascade`` (cascade clicks
  only): the same with the cascade's likelihood (a candidate was examined when nothing above it was clicked);
  ``reb_lambdamart`` and ``reb_lambdamart_cascade``: the same two with each candidate's prior over the prior's
  clusters predicted from its features by a classifier fitted on the other half of the queries (in the spirit of
  regression EM; :func:`ltrr.rerank.attractiveness.feature_conditioned_posterior`). ``--eb-label relevant``
  labels every candidate of the four 1 or 0: is its attractiveness above the prior's lowest cluster (binary
  relevance)?
  ``--eb-min-examinations M`` fits the ``reb_*`` rows' classifier only on candidates with at least ``M`` expected
  examinations (a barely seen candidate's posterior is the global prior, and as a target it teaches that prior).

With ``--temperature T > 0`` the logger samples each shown list from a Plackett-Luce model over the fused order
(logits ``-log(position) / T``), so every candidate can be shown, and the IPS rankers use the policy-aware
propensity ``ρ_d = Σ_k P(d at k) θ_k`` (Oosterhuis and de Rijke 2020) instead of ``θ_position``.

The personalized-arm part (``--parts personal``) runs the main job twice, with and without the personal arm, on a
world with 0-60 tracks of history per user, and reports recall@budget by history length, over the whole run and over
its second half (after the bandit has had half the queries to learn the arm). ``--personal-share S``
makes a share S of the queries ``personal`` requests ("play something": targets only the user's taste decides, see
:mod:`ltrr.data.music.queries`); the default world has none.

Intervals are 95% Student-t over seeds. Each seed's figures are cached under ``--cache`` (resumable).
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

log = logging.getLogger("bench.ltr")
CROSS = ROOT / "runs" / "encoders_music" / "models" / "reranker"
DEPTHS = {"bm25": 30, "structured": 30, "dense": 30, "popularity": 5, "fresh": 5}
CLICK_RANKERS = ("naive_lambdamart", "ips_lambdamart", "ips_lambdamart_true", "ips_lambdamart_dla",
                 "ips_lambdamart_cascade", "eb_lambdamart", "eb_lambdamart_cascade", "reb_lambdamart",
                 "reb_lambdamart_cascade", "naive_neural", "ips_neural",
                 "dla_neural", "ips_neural_cascade")
# options left out of a cache key at these values (runs made before the option existed had them)
KEY_IMPLICIT = {"normalize": False, "cascade_prior": 0.0, "pairing": "preference", "eb_label": "mode",
                "eb_min_examinations": 0.0}
# (IPS ranker, its naive counterpart): the pairs whose gap closed is reported
GAP_PAIRS = (("ips_lambdamart", "naive_lambdamart"), ("ips_neural", "naive_neural"), ("dla_neural", "naive_neural"),
             ("ips_lambdamart_dla", "naive_lambdamart"), ("ips_lambdamart_cascade", "naive_lambdamart"),
             ("ips_neural_cascade", "naive_neural"), ("eb_lambdamart", "naive_lambdamart"),
             ("eb_lambdamart_cascade", "naive_lambdamart"), ("reb_lambdamart", "naive_lambdamart"),
             ("reb_lambdamart_cascade", "naive_lambdamart"))


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def build(args):
    """World, arms, rank featurizer (the composition root of this benchmark)."""
    from omegaconf import OmegaConf

    from ltrr.tasks import build as B
    from ltrr.tasks.catalogue import compose

    arms = list(args.depths)
    ov = ["logger=none", "progress=false", "+arm@arms.structured=structured", "+arm@arms.personal=personal",
          "arms.dense.progress=false",
          f"arms.dense.cache_dir={args.embed_cache}"] + list(args.set)
    cfg = compose(ROOT / "configs", ov)
    cfg.arms = {n: cfg.arms[n] for n in arms if n in cfg.arms}
    missing = [a for a in arms if a not in cfg.arms]
    if missing:
        raise SystemExit(f"--depths: no arm config for {missing}")
    world = B.build_world(cfg)
    histories = B.user_histories(world)
    built = B.build_arms(cfg, world.docs, histories)
    cross = None
    if args.cross:
        from ltrr.encoders.cross import CrossEncoder

        enc = CrossEncoder.from_pretrained(str(args.cross), max_length=64, device="cpu")
        texts = {d.id: d.full_text for d in world.docs}
        cross = lambda q, ids: enc.score(q, [texts[i] for i in ids])  # noqa: E731
        log.info("cross-encoder feature: %s", args.cross)
    feat = B.rank_featurizer(built, world.docs, histories, cross)
    return cfg, world, built, feat, OmegaConf.to_container(cfg.data.queries, resolve=True)


def click_model(name: str, attractiveness=(0.02, 0.6, 0.95)):
    from ltrr.simulate.click_models import CascadeModel, PositionBasedModel

    if name == "pbm":
        return PositionBasedModel(attractiveness, eta=1.0, convert_prob=0.0)
    if name == "cascade":
        return CascadeModel(attractiveness, convert_prob=0.0)
    raise SystemExit(f"--click-models: unknown {name!r} (pbm, cascade)")


def run_seed(args, ctx, seed: int) -> dict:
    """Every ranker of one seed."""
    from ltrr.data.music import QueryGenerator
    from ltrr.rerank.dla import DualLearningRanker
    from ltrr.rerank.lambdamart import LambdaMARTRanker
    from ltrr.rerank.neural_ranker import NeuralListwiseRanker
    from ltrr.rerank.propensity import (SwapInterventions, cascade_propensities, policy_aware_propensities,
                                        rank_logits)
    from ltrr.rerank.ranker import ListData
    from ltrr.simulate.click_logs import (aggregated_click_lists, click_lists, label_lists, posterior_click_lists,
                                          simulate_click_log)
    from ltrr.tasks.ltr import (best_single_feature, candidate_pool, feature_scores, ndcg_of_ranker,
                                ndcg_of_scores)

    cfg, world, arms, feat, qcfg = ctx
    lists = aggregated_click_lists if args.aggregate else click_lists
    want = lambda *names: any(n in args.rankers for n in names)  # noqa: E731  (rows asked for with --rankers)
    for a in arms.values():
        a.reset(seed)
    t0 = time.time()
    train_q = QueryGenerator(world, seed=10_000 + seed, **qcfg).generate(args.train_queries)
    test_q = QueryGenerator(world, seed=20_000 + seed, **qcfg).generate(args.test_queries)
    train = candidate_pool(train_q, arms, feat, args.depths, progress=args.progress)
    test = candidate_pool(test_q, arms, feat, args.depths, progress=args.progress)
    log.info("seed %d: pools %d / %d queries, %.1f candidates per query, %.0f s", seed, len(train_q), len(test_q),
             np.mean([len(i) for i in train.ids]), time.time() - t0)
    out: dict = {"seed": seed, "in_union": float(np.mean([g.max(initial=0) > 0 for g in test.grades]))}
    out["score_fusion"] = ndcg_of_scores(test, [-np.arange(len(i), dtype=float) for i in test.ids])
    name, train_v = best_single_feature(train, feat.names)
    out["best_single_feature"] = {"feature": name, "train": train_v,
                                  "ndcg@10": ndcg_of_scores(test, feature_scores(test, feat.names, name))}
    if args.cross:
        out["cross_encoder_alone"] = ndcg_of_scores(test, feature_scores(test, feat.names, "cross:score"))

    def lm(s, pairing="preference"):
        return LambdaMARTRanker(n_trees=args.trees, seed=s, threads=args.threads, normalize=args.normalize,
                                pairing=pairing)

    def ips_lm(s):  # the IPS-weighted click rankers take --pairing
        return lm(s, args.pairing)

    def nn(s):
        return NeuralListwiseRanker(epochs=args.epochs, seed=s)

    # the empirical-Bayes rows: one prior for all candidates, or one predicted from each candidate's features
    eb_rows = {"eb_lambdamart": {}, "reb_lambdamart": {"prior": "features", "seed": seed, "threads": args.threads,
                                                       "min_examinations": args.eb_min_examinations}}

    full = lm(seed).fit(label_lists(train.features, train.grades))
    out["full_info_lambdamart"] = ndcg_of_ranker(test, full)
    # what perfect position debiasing could see at most: true grades of the logging ranker's top 10 only
    top = ListData.from_lists([f[:10] for f in train.features], [g[:10] for g in train.grades])
    out["full_info_top10_lambdamart"] = ndcg_of_ranker(test, lm(seed).fit(top))
    att = np.asarray(args.attractiveness, dtype=float)
    limit = ListData.from_lists([f[:10] for f in train.features],
                                [att[np.asarray(g[:10]).astype(int)] for g in train.grades])
    out["click_limit_top10_lambdamart"] = ndcg_of_ranker(test, lm(seed).fit(limit))
    out["full_info_neural"] = ndcg_of_ranker(test, nn(seed).fit(label_lists(train.features, train.grades)))
    log.info("seed %d: fusion %.4f, best feature %s %.4f, full-info %.4f", seed, out["score_fusion"], name,
             out["best_single_feature"]["ndcg@10"], out["full_info_lambdamart"])
    for cm_name in args.click_models:
        cm = click_model(cm_name, tuple(args.attractiveness))
        swaps = SwapInterventions(10, rate=0.5, seed=seed)
        simulate_click_log(train.ids, train.relevance, cm, args.swap_impressions, seed=50_000 + seed,
                           interventions=swaps, temperature=args.temperature)
        theta_hat = swaps.estimate()
        theta = cm.examination(10) if cm_name == "pbm" else None
        clog = simulate_click_log(train.ids, train.relevance, cm, max(args.sizes), seed=seed,
                                  temperature=args.temperature, progress=args.progress)

        def weights(th):
            """IPS keyword arguments of click_lists for examination ``th``: position-based for the deterministic
            logger, policy-aware for the stochastic one."""
            if args.temperature <= 0:
                return {"propensities": th, "clip": args.clip}
            by_len = {n: policy_aware_propensities(rank_logits(n, args.temperature), th, seed=seed)
                      for n in {len(i) for i in train.ids}}
            return {"item_propensities": [by_len[len(i)] for i in train.ids], "clip": args.clip}

        sizes = [len(i) for i in train.ids]
        res: dict = {"theta_hat": theta_hat.tolist(), "theta": theta.tolist() if theta is not None else None,
                     "ctr": float(clog.clicks.any(axis=1).mean()), "theta_dla": {}}
        for n in args.sizes:
            sub = clog.head(n)
            naive, ips = lists(sub, train.features), lists(sub, train.features, **weights(theta_hat))
            r = {"naive_lambdamart": ndcg_of_ranker(test, lm(seed).fit(naive)),
                 "ips_lambdamart": ndcg_of_ranker(test, ips_lm(seed).fit(ips))}
            for name, kw in eb_rows.items():  # PBM attractiveness by empirical Bayes, one list per query
                if want(name):
                    eb = posterior_click_lists(sub, train.features, theta_hat, label=args.eb_label, **kw)
                    r[name] = ndcg_of_ranker(test, lm(seed).fit(eb))
            if want("naive_neural"):
                r["naive_neural"] = ndcg_of_ranker(test, nn(seed).fit(naive))
            if want("ips_neural"):
                r["ips_neural"] = ndcg_of_ranker(test, nn(seed).fit(ips))
            if theta is not None and want("ips_lambdamart_true"):
                r["ips_lambdamart_true"] = ndcg_of_ranker(
                    test, ips_lm(seed).fit(lists(sub, train.features, **weights(theta))))
            # DLA learns from display positions of impressions
            if args.temperature <= 0 and not args.aggregate and want("dla_neural", "ips_lambdamart_dla"):
                dla = DualLearningRanker(epochs=args.epochs, seed=seed).fit(naive)
                r["dla_neural"] = ndcg_of_ranker(test, dla)
                # DLA's ratios are unconstrained (a deeper position can come out above the first): as IPS
                # propensities they are clipped into (0, 1] like the swap estimate
                dla_w = weights(np.clip(dla.propensities_, 1e-3, 1.0))
                r["ips_lambdamart_dla"] = ndcg_of_ranker(test, ips_lm(seed).fit(lists(sub, train.features, **dla_w)))
                res["theta_dla"][str(n)] = dla.propensities_.tolist()
            # per-query examination under the cascade, from the log itself
            if cm_name == "cascade" and want("ips_lambdamart_cascade", "ips_neural_cascade"):
                rho = cascade_propensities(sub.query, sub.items, sub.clicks, sizes, prior=args.cascade_prior)
                cm_ips = lists(sub, train.features, item_propensities=rho, clip=args.clip)
                r["ips_lambdamart_cascade"] = ndcg_of_ranker(test, ips_lm(seed).fit(cm_ips))
                r["ips_neural_cascade"] = ndcg_of_ranker(test, nn(seed).fit(cm_ips))
            for name, kw in eb_rows.items():  # the cascade's likelihood: examined = nothing clicked above
                if cm_name == "cascade" and want(f"{name}_cascade"):
                    eb = posterior_click_lists(sub, train.features, label=args.eb_label, examination="cascade", **kw)
                    r[f"{name}_cascade"] = ndcg_of_ranker(test, lm(seed).fit(eb))
            res[str(n)] = r
            log.info("seed %d %s n=%d: %s", seed, cm_name, n, {k: round(v, 4) for k, v in r.items()})
        out[cm_name] = res
    out["seconds"] = round(time.time() - t0, 1)
    return out


def summarise(per_seed: list[dict], args) -> dict:
    from ltrr.eval.metrics import mean_ci

    def ci(vals):
        m = mean_ci(vals)
        return {"ndcg@10": m["mean"], "ci95": [m["lo"], m["hi"]], "per_seed": list(vals)}

    rankers: dict = {"score_fusion": ci([s["score_fusion"] for s in per_seed]),
                     "best_single_feature": {**ci([s["best_single_feature"]["ndcg@10"] for s in per_seed]),
                                             "feature": [s["best_single_feature"]["feature"] for s in per_seed]},
                     "full_info_lambdamart": ci([s["full_info_lambdamart"] for s in per_seed]),
                     "full_info_top10_lambdamart": ci([s["full_info_top10_lambdamart"] for s in per_seed]),
                     "full_info_neural": ci([s["full_info_neural"] for s in per_seed])}
    if all("click_limit_top10_lambdamart" in s for s in per_seed):
        rankers["click_limit_top10_lambdamart"] = ci([s["click_limit_top10_lambdamart"] for s in per_seed])
    if all("cross_encoder_alone" in s for s in per_seed):
        rankers["cross_encoder_alone"] = ci([s["cross_encoder_alone"] for s in per_seed])
    for name in CLICK_RANKERS:
        table = {cm: {str(n): ci([s[cm][str(n)][name] for s in per_seed]) for n in args.sizes
                      if all(name in s[cm][str(n)] for s in per_seed)} for cm in args.click_models}
        rankers[name] = {cm: t for cm, t in table.items() if t}
    top = str(max(args.sizes))
    props = {cm: {"estimated_mean": np.mean([s[cm]["theta_hat"] for s in per_seed], axis=0).tolist(),
                  "dla_mean": (np.mean([s[cm]["theta_dla"][top] for s in per_seed], axis=0).tolist()
                               if all(top in s[cm].get("theta_dla", {}) for s in per_seed) else None),
                  "true": per_seed[0][cm]["theta"], "ctr": float(np.mean([s[cm]["ctr"] for s in per_seed]))}
             for cm in args.click_models}
    return {"rankers": rankers, "propensities": props,
            "targets": targets(per_seed, args), "in_union": float(np.mean([s["in_union"] for s in per_seed])),
            "meta": {"seeds": [s["seed"] for s in per_seed], "sizes": list(args.sizes),
                     "click_models": list(args.click_models), "train_queries": args.train_queries,
                     "test_queries": args.test_queries, "depths": dict(args.depths), "trees": args.trees,
                     "epochs": args.epochs, "clip": args.clip, "swap_impressions": args.swap_impressions,
                     "temperature": args.temperature, "aggregate": args.aggregate,
                     "attractiveness": list(args.attractiveness), "normalize": args.normalize,
                     "cascade_prior": args.cascade_prior, "pairing": args.pairing, "eb_label": args.eb_label,
                     "eb_min_examinations": args.eb_min_examinations,
                     "click_rankers": list(args.rankers),
                     "cross": str(args.cross) if args.cross else None}}


def targets(per_seed: list[dict], args) -> dict:
    """Gap closed by IPS at the largest log, and the learned ranker against the best single feature."""
    from ltrr.eval.metrics import mean_ci

    n = str(max(args.sizes))
    out: dict = {}
    for cm in args.click_models:
        for ips, naive in GAP_PAIRS:
            if not all(ips in s[cm][n] for s in per_seed):
                continue
            # a seed whose naive ranker is at the ceiling has no gap to close: it is left out of the ratio
            gap = [(s[cm][n][ips] - s[cm][n][naive]) / (s["full_info_lambdamart"] - s[cm][n][naive])
                   for s in per_seed if s["full_info_lambdamart"] - s[cm][n][naive] > 1e-3]
            a, b = mean_ci([s[cm][n][naive] for s in per_seed]), mean_ci([s[cm][n][ips] for s in per_seed])
            g = mean_ci(gap) if gap else None
            ceiling = float(np.mean([s["full_info_lambdamart"] for s in per_seed]))
            out[f"{cm}/{ips}"] = {
                "gap_closed": g["mean"] if g else None, "gap_closed_ci95": [g["lo"], g["hi"]] if g else None,
                "seeds_with_a_gap": len(gap),
                "gap_closed_of_means": (b["mean"] - a["mean"]) / (ceiling - a["mean"]) if ceiling - a["mean"] > 1e-3
                else None, "met_80pct": bool(g and g["mean"] >= 0.8), "naive_below_ips_nonoverlap": a["hi"] < b["lo"]}
            d = mean_ci([s[cm][n][ips] - s[cm][n][naive] for s in per_seed])
            out[f"{cm}/{ips}"]["paired_gain"] = {"mean": d["mean"], "ci95": [d["lo"], d["hi"]]}
            if all("click_limit_top10_lambdamart" in s for s in per_seed):  # the most debiased clicks could close
                lim = mean_ci([(s["click_limit_top10_lambdamart"] - s[cm][n][naive])
                               / (s["full_info_lambdamart"] - s[cm][n][naive])
                               for s in per_seed if s["full_info_lambdamart"] - s[cm][n][naive] > 1e-3])
                out[f"{cm}/{ips}"]["click_limit_gap_closed"] = {"mean": lim["mean"], "ci95": [lim["lo"], lim["hi"]]}
        best = [max(s["best_single_feature"]["ndcg@10"], s.get("cross_encoder_alone", -1.0)) for s in per_seed]
        d = mean_ci([s[cm][n]["ips_lambdamart"] - b for s, b in zip(per_seed, best)])
        out[f"{cm}/ips_lambdamart_minus_best_single"] = {"diff": d["mean"], "ci95": [d["lo"], d["hi"]],
                                                        "met_0.03": d["mean"] >= 0.03}
    return out


def print_table(res: dict) -> None:
    r = res["rankers"]
    fmt = lambda e: f"{e['ndcg@10']:.4f} [{e['ci95'][0]:.4f}, {e['ci95'][1]:.4f}]"  # noqa: E731
    print("\n| ranker | nDCG@10 (95% CI over seeds) |\n|---|---|")
    for name in ("score_fusion", "best_single_feature", "cross_encoder_alone", "full_info_lambdamart",
                 "full_info_top10_lambdamart", "click_limit_top10_lambdamart", "full_info_neural"):
        if name in r:
            extra = f" ({', '.join(sorted(set(r[name]['feature'])))})" if name == "best_single_feature" else ""
            print(f"| {name}{extra} | {fmt(r[name])} |")
    for cm in res["meta"]["click_models"]:
        sizes = [str(n) for n in res["meta"]["sizes"]]
        print(f"\n{cm} clicks\n\n| ranker | " + " | ".join(f"{int(n):,} impressions" for n in sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for name in CLICK_RANKERS:
            if cm in r.get(name, {}):
                print(f"| {name} | " + " | ".join(fmt(r[name][cm][n]) for n in sizes) + " |")
        p = res["propensities"][cm]
        print(f"\nswap-estimated θ: {np.round(p['estimated_mean'], 3).tolist()}"
              + (f"; DLA-estimated θ (largest log): {np.round(p['dla_mean'], 3).tolist()}" if p.get("dla_mean") else "")
              + (f"; true: {np.round(p['true'], 3).tolist()}" if p["true"] else ""))
    print()
    def show(b):
        if isinstance(b, dict):
            return "{" + ", ".join(f"{k}: {show(v)}" for k, v in b.items()) + "}"
        return b if b is None or isinstance(b, (bool, int)) else np.round(b, 4).tolist()

    for k, v in res["targets"].items():
        print(f"{k}: " + ", ".join(f"{a}={show(b)}" for a, b in v.items()))


GROUPS = {"short": (0, 5), "medium": (5, 30), "long": (30, 10**9)}  # listening-history length [low, high)


def _rel_ci(a: list[float], b: list[float]) -> dict:
    """Mean and 95% interval over seeds of the paired relative change ``a / b - 1``."""
    from ltrr.eval.metrics import mean_ci

    r = mean_ci([(x - y) / y for x, y in zip(a, b)])
    return {"mean": r["mean"], "ci95": [r["lo"], r["hi"]]}


def _fmt_rel(rc: dict) -> str:
    return f"{rc['mean']:+.2%} [{rc['ci95'][0]:+.2%}, {rc['ci95'][1]:+.2%}]"


def personal_part(args) -> dict:
    """The main job's neural-linear TS with and without the personalized arm, on a world whose users have
    listening histories of 0-60 tracks and ``--personal-share`` of "play something" queries; recall@budget per
    history-length group (paired over seeds)."""
    from ltrr.eval.metrics import mean_ci
    from ltrr.pipeline.log import read_log
    from ltrr.tasks import build as B
    from ltrr.tasks.catalogue import compose
    from ltrr.tasks.train import train

    seeds = parse_seeds(args.personal_seeds)
    base = ["logger=none", "progress=false", "arms.dense.progress=false", f"arms.dense.cache_dir={args.embed_cache}",
            f"data.world.history_len=[{args.history_range[0]},{args.history_range[1]}]",
            f"seeds=[{','.join(map(str, seeds))}]", f"rounds={args.personal_rounds}", "~policies.uniform",
            "~policies.lints", f"data.queries.personal_share={args.personal_share}"] + list(args.set)
    per: dict = {}
    for variant, extra in (("without", []), ("with", ["+arm@arms.personal=personal"] + list(args.personal_set))):
        cfg = compose(ROOT / "configs", base + extra)
        run_dir = args.cache / (f"personal_{variant}" if not args.personal_share
                                else f"personal_share{args.personal_share:g}_{variant}")
        train(cfg, run_dir)
        hist = {u.id: len(u.history) for u in B.build_world(cfg).users}
        per[variant] = {}
        for seed in seeds:
            recs = list(read_log(run_dir / "logs" / f"neural_linear_ts_seed{seed}.jsonl"))
            half = len(recs) // 2  # the second half: after the bandit has had 2,000 queries to learn the arm
            row = {}
            for g, (lo, hi) in GROUPS.items():
                sel = [r for r in recs if lo <= hist.get(r["user_id"], 0) < hi]
                late = [r["extra"]["hit"] for r in recs[half:] if lo <= hist.get(r["user_id"], 0) < hi]
                psel = [r for r in sel if r["extra"].get("intent") == "personal"]
                row[g] = {"recall_at_budget": float(np.mean([r["extra"]["recall"] for r in sel])) if sel else None,
                          "hit_at_budget": float(np.mean([r["extra"]["hit"] for r in sel])) if sel else None,
                          "hit_second_half": float(np.mean(late)) if late else None,
                          # what sending every personal query's whole budget to the personal arm would hit
                          "personal_queries": len(psel),
                          "personal_arm_hits": sum((r["extra"]["arm_ranks"].get("personal") or 10**9) <= cfg.budget
                                                   for r in psel),
                          "personal_hits": sum(bool(r["extra"]["hit"]) for r in psel),
                          "queries": len(sel),
                          "arm_recall": {a: float(np.mean([(sel_r["extra"]["arm_ranks"][a] or 10**9) <= cfg.budget
                                                           for sel_r in sel])) for a in cfg.arms} if sel else {},
                          "personal_share": float(np.mean([r["allocation"].get("personal", 0) for r in sel]))
                                            / cfg.budget if sel else None}
            per[variant][seed] = row
    out: dict = {"history_range": list(args.history_range), "personal_share": args.personal_share,
                 "groups": {g: list(v) for g, v in GROUPS.items()},
                 "seeds": seeds, "rounds": args.personal_rounds, "budget": None, "by_group": {}}
    for g in GROUPS:
        w = [per["with"][s][g]["recall_at_budget"] for s in seeds]
        wo = [per["without"][s][g]["recall_at_budget"] for s in seeds]
        if any(v is None for v in w + wo):
            continue
        hw = [per["with"][s][g]["hit_at_budget"] for s in seeds]
        hwo = [per["without"][s][g]["hit_at_budget"] for s in seeds]
        late_w, late_wo = ([per[v][s][g]["hit_second_half"] for s in seeds] for v in ("with", "without"))
        # ceiling: the run without the arm, each personal query's outcome replaced by the hit of the personal arm
        # given the whole budget (both runs see the same query stream)
        ceil = [hwo[i] + (per["with"][s][g]["personal_arm_hits"] - per["without"][s][g]["personal_hits"])
                / per["without"][s][g]["queries"] for i, s in enumerate(seeds)]
        out["by_group"][g] = {
            "with_personal": mean_ci(w), "without_personal": mean_ci(wo),
            "relative_change": _rel_ci(w, wo),
            "hit_with_personal": mean_ci(hw), "hit_without_personal": mean_ci(hwo),
            "hit_relative_change": _rel_ci(hw, hwo),
            "hit_relative_change_second_half": _rel_ci(late_w, late_wo) if None not in late_w + late_wo else None,
            "personal_queries_per_seed": float(np.mean([per["with"][s][g]["personal_queries"] for s in seeds])),
            "hit_ceiling_relative_change": _rel_ci(ceil, hwo),
            "queries_per_seed": float(np.mean([per["with"][s][g]["queries"] for s in seeds])),
            "personal_budget_share": float(np.mean([per["with"][s][g]["personal_share"] for s in seeds])),
            "arm_alone_recall_at_budget": {a: float(np.mean([per["with"][s][g]["arm_recall"][a] for s in seeds]))
                                           for a in per["with"][seeds[0]][g]["arm_recall"]}}
    bg = out["by_group"]
    # recall@B as BANDIT.md defines it: the share of queries whose union holds a wanted item (hit_at_budget)
    out["targets"] = {"long_gain_ge_10pct": bg.get("long", {}).get("hit_relative_change", {}).get("mean", -1) >= 0.10,
                      "short_loss_le_1pct": bg.get("short", {}).get("hit_relative_change", {}).get("mean", -1) >= -0.01}
    return out


def print_personal(p: dict) -> None:
    print(f"\npersonalized arm (neural-linear TS, {p['rounds']} rounds, seeds {p['seeds']}, histories "
          f"{p['history_range']} tracks, personal queries {p.get('personal_share', 0.0):.0%}): recall@budget with / "
          f"without it\n")
    print("| users (history tracks) | queries/seed | hit without | hit with | relative change | change, second half |"
          " recall (share of targets) without / with, change | personal share of budget | personal arm alone |"
          + (" ceiling (personal queries all-in on the arm) |" if p.get("personal_share") else "")
          + "\n|---|---|---|---|---|---|---|---|---|" + ("---|" if p.get("personal_share") else ""))
    for g, v in p["by_group"].items():
        lo, hi = p["groups"][g]
        if "hit_relative_change" not in v:  # a file written before the hit columns
            v = {**v, "hit_without_personal": {"mean": float("nan")}, "hit_with_personal": {"mean": float("nan")},
                 "hit_relative_change": {"mean": float("nan"), "ci95": [float("nan")] * 2}}
        late = v.get("hit_relative_change_second_half") or {"mean": float("nan"), "ci95": [float("nan")] * 2}
        print(f"| {g} [{lo}, {hi if hi < 10**8 else 'inf'}) | {v['queries_per_seed']:.0f} | "
              f"{v['hit_without_personal']['mean']:.4f} | {v['hit_with_personal']['mean']:.4f} | "
              f"{_fmt_rel(v['hit_relative_change'])} | {_fmt_rel(late)} | {v['without_personal']['mean']:.4f} / "
              f"{v['with_personal']['mean']:.4f}, {v['relative_change']['mean']:+.2%} | "
              f"{v['personal_budget_share']:.3f} | {v['arm_alone_recall_at_budget'].get('personal', float('nan')):.4f} |"
              + (f" {_fmt_rel(v['hit_ceiling_relative_change'])} |" if p.get("personal_share") else ""))
    print(f"targets: {p['targets']}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    p.add_argument("--click-models", nargs="+", default=["pbm", "cascade"])
    p.add_argument("--train-queries", type=int, default=2000)
    p.add_argument("--test-queries", type=int, default=1000)
    p.add_argument("--depths", nargs="+", default=[f"{k}={v}" for k, v in DEPTHS.items()],
                   help="arm=depth: each arm's candidates in the union")
    p.add_argument("--swap-impressions", type=int, default=20_000)
    p.add_argument("--trees", type=int, default=200)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--clip", type=float, default=100.0)
    p.add_argument("--pairing", choices=["preference", "positive"], default="preference",
                   help="pairs of the IPS LambdaMART rankers' LambdaRank gradients: 'preference' (g_i > g_j, classic) "
                        "or 'positive' (each click against every other shown item, unbiased under PBM; see "
                        "ltrr.losses.ltr.lambda_gradients); naive and full-information LambdaMART keep 'preference'")
    p.add_argument("--rankers", nargs="+", default=list(CLICK_RANKERS), choices=CLICK_RANKERS, metavar="NAME",
                   help="the click-trained rows to train (naive_lambdamart and ips_lambdamart always are; default: "
                        "all of " + ", ".join(CLICK_RANKERS) + ")")
    p.add_argument("--eb-label", choices=["mode", "mean", "relevant"], default="mode",
                   help="the empirical-Bayes rows' label per item: the posterior mode or mean of its PBM "
                        "attractiveness, or 'relevant' (1 where the posterior is mostly above the prior's lowest "
                        "cluster, else 0; ltrr.rerank.attractiveness). mode was chosen over mean on tuning seeds "
                        "100-101, relevant over mode on tuning seeds 100-105 (main job's user)")
    p.add_argument("--eb-min-examinations", type=float, default=0.0,
                   help="reb_* rows: fit the feature prior's classifier only on candidates with at least this many "
                        "expected examinations (0: on all). 5 gained about +0.011 under cascade clicks on tuning seeds "
                        "100-105 (main user) and nothing under PBM clicks")
    p.add_argument("--normalize", action="store_true",
                   help="LambdaMART: self-normalise each list's pairs by its total weighted gain")
    p.add_argument("--attractiveness", type=float, nargs=3, default=[0.02, 0.6, 0.95],
                   help="click probability of an examined item by grade 0, 1, 2 (default: the main job's click model; "
                        "0.4 0.7 0.9 is the noisier 'informational' user of the ULTR literature)")
    p.add_argument("--aggregate", action=argparse.BooleanOptionalAction, default=False,
                   help="one training list per query with clicks averaged over its impressions (IPS-weighted for "
                        "the IPS rankers), instead of one list per impression")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="0: deterministic logger (fused top 10); > 0: Plackett-Luce logger over the fused order "
                        "with logits -log(position)/T, and policy-aware IPS")
    p.add_argument("--cascade-prior", type=float, default=10.0,
                   help="pseudo-impressions shrinking each query's cascade examination estimate towards the "
                        "pooled per-position one (the *_cascade rankers; 10 was chosen on tuning seed 100 among "
                        "0, 10 and 50)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cross", type=Path, default=None,
                   help=f"trained cross-encoder folder: adds its score as a feature and the cross_encoder_alone row "
                        f"(the encoder job writes one to {CROSS.relative_to(ROOT)}); scoring every candidate costs "
                        f"minutes per seed on CPU")
    p.add_argument("--embed-cache", default=str(ROOT / ".cache" / "ltrr" / "embeddings"))
    p.add_argument("--set", nargs="*", default=[], help="extra overrides of configs/train.yaml")
    p.add_argument("--cache", type=Path, default=ROOT / "runs" / "bench_ltr")
    p.add_argument("--out", type=Path)
    p.add_argument("--show", type=Path, help="reprint the table of a results file")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--parts", nargs="+", default=["rankers", "personal"], choices=["rankers", "personal"])
    p.add_argument("--personal-seeds", default="0-4")
    p.add_argument("--personal-rounds", type=int, default=4000)
    p.add_argument("--history-range", type=int, nargs=2, default=[0, 60])
    p.add_argument("--personal-set", nargs="*", default=[],
                   help="overrides for the run with the personalized arm only, e.g. arms.personal.relisten_bonus=0")
    p.add_argument("--personal-share", type=float, default=0.0,
                   help="share of 'play something' queries (data.queries.personal_share); 0: the default world")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.show:
        shown = json.loads(args.show.read_text())
        if shown.get("rankers"):
            print_table(shown)
        if shown.get("personalized_arm"):
            print_personal(shown["personalized_arm"])
        return
    args.depths = {k: int(v) for k, _, v in (d.partition("=") for d in args.depths)}
    seeds = parse_seeds(args.seeds)
    key = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
           if k in ("sizes", "click_models", "train_queries", "test_queries", "depths", "swap_impressions", "trees",
                    "epochs", "clip", "cross", "set", "temperature", "aggregate", "attractiveness",
                    "normalize", "cascade_prior", "pairing", "eb_label", "eb_min_examinations")}
    for opt, implicit in KEY_IMPLICIT.items():  # keeps the caches of runs made before the option existed valid
        if key[opt] == implicit:
            key.pop(opt)
    args.rankers = sorted(set(args.rankers) | {"naive_lambdamart", "ips_lambdamart"}, key=CLICK_RANKERS.index)
    key["rankers"] = args.rankers  # a new ranker row invalidates the cached seeds
    key["limit_row"] = True  # seeds cached before click_limit_top10_lambdamart are recomputed
    args.cache.mkdir(parents=True, exist_ok=True)
    out: dict = json.loads(args.out.read_text()) if args.out and args.out.exists() else {}
    if "personal" in args.parts:
        out["personalized_arm"] = personal_part(args)
        print_personal(out["personalized_arm"])
    if "rankers" not in args.parts:
        if args.out:
            args.out.write_text(json.dumps(out, indent=2))
        return
    ctx = None
    per_seed = []
    for seed in seeds:
        f = args.cache / f"seed{seed}.json"
        if f.exists() and json.loads(f.read_text()).get("key") == key:
            per_seed.append(json.loads(f.read_text())["result"])
            continue
        ctx = ctx or build(args)
        res = run_seed(args, ctx, seed)
        f.write_text(json.dumps({"key": key, "result": res}))
        per_seed.append(res)
    out = {**out, **summarise(per_seed, args), "personalized_arm": out.get("personalized_arm")}
    print_table(out)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))
        log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
