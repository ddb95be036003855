"""Benchmark of the encoder job: trained dense, SPLADE, their fusion and the cross-encoder, next to the zero-shot
MiniLM and BM25 from the same run.

    python scripts/bench/train.py --data ../shared/data/beir/scifact --run runs/encoders_scifact \
        --out bench/train_scifact.json
    python scripts/bench/train.py --data ../shared/data/music/spotify_songs --run runs/encoders_spotify \
        --experiment encoders_spotify --split holdout --out bench/train_spotify.json

If ``RUN/metrics.json`` is missing, the encoder job is run first (``train.py experiment=...``; it resumes a killed
run). Evaluation is on ``--split`` (a qrels split of the folder, or ``holdout``: the queries the job set aside).
Training never sees these queries; the fusion weight and the reranker's first-stage weight (``rerank`` interpolates
the cross-encoder with the fused score; ``rerank:ce-only`` does not) come from the job's dev split. Cross-encoder scores are cached
in ``RUN/bench/`` so an interrupted benchmark resumes. Writes ``--out`` (``systems``, ``train``, ``sparsity``) and a
plot of the FLOPS / effectiveness trade-off next to it; ``--show FILE.json`` prints the table of an earlier run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from ltrr.data.beir import load_beir  # noqa: E402
from ltrr.encoders.sparse import prune_rows  # noqa: E402
from ltrr.eval.offline import mean_metrics, run_metrics  # noqa: E402
from ltrr.training.retrieval import ExactIndex, encode_joint, fuse_runs, ids, rerank_run  # noqa: E402

log = logging.getLogger("bench.train")
TARGETS = {"dense": 0.70, "splade": 0.69, "fusion": 0.72, "rerank": 0.74}


def run_job(run: Path, experiment: str, data: Path, extra: list[str]) -> None:
    cmd = [sys.executable, str(ROOT / "train.py"), f"experiment={experiment}", "encoders.data.kind=beir",
           f"++encoders.data.path={data}",
           f"hydra.run.dir={run}", *extra]
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT)


def load_eval(data: Path, split: str, run: Path):
    """(queries {id: text}, qrels, corpus docs) of the evaluation split."""
    if split == "holdout":
        ds = load_beir(data, "train")
        keep = json.loads((run / "splits.json").read_text())["holdout"]
        if not keep:
            raise SystemExit(f"{run}/splits.json: no holdout queries (set encoders.holdout_fraction)")
        qrels = {q: ds.qrels[q] for q in keep}
    else:
        ds = load_beir(data, split)
        qrels = ds.qrels
    return {q: ds.queries[q].text for q in qrels}, qrels, ds.corpus


def flops(q: sp.csr_matrix, d: sp.csr_matrix) -> float:
    """Expected multiply-adds per query-document pair: sum_j P(q_j != 0) P(d_j != 0) (Paria et al.)."""
    pq = np.asarray((q > 0).mean(axis=0)).ravel()
    pd = np.asarray((d > 0).mean(axis=0)).ravel()
    return float(pq @ pd)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--show":  # print the table of an earlier --out file
        table(json.loads(Path(sys.argv[2]).read_text()))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--experiment", default="encoders_beir")
    ap.add_argument("--split", default="test")
    ap.add_argument("--rerank-top", type=int, default=100)
    ap.add_argument("--doc-top-k", type=int, default=256, help="SPLADE document pruning for the headline figure")
    ap.add_argument("--query-top-k", type=int, default=64, help="SPLADE query pruning for the headline figure")
    ap.add_argument("--set", nargs="*", default=[], help="extra Hydra overrides for the job")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run = args.run.resolve()
    if not (run / "metrics.json").exists():
        run_job(run, args.experiment, args.data.resolve(), args.set)
    job = json.loads((run / "metrics.json").read_text())
    queries, qrels, corpus = load_eval(args.data, args.split, run)
    qids = list(queries)
    log.info("evaluating on %s/%s: %d queries, %d docs", args.data.name, args.split, len(qids), len(corpus))
    systems, runs = {}, {}

    def score(name: str, run_ids: dict) -> None:
        systems[name] = {k: round(v, 4) for k, v in mean_metrics(run_metrics(run_ids, qrels)).items()}
        log.info("%-24s nDCG@10 %.4f  recall@100 %.4f", name, systems[name]["ndcg@10"], systems[name]["recall@100"])

    from ltrr.arms.lexical import BM25Arm
    from ltrr.types import Query

    bm25 = BM25Arm(list(corpus.values()), fields={"title": 1.0, "text": 1.0})
    res = bm25.retrieve_batch([Query(q, queries[q]) for q in qids], 100)
    score("peer:bm25", {q: [c.doc_id for c in r.candidates] for q, r in zip(qids, res)})

    from ltrr.encoders.joint import JointEncoder

    doc_ids = json.loads((run / "index" / "doc_ids.json").read_text())
    zs_ids = json.loads((run / "index_zero_shot" / "doc_ids.json").read_text())
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    jcfg = OmegaConf.load(run / ".hydra" / "config.yaml").encoders.joint
    qlen = int(jcfg.query_max_length)
    zero = instantiate(jcfg.model)  # the job's starting point, before any training
    zq = encode_joint(zero, [queries[q] for q in qids], qlen, 64, ("dense",))["dense"]
    runs["zero"] = ExactIndex(zs_ids, dense=np.load(run / "index_zero_shot" / "dense.npy")).search("dense", zq, qids, 100)
    score("peer:minilm-zero-shot", ids(runs["zero"]))

    model = JointEncoder.from_pretrained(str(run / "models" / "joint"))
    qrep = encode_joint(model, [queries[q] for q in qids], qlen, 64, ("dense", "sparse"))
    dense = np.load(run / "index" / "dense.npy")
    sparse = sp.load_npz(run / "index" / "sparse.npz").tocsr()
    runs["dense"] = ExactIndex(doc_ids, dense=dense).search("dense", qrep["dense"], qids, 100)
    score("dense", ids(runs["dense"]))
    curve = []
    for dk in (None, 512, 256, 128, 64, 32):
        for qk in (None, 64, 32, 16):
            d, q = prune_rows(sparse, dk), prune_rows(qrep["sparse"], qk)
            r = ExactIndex(doc_ids, sparse=d).search("sparse", q, qids, 100)
            m = mean_metrics(run_metrics(ids(r), qrels))
            curve.append({"doc_top_k": dk, "query_top_k": qk, "ndcg@10": round(m["ndcg@10"], 4),
                          "l0_d": float(d.getnnz(axis=1).mean()), "l0_q": float(q.getnnz(axis=1).mean()),
                          "flops": flops(q, d)})
            if dk is None and qk is None:
                score("splade:unpruned", ids(r))
            if dk == args.doc_top_k and qk == args.query_top_k:
                runs["splade"] = r
                score("splade", ids(r))
    w = float(job.get("fusion", {}).get("sparse_weight", 0.5))
    runs["fusion"] = fuse_runs({"dense": runs["dense"], "sparse": runs["splade"]}, {"dense": 1 - w, "sparse": w}, k=100)
    score("fusion", ids(runs["fusion"]))

    if (run / "models" / "reranker").exists():
        from ltrr.encoders.cross import CrossEncoder

        cache_f = run / "bench" / f"ce_scores_{args.split}_top{args.rerank_top}.json"
        cache = json.loads(cache_f.read_text()) if cache_f.exists() else {}
        ce = CrossEncoder.from_pretrained(str(run / "models" / "reranker"))
        t0, n_pairs = time.time(), 0
        from tqdm.auto import tqdm

        for q in tqdm(qids, desc="rerank", leave=False):
            if q in cache:
                continue
            cand = [d for d, _ in runs["fusion"][q][: args.rerank_top]]
            s = ce.score(queries[q], [corpus[d].full_text for d in cand])
            cache[q] = [[d, float(v)] for d, v in zip(cand, s)]
            n_pairs += len(cand)
            if len(cache) % 20 == 0:
                cache_f.parent.mkdir(parents=True, exist_ok=True)
                cache_f.write_text(json.dumps(cache))
        cache_f.parent.mkdir(parents=True, exist_ok=True)
        cache_f.write_text(json.dumps(cache))
        for q in qids:
            if [d for d, _ in cache[q]] != [d for d, _ in runs["fusion"][q][: args.rerank_top]]:
                raise SystemExit(f"{cache_f}: cached candidates of query {q} differ from the fused run; delete it")
        ce_scores = {q: [v for _, v in cache[q]] for q in qids}
        w_first = float((job.get("cross", {}).get("interpolation") or {}).get("first_stage_weight", 0.0))
        score("rerank", rerank_run(runs["fusion"], ce_scores, w_first))
        systems["rerank"]["first_stage_weight_from_dev"] = w_first
        if w_first > 0:
            score("rerank:ce-only", rerank_run(runs["fusion"], ce_scores))
        if n_pairs:
            systems["rerank"]["pairs_per_s"] = round(n_pairs / (time.time() - t0), 1)

    out = {"data": f"{args.data.name}/{args.split}", "queries": len(qids), "systems": systems,
           "train": {"joint": job.get("joint", {}).get("train"), "cross": job.get("cross", {}).get("train"),
                     "joint_seconds": job.get("joint", {}).get("seconds"),
                     "cross_seconds": job.get("cross", {}).get("seconds")},
           "fusion_weight_from_dev": w, "sparsity": {"curve": curve, "headline": {"doc_top_k": args.doc_top_k,
                                                                                 "query_top_k": args.query_top_k}},
           "job": {k: job.get(k) for k in ("data", "fusion", "index")}}
    plot(curve, args.out.with_suffix(".png") if args.out else run / "bench" / "flops_tradeoff.png")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
    table(out)


def plot(curve: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for qk in sorted({c["query_top_k"] for c in curve}, key=lambda x: (x is None, x or 0)):
        pts = sorted((c for c in curve if c["query_top_k"] == qk), key=lambda c: c["flops"])
        axes[0].plot([c["flops"] for c in pts], [c["ndcg@10"] for c in pts], "o-", label=f"query top-k {qk or 'all'}")
        axes[1].plot([c["l0_d"] for c in pts], [c["ndcg@10"] for c in pts], "o-", label=f"query top-k {qk or 'all'}")
    axes[0].set(xscale="log", xlabel="FLOPS (expected multiply-adds per query-doc pair)", ylabel="nDCG@10",
                title="SPLADE: effectiveness vs FLOPS")
    axes[1].set(xscale="log", xlabel="average non-zeros per document", ylabel="nDCG@10",
                title="SPLADE: effectiveness vs document size")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    log.info("plot: %s", path)


def table(out: dict) -> None:
    """Print the systems as a markdown table (the README's); targets (SciFact test nDCG@10) only for SciFact test."""
    targets = TARGETS if out["data"] == "scifact/test" else {}
    cols = ["ndcg@10", "mrr@10", "recall@10", "recall@100"]
    rows = ["| system | " + " | ".join(cols) + " | target nDCG@10 | ratio |", "|---" * (len(cols) + 3) + "|"]
    for name, m in out["systems"].items():
        t = targets.get(name)
        rows.append(f"| {name} | " + " | ".join(f"{m[c]:.4f}" for c in cols)
                    + (f" | {t:.2f} | {m['ndcg@10'] / t:.3f} |" if t else " | | |"))
    for stage in ("joint", "cross"):
        tr = out["train"].get(stage) or {}
        if tr:
            rows.append(f"\n{stage}: {tr.get('examples_per_s', 0):.2f} examples/s, peak {tr.get('peak_memory_mb', 0):.0f} MB, "
                        f"seconds per epoch {tr.get('seconds_per_epoch')} on {tr.get('device')}")
    head = out["sparsity"]["headline"]
    for c in out["sparsity"]["curve"]:
        if c["doc_top_k"] == head["doc_top_k"] and c["query_top_k"] == head["query_top_k"]:
            rows.append(f"splade non-zeros: documents {c['l0_d']:.1f}, queries {c['l0_q']:.1f}, FLOPS {c['flops']:.2f}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
