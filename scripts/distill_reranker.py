"""Distil the trained cross-encoder into a small one for serving, and measure what it costs in quality and time.

    python scripts/distill_reranker.py --catalogue spotify --out runs/rerankers/spotify_h128_l2
    python scripts/distill_reranker.py --catalogue music --out runs/rerankers/music_h128_l2

1. **Lists to distil from.** Queries go through the serving pipeline (``configs/train.yaml``'s arms plus
   ``structured`` and ``longtail``, fused under a fresh neural-linear TS allocation, as ``scripts/bench/serve.py``
   builds it) and the top ``--top`` fused documents of each are scored by the teacher (``--teacher``, by default
   the music run's reranker). ``spotify``: track titles (30% misspelt) and a seeded half of the playlist names;
   ``music``: generated queries. Only texts and teacher scores are used, no relevance labels.
2. **The student** (``--hidden``, ``--layers``, ``--heads``; :mod:`ltrr.training.distill_cross`) is trained on
   those lists and saved to ``--out`` (a Hugging Face folder that ``rerank.encoder.name_or_path`` accepts).
3. **Held-out evaluation**, on queries none of the lists came from: ``spotify``: the other half of the playlist
   names (their member tracks as relevant) and titles of other tracks (known item); ``music``: generated queries
   of another seed (graded targets). nDCG@10 of the fused ranking with its top ``--rerank-top`` reranked by the
   teacher (ONNX fp32, equal to PyTorch to 1e-5) and int8, the student in PyTorch and ONNX int8, and no rerank;
   each with a 95% bootstrap interval over queries, and the paired difference to the teacher with its interval.
   Latency: scoring ``--rerank-top`` pairs, p50/p99 over ``--latency-queries`` queries on one thread.

Writes ``--out``/distill.json (and ``--report`` when given) and prints a table.
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
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

log = logging.getLogger("distill_reranker")
SPOTIFY = ROOT.parent / "shared" / "data" / "music" / "spotify_songs"
TEACHER = ROOT / "runs" / "encoders_music" / "models" / "reranker"


SCORERS = ("teacher", "teacher_int8", "student", "student_int8")
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))  # first-stage weights tried on the dev queries


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", choices=["spotify", "music"], default="spotify")
    ap.add_argument("--data", type=Path, default=SPOTIFY, help="BEIR folder of the spotify catalogue")
    ap.add_argument("--teacher", default=str(TEACHER), help="trained cross-encoder folder")
    ap.add_argument("--out", type=Path, required=True, help="folder for the student")
    ap.add_argument("--report", type=Path, default=None, help="also write the JSON report here")
    ap.add_argument("--reuse", action="store_true",
                    help="evaluate the student already in --out (e.g. at another --max-length) instead of training")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--queries", type=int, default=2000, help="distillation queries (titles or generated)")
    ap.add_argument("--top", type=int, default=30, help="fused candidates per distillation query")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--label-weight", type=float, default=0.0,
                    help="> 0: also learn the distillation queries' own relevance labels (known-item tracks, the "
                         "training half's playlist members), weighted so against the teacher")
    ap.add_argument("--eval-queries", type=int, default=500, help="held-out title / generated queries")
    ap.add_argument("--dev-queries", type=int, default=300,
                    help="held-out known-item queries (disjoint from training and evaluation) on which each "
                         "scorer's interpolation weight with the fused score is chosen")
    ap.add_argument("--scorers", nargs="+", default=list(SCORERS), choices=list(SCORERS),
                    help="which rerankers to evaluate")
    ap.add_argument("--rerank-top", type=int, default=20)
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2, help="torch / ONNX threads for scoring and training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "ltrr" / "embeddings"))
    ap.add_argument("--set", nargs="*", default=[], help="Hydra overrides of configs/train.yaml")
    return ap


def query_sets(cfg, args, docs):
    """``(distillation queries, {eval set name: [LabelledQuery]}, dev queries)``, disjoint in text (and, for
    titles, in track)."""
    from ltrr.tasks import catalogue as C

    if args.catalogue == "spotify":
        playlists = C.playlist_queries(args.data)
        order = np.random.default_rng(args.seed).permutation(len(playlists))
        half = len(order) // 2
        train = [playlists[i] for i in order[:half]]
        titles = C.title_queries(docs, args.queries, args.seed + 1)
        train += titles
        used = {q.id for q in titles}  # a title query's id names its track: held-out tracks are other tracks
        evals = {"playlists": [playlists[i] for i in order[half:]],
                 "titles": [q for q in C.title_queries(docs, args.eval_queries + args.queries, args.seed + 2)
                            if q.id not in used]}
        used |= {q.id for q in evals["titles"][:args.eval_queries]}
        dev = [q for q in C.title_queries(docs, args.dev_queries + len(used), args.seed + 3) if q.id not in used]
    else:
        train = C.music_queries(cfg, args.queries, args.seed + 101)
        evals = {"generated": C.music_queries(cfg, args.eval_queries, args.seed + 202)}
        dev = C.music_queries(cfg, args.dev_queries, args.seed + 303)
    by_text: dict = {}
    for q in train:  # distinct texts, first occurrence first
        by_text.setdefault(q.text, q)
    evals = {k: [q for q in v if q.text not in by_text and q.qrels][:max(args.eval_queries, 0) or None]
             for k, v in evals.items()}
    held = by_text.keys() | {q.text for v in evals.values() for q in v}
    dev = [q for q in dev if q.text not in held and q.qrels][:args.dev_queries]
    return list(by_text.values()), evals, dev


def candidates(pipeline, texts, top: int, desc: str, scores: bool = False) -> list:
    """The top ``top`` fused document ids of each query text (with ``scores``: ``(ids, fused scores)`` pairs)."""
    from ltrr.types import Query

    out = []
    for i, t in enumerate(tqdm(texts, desc=desc, leave=False)):
        ranking = pipeline.search(Query(f"d{i}", t)).ranking[:top]
        ids = [it.doc_id for it in ranking]
        out.append((ids, np.array([it.score for it in ranking])) if scores else ids)
    return out


def reranked(scorer, queries, lists, text: dict, top: int) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    """Per query: the fused ids, the fused scores of the head and the scorer's scores of the head."""
    out = []
    for q, (ids, fused) in zip(queries, lists):
        head = ids[:top]
        out.append((ids, fused[:top], scorer.score(q.text, [text[i] for i in head]) if head else np.zeros(0)))
    return out


def interpolated_run(queries, scored, weight: float, top: int) -> dict[str, list[str]]:
    """Runs with each head ordered by :func:`~ltrr.rerank.cross.interpolate_scores` (as the served reranker)."""
    from ltrr.rerank.cross import interpolate_scores

    run = {}
    for q, (ids, fused, ce) in zip(queries, scored):
        s = interpolate_scores(ce, fused, weight) if len(ce) else ce
        run[q.id] = [ids[i] for i in np.argsort(-s, kind="stable")] + ids[top:]
    return run


def bootstrap_ci(x: np.ndarray, seed: int, n: int = 2000) -> list[float]:
    """95% percentile bootstrap interval of the mean of ``x`` over queries."""
    rng = np.random.default_rng(seed)
    means = x[rng.integers(len(x), size=(n, len(x)))].mean(1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("onnx_ir").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    from ltrr.encoders.cross import CrossEncoder
    from ltrr.eval.metrics import ndcg_at_10
    from ltrr.tasks import catalogue as C
    from ltrr.training.distill_cross import ScoredList, distill_cross_encoder, student_from_teacher

    cfg = C.compose(ROOT / "configs", C.serve_overrides(args.cache_dir) + list(args.set))
    docs = C.load_docs(cfg, args.catalogue, args.data)
    text = {d.id: d.full_text for d in docs}
    pipeline = C.build_pipeline(cfg, docs, args.seed, rerank=False)
    train, evals, dev = query_sets(cfg, args, docs)
    log.info("%d distillation queries; held out: %s; dev: %d", len(train), {k: len(v) for k, v in evals.items()},
             len(dev))

    t0 = time.perf_counter()
    teacher = CrossEncoder.from_pretrained(args.teacher, device="cpu", max_length=args.max_length, backend="onnx")
    lists, losses, teacher_s, train_s, prior = [], [], 0.0, 0.0, {}
    if args.reuse:
        student = CrossEncoder.from_pretrained(str(args.out), device="cpu", max_length=args.max_length)
        prior = json.loads((args.out / "distill.json").read_text()) if (args.out / "distill.json").is_file() else {}
        log.info("reusing the student in %s (trained on %s)", args.out, prior.get("distill", {}))
    else:
        for q, ids in zip(train, candidates(pipeline, [q.text for q in train], args.top, "candidates")):
            if ids:
                labels = np.array([q.qrels.get(i, 0) for i in ids], dtype=float) if args.label_weight else None
                lists.append(ScoredList(q.text, [text[i] for i in ids], teacher.score(q.text, [text[i] for i in ids]),
                                        labels))
        teacher_s = time.perf_counter() - t0
        student = student_from_teacher(teacher, args.hidden, args.layers, args.heads, seed=args.seed,
                                       max_length=args.max_length)
        t0 = time.perf_counter()
        losses = distill_cross_encoder(student, lists, epochs=args.epochs, lr=args.lr, label_weight=args.label_weight,
                                       seed=args.seed)
        train_s = time.perf_counter() - t0
        student.save_pretrained(args.out)
    cfg_s = student.model.config
    make = {"teacher": lambda: teacher,
            "teacher_int8": lambda: CrossEncoder.from_pretrained(args.teacher, device="cpu", max_length=args.max_length,
                                                                 backend="onnx-int8"),
            "student": lambda: CrossEncoder.from_pretrained(str(args.out), device="cpu", max_length=args.max_length),
            "student_int8": lambda: CrossEncoder.from_pretrained(str(args.out), device="cpu",
                                                                 max_length=args.max_length, backend="onnx-int8")}
    scorers = {k: make[k]() for k in args.scorers}
    # each scorer's weight of the fused score, chosen on the dev queries (never on the evaluation sets)
    dev_lists = candidates(pipeline, [q.text for q in dev], 100, "dev lists", scores=True)
    dev_qrels = {q.id: q.qrels for q in dev}
    weights, dev_curve = {}, {}
    for sname, sc in scorers.items():
        scored = reranked(sc, dev, dev_lists, text, args.rerank_top)
        dev_curve[sname] = {str(w): float(np.mean(list(ndcg_at_10(interpolated_run(dev, scored, w, args.rerank_top),
                                                                   dev_qrels).values()))) for w in WEIGHTS}
        weights[sname] = float(max(WEIGHTS, key=lambda w: dev_curve[sname][str(w)]))
        log.info("%s: first-stage weight %.1f on %d dev queries (dev nDCG@10 %.4f)", sname, weights[sname], len(dev),
                 dev_curve[sname][str(weights[sname])])

    report: dict = {"catalogue": args.catalogue, "teacher": args.teacher, "student": str(args.out),
                    "shape": {"hidden": cfg_s.hidden_size, "layers": cfg_s.num_hidden_layers,
                              "heads": cfg_s.num_attention_heads},
                    "max_length": args.max_length, "reused": bool(args.reuse),
                    "params": {"teacher": sum(p.numel() for p in teacher.model.parameters()),
                               "student": sum(p.numel() for p in student.model.parameters())},
                    "distill": prior.get("distill") or {"queries": len(lists), "pairs": sum(len(x.docs) for x in lists),
                                                        "label_weight": args.label_weight,
                                                        "epoch_loss": losses, "teacher_scoring_s": round(teacher_s, 1),
                                                        "train_s": round(train_s, 1)},
                    "rerank_top": args.rerank_top, "dev_queries": len(dev), "first_stage_weight": weights,
                    "dev_ndcg@10": dev_curve, "eval": {}, "latency_ms": {}}
    for name, queries in evals.items():
        lists_eval = candidates(pipeline, [q.text for q in queries], 100, f"eval {name}", scores=True)
        qrels = {q.id: q.qrels for q in queries}
        runs = {"none": {q.id: ids for q, (ids, _) in zip(queries, lists_eval)}}
        for sname, sc in scorers.items():
            scored = reranked(sc, queries, lists_eval, text, args.rerank_top)
            runs[sname] = interpolated_run(queries, scored, 0.0, args.rerank_top)
            if weights[sname] > 0:
                runs[f"{sname}+fused"] = interpolated_run(queries, scored, weights[sname], args.rerank_top)
        per = {k: ndcg_at_10(v, qrels) for k, v in runs.items()}
        ids = [q.id for q in queries]
        report["reference"] = ref_name = "teacher" if "teacher" in per else "none"
        ref = np.array([per[ref_name][i] for i in ids])
        rows = {}
        for k, v in per.items():
            x = np.array([v[i] for i in ids])
            rows[k] = {"ndcg@10": float(x.mean()), "ci95": bootstrap_ci(x, args.seed),
                       f"minus_{ref_name}": float((x - ref).mean()),
                       f"minus_{ref_name}_ci95": bootstrap_ci(x - ref, args.seed)}
        report["eval"][name] = {"queries": len(ids), "systems": rows}

    torch.set_num_threads(1)
    pool = [q for v in evals.values() for q in v][:args.latency_queries]
    heads = candidates(pipeline, [q.text for q in pool], args.rerank_top, "latency lists")
    for sname, sc in scorers.items():
        if sc.onnx is not None:
            sc.onnx.set_threads(1)
        ms = []
        for q, ids in zip(pool, heads):
            t = time.perf_counter()
            sc.score(q.text, [text[i] for i in ids])
            ms.append((time.perf_counter() - t) * 1e3)
        ms = ms[5:] or ms
        report["latency_ms"][sname] = {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}

    args.out.mkdir(parents=True, exist_ok=True)
    for path in filter(None, [None if args.reuse else args.out / "distill.json", args.report]):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))
    table(report)
    return report


def table(r: dict) -> None:
    print(f"\n### reranker distillation: {r['catalogue']}, student {r['shape']} "
          f"({r['params']['student'] / 1e6:.1f}M params; teacher {r['params']['teacher'] / 1e6:.1f}M), "
          f"top {r['rerank_top']} reranked, pairs cut at {r['max_length']} tokens")
    print(f"{'reused; ' if r['reused'] else ''}distilled on {r['distill']['queries']} lists, {r['distill']['pairs']} pairs "
          f"(teacher scoring {r['distill']['teacher_scoring_s']} s, training {r['distill']['train_s']} s)\n")
    lat = r["latency_ms"]
    for name, ev in r["eval"].items():
        print(f"{name} ({ev['queries']} held-out queries; '+fused': interpolated with the fused score at the weight "
              f"chosen on {r.get('dev_queries', 0)} dev queries: {r.get('first_stage_weight', {})})\n")
        ref = r.get("reference", "teacher")
        print(f"| reranker | nDCG@10 [95% CI] | minus {ref} [95% CI] | rerank p50 / p99 ms (1 thread) |")
        print("|---|---|---|---|")
        for k, v in ev["systems"].items():
            lo, hi = v["ci95"]
            dlo, dhi = v[f"minus_{ref}_ci95"]
            t = f"{lat[k.removesuffix('+fused')]['p50']:.1f} / {lat[k.removesuffix('+fused')]['p99']:.1f}" \
                if k.removesuffix("+fused") in lat else "0"
            print(f"| {k} | {v['ndcg@10']:.4f} [{lo:.4f}, {hi:.4f}] | {v[f'minus_{ref}']:+.4f} "
                  f"[{dlo:+.4f}, {dhi:+.4f}] | {t} |")
        print()


if __name__ == "__main__":
    main()
