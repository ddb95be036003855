"""Per-query, per-arm ranks of every relevant SciFact document, and query contexts, for the replay bandit.

    python scripts/bench/bandit_scifact_data.py --data ../shared/data/beir/scifact \
        --out runs/bandit_scifact/ranks.npz --trained runs/encoders_scifact

For the ``test`` and ``train`` qrels splits, every arm retrieves its top ``--top-k`` list and the 1-based rank of
each relevant document is recorded (``inf`` when absent), giving ``{split}_ranks`` of shape ``(Q, R_max, K)`` for
:class:`ltrr.simulate.replay.RankedListEnv`. Arms: ``bm25`` (tantivy BM25 over title + text) and ``dense``
(zero-shot all-MiniLM-L6-v2, document embeddings from ``--zero-shot-index``, the encoder job's
``RUN/index_zero_shot``, encoded here when missing, so no training is needed); with ``--trained RUN`` also
``dense_ft`` and ``splade_ft``, the two heads of the job's trained joint encoder over ``RUN/index``.

**Caveat.** The trained encoders were fitted on SciFact *train* queries (all but the job's dev split, see
``RUN/splits.json``; ``train_seen`` marks them), so their ranks on the train split are optimistic. Use the train
split to fit feature transforms, never to tune for the test figures.

Contexts (``{split}_contexts``, names in ``context_names``): ``[1, words / 10, has-digit, PCA_1..32]`` where the
PCA (whitened) of the zero-shot MiniLM query embedding is fitted on the train queries only. The raw embeddings are
kept as ``{split}_emb``. Query types (``{split}_types``, for per-type reports; hindsight labels, never a policy
input): which of ``bm25`` and zero-shot ``dense`` alone puts a relevant document in its top 10 —
``bm25-only``, ``dense-only``, ``both`` or ``neither``.

The printed table gives recall in two senses on test: ``hit`` (some relevant document retrieved; the bandit's
reward) and ``frac`` (fraction of the relevant documents retrieved, averaged over queries: BEIR's recall@k).
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
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from ltrr.data.beir import load_beir  # noqa: E402
from ltrr.simulate.replay import RankedListEnv, union_hits  # noqa: E402
from ltrr.training.retrieval import ExactIndex, cached_dense_corpus, encode_joint  # noqa: E402
from ltrr.types import Query  # noqa: E402

log = logging.getLogger("bench.bandit_scifact_data")
SPLITS = ("test", "train")
TYPE_DEPTH = 10
GRIDS = {20: (10, 20), 50: (10, 25, 50), 100: (10, 25, 50, 100)}
ANCHORS = {"static 10+10": 0.865, "per-query oracle B=20": 0.914}


def rank_array(runs: dict[str, dict[str, list[str]]], qids: list[str], rel: dict[str, list[str]],
               r_max: int) -> np.ndarray:
    """``(Q, r_max, K)`` 1-based rank of each relevant document in each arm's list (``inf``: absent or padding)."""
    out = np.full((len(qids), r_max, len(runs)), np.inf)
    for k, run in enumerate(runs.values()):
        for i, q in enumerate(qids):
            pos = {d: j + 1 for j, d in enumerate(run[q])}
            for r, d in enumerate(rel[q]):
                out[i, r, k] = pos.get(d, np.inf)
    return out


def contexts(emb: dict[str, np.ndarray], texts: dict[str, list[str]], dim: int) -> tuple[dict, dict, list[str]]:
    """Contexts per split with a whitened PCA fitted on ``train`` only; also returns the PCA parameters."""
    from sklearn.decomposition import PCA

    pca = PCA(dim, whiten=True, random_state=0).fit(emb["train"])
    out = {}
    for s in emb:
        words = np.array([len(t.split()) for t in texts[s]], float)
        digit = np.array([any(c.isdigit() for c in t) for t in texts[s]], float)
        out[s] = np.column_stack([np.ones(len(words)), words / 10, digit, pca.transform(emb[s])])
    names = ["bias", "words/10", "has_digit"] + [f"pca_{i + 1}" for i in range(dim)]
    params = {"pca_mean": pca.mean_, "pca_components": pca.components_,
              "pca_scale": np.sqrt(pca.explained_variance_), "pca_explained_ratio": pca.explained_variance_ratio_}
    return out, params, names


def query_types(ranks: np.ndarray, arms: list[str]) -> np.ndarray:
    """Which of bm25 / zero-shot dense alone has a relevant document in its top :data:`TYPE_DEPTH`."""
    b, d = (np.min(ranks[:, :, arms.index(a)], axis=1) <= TYPE_DEPTH for a in ("bm25", "dense"))
    return np.where(b & d, "both", np.where(b, "bm25-only", np.where(d, "dense-only", "neither")))


def retrieve(args, data: dict) -> tuple[dict, dict, list[str], dict]:
    """Top-k lists of every arm per split, the zero-shot query embeddings, the arm names and timings."""
    from ltrr.arms.lexical import BM25Arm
    from ltrr.encoders.joint import JointEncoder

    times, runs = {}, {s: {} for s in SPLITS}
    t0 = time.perf_counter()
    bm25 = BM25Arm(list(data["corpus"].values()), fields={"title": 1.0, "text": 1.0})
    for s in SPLITS:
        res = bm25.retrieve_batch([Query(q, t) for q, t in zip(data[s]["qids"], data[s]["texts"])], args.top_k)
        runs[s]["bm25"] = {q: [c.doc_id for c in r.candidates] for q, r in zip(data[s]["qids"], res)}
    times["bm25"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    zs = args.zero_shot_index
    zero = JointEncoder.from_pretrained("packaged:all-MiniLM-L6-v2")
    # the encoder job's zero-shot index, or built here when missing
    mat = cached_dense_corpus(zero, list(data["corpus"]), [d.full_text for d in data["corpus"].values()],
                              args.doc_max_length, 32, zs, progress=True)
    index = ExactIndex(json.loads((zs / "doc_ids.json").read_text()), dense=mat)
    emb = {}
    for s in SPLITS:
        emb[s] = encode_joint(zero, data[s]["texts"], args.query_max_length, 64, ("dense",))["dense"]
        run = index.search("dense", emb[s], data[s]["qids"], args.top_k)
        runs[s]["dense"] = {q: [d for d, _ in v] for q, v in run.items()}
    times["dense"] = time.perf_counter() - t0
    arms = ["bm25", "dense"]

    joint = args.trained / "models" / "joint" if args.trained else None
    if joint is not None and joint.exists():
        t0 = time.perf_counter()
        model = JointEncoder.from_pretrained(str(joint))
        doc_ids = json.loads((args.trained / "index" / "doc_ids.json").read_text())
        dense = ExactIndex(doc_ids, dense=np.load(args.trained / "index" / "dense.npy"))
        sparse = ExactIndex(doc_ids, sparse=sp.load_npz(args.trained / "index" / "sparse.npz").tocsr())
        for s in SPLITS:
            rep = encode_joint(model, data[s]["texts"], args.query_max_length, 64, ("dense", "sparse"))
            for name, idx, head in (("dense_ft", dense, "dense"), ("splade_ft", sparse, "sparse")):
                run = idx.search(head, rep[head], data[s]["qids"], args.top_k)
                runs[s][name] = {q: [d for d, _ in v] for q, v in run.items()}
        times["trained"] = time.perf_counter() - t0
        arms += ["dense_ft", "splade_ft"]
    elif args.trained:
        log.warning("%s missing: no dense_ft / splade_ft arms", joint)
    return runs, emb, arms, times


def report(npz: dict, arms: list[str]) -> None:
    """Print per-arm recall, pairwise static unions and best static / oracle per arm set and budget (test)."""
    ranks, n_rel = npz["test_ranks"], npz["test_n_rel"]

    def frac(hits: np.ndarray) -> np.ndarray:  # (Q, A, R) -> (Q, A)
        return hits.sum(-1) / n_rel[:, None]

    print(f"\nSciFact test: {len(n_rel)} queries, {n_rel.mean():.3f} relevant docs per query "
          f"(max {n_rel.max()}); hit = some relevant doc retrieved, frac = fraction of relevant docs (BEIR)")
    print("\n| arm | " + " | ".join(f"hit@{d}" for d in (10, 20, 50, 100)) + " | "
          + " | ".join(f"frac@{d}" for d in (10, 20, 50, 100)) + " | train hit@20 |")
    print("|---" * 10 + "|")
    depth = np.array([[10], [20], [50], [100]])
    for k, a in enumerate(arms):
        h = union_hits(ranks[..., k:k + 1], depth)
        tr = union_hits(npz["train_ranks"][..., k:k + 1], depth[1:2])[:, 0].any(-1).mean()
        print(f"| {a} | " + " | ".join(f"{v:.4f}" for v in h.any(-1).mean(0)) + " | "
              + " | ".join(f"{v:.4f}" for v in frac(h).mean(0)) + f" | {tr:.4f}{' *' if a.endswith('_ft') else ''} |")
    print("(* trained on most train queries: optimistic)")

    print("\n| static union 10+10 | hit | frac |\n|---|---|---|")
    for i, j in itertools.combinations(range(len(arms)), 2):
        h = union_hits(ranks[..., [i, j]], np.array([[10, 10]]))[:, 0]
        print(f"| {arms[i]}+{arms[j]} | {h.any(-1).mean():.4f} | {frac(h[:, None]).mean():.4f} |")

    sets = [list(p) for p in itertools.combinations(arms, 2)] + ([arms] if len(arms) > 2 else [])
    print("\n| arms | B | D | uniform hit | best static (hit) | hit | frac | oracle hit | oracle frac | A |")
    print("|---" * 10 + "|")
    for names in sets:
        cols = [arms.index(a) for a in names]
        for B, D in GRIDS.items():
            env = RankedListEnv(names, B, D, npz["test_contexts"], ranks[..., cols])
            static, value = env.best_static()
            f = frac(union_hits(ranks[..., cols], env.actions))
            share = [d for d in D if d <= B // len(names)]
            uni = env.recall((share[-1],) * len(names)) if share else float("nan")
            print(f"| {'+'.join(names)} | {B} | {','.join(map(str, D))} | {uni:.4f} | {static} | {value:.4f} | "
                  f"{f[:, env.index[static]].mean():.4f} | {env.oracle_recall():.4f} | {f.max(1).mean():.4f} | "
                  f"{len(env.actions)} |")
    print(f"\nissue anchors: {ANCHORS}")
    types, counts = np.unique(npz["test_types"], return_counts=True)
    print("test query types (top-%d of bm25 vs zero-shot dense): %s" % (
        TYPE_DEPTH, ", ".join(f"{t} {c}" for t, c in zip(types, counts))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--trained", type=Path, default=None, help="encoder run folder (models/joint, index/)")
    ap.add_argument("--zero-shot-index", type=Path, default=Path("runs/encoders_scifact/index_zero_shot"),
                    help="zero-shot MiniLM corpus matrix (the encoder job's, or built here when missing)")
    ap.add_argument("--doc-max-length", type=int, default=256,
                    help="document tokens when building the zero-shot index (encoders_beir's eval_doc_max_length)")
    ap.add_argument("--top-k", type=int, default=1000)
    ap.add_argument("--pca-dim", type=int, default=32)
    ap.add_argument("--query-max-length", type=int, default=64)
    ap.add_argument("--show", action="store_true", help="print the table of an existing --out file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    if args.show:
        z = np.load(args.out)
        report({k: z[k] for k in z.files}, [str(a) for a in z["arms"]])
        return
    t_start = time.perf_counter()
    data: dict = {}
    for s in SPLITS:
        ds = load_beir(args.data, s)
        qids = list(ds.qrels)
        rel = {q: sorted(d for d, g in ds.qrels[q].items() if g > 0) for q in qids}
        qids = [q for q in qids if rel[q]]
        data[s] = {"qids": qids, "texts": [ds.queries[q].text for q in qids], "rel": rel}
        data["corpus"] = ds.corpus
    runs, emb, arms, times = retrieve(args, data)
    ctx, pca, names = contexts(emb, {s: data[s]["texts"] for s in SPLITS}, args.pca_dim)
    r_max = max(len(data[s]["rel"][q]) for s in SPLITS for q in data[s]["qids"])
    seen: set[str] = set()
    if args.trained and (args.trained / "splits.json").exists():
        seen = set(json.loads((args.trained / "splits.json").read_text()).get("train", []))
    npz: dict = {"arms": np.array(arms), "context_names": np.array(names), **pca}
    for s in SPLITS:
        d = data[s]
        ranks = rank_array({a: runs[s][a] for a in arms}, d["qids"], d["rel"], r_max)
        npz.update({f"{s}_qids": np.array(d["qids"]), f"{s}_texts": np.array(d["texts"]),
                    f"{s}_ranks": ranks, f"{s}_n_rel": np.array([len(d["rel"][q]) for q in d["qids"]]),
                    f"{s}_rel_ids": np.array([d["rel"][q] + [""] * (r_max - len(d["rel"][q])) for q in d["qids"]]),
                    f"{s}_contexts": ctx[s].astype(np.float32), f"{s}_emb": emb[s].astype(np.float32),
                    f"{s}_types": query_types(ranks, arms),
                    f"{s}_seen_by_trained": np.array([q in seen for q in d["qids"]])})
    meta = {"data": str(args.data), "top_k": args.top_k, "arms": arms, "trained_run": str(args.trained),
            "zero_shot_index": str(args.zero_shot_index), "pca_dim": args.pca_dim, "pca_fit": "train split",
            "ranks": "1-based rank of each relevant doc (qrels grade > 0) per arm in its top_k list; inf if absent "
                     "or padding (see *_n_rel)",
            "types": f"which of bm25 / zero-shot dense alone has a relevant doc in its top {TYPE_DEPTH}",
            "caveat": "dense_ft and splade_ft were trained on SciFact train queries (train_seen_by_trained): "
                      "their train-split ranks are optimistic; never tune on test",
            "seconds": {k: round(v, 1) for k, v in times.items()}}
    npz["meta"] = np.array(json.dumps(meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **npz)
    log.info("wrote %s (%s); %.0f s in all, %s", args.out, ", ".join(f"{s}: {len(data[s]['qids'])} queries"
                                                                      for s in SPLITS),
             time.perf_counter() - t_start, meta["seconds"])
    report(npz, arms)


if __name__ == "__main__":
    main()
