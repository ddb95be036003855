"""Dev-split retrieval metrics computed during training (never on test queries).

The dev corpus is the dev queries' positives, their mined hard negatives and a seeded random sample of the
corpus, so an evaluation costs seconds, not a full re-encoding of the corpus.
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping, Sequence

import numpy as np

MetricFn = Callable[[Mapping[str, Sequence[str]], Mapping[str, Mapping[str, int]]], dict[str, float]]

from ltrr.training.retrieval import ExactIndex, encode_joint, fuse_runs, ids

log = logging.getLogger(__name__)


def dev_corpus(all_ids: Sequence[str], qrels: Mapping[str, Mapping[str, int]],
               negatives: Mapping[str, Sequence[str]] | None, n_random: int, seed: int = 0) -> list[str]:
    """Positives of the dev queries, their hard negatives, and ``n_random`` other corpus documents (seeded)."""
    keep = dict.fromkeys(d for rel in qrels.values() for d in rel)
    for q in qrels:
        keep.update(dict.fromkeys((negatives or {}).get(q, [])))
    rest = [d for d in all_ids if d not in keep]
    rng = np.random.default_rng(seed)
    extra = rng.choice(len(rest), size=min(n_random, len(rest)), replace=False) if rest else []
    keep.update(dict.fromkeys(rest[i] for i in sorted(extra)))
    return list(keep)


class JointDevEvaluator:
    """nDCG@10 / recall@100 of the dense head, the sparse head and their fusion on a dev split.

    Parameters
    ----------
    queries : mapping of query id to text
    qrels : mapping of query id to {doc id: grade}
    doc_ids : sequence of str
        The dev corpus.
    text : callable
        Document id to text.
    query_max_length, doc_max_length, batch_size : int
    metrics : callable
        ``metrics(runs, qrels) -> {"ndcg@10": ..., "recall@100": ...}`` averaged over queries (injected by the
        composition root, e.g. ``ltrr.eval.offline``).
    fusion_weight : float
        Sparse share of the fused score.
    """

    def __init__(self, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]], doc_ids: Sequence[str],
                 text: Callable[[str], str], query_max_length: int, doc_max_length: int, metrics: MetricFn,
                 batch_size: int = 32, fusion_weight: float = 0.5) -> None:
        self.metrics = metrics
        self.qids = list(qrels)
        self.queries, self.qrels, self.doc_ids = [queries[q] for q in self.qids], qrels, list(doc_ids)
        self.doc_texts = [text(d) for d in self.doc_ids]
        self.qlen, self.dlen, self.batch_size, self.w = query_max_length, doc_max_length, batch_size, fusion_weight

    def __call__(self, model, heads: Sequence[str] = ("dense", "sparse")) -> dict[str, float]:
        """Metrics keyed ``{head}/ndcg@10``, ``{head}/recall@100``, plus sparse ``l0_q``/``l0_d`` and index MB."""
        docs = encode_joint(model, self.doc_texts, self.dlen, self.batch_size, heads, desc="dev docs")
        qs = encode_joint(model, self.queries, self.qlen, self.batch_size, heads, desc="dev queries")
        index = ExactIndex(self.doc_ids, docs.get("dense"), docs.get("sparse"))
        runs = {h: index.search(h, qs[h], self.qids, 100) for h in heads}
        if len(heads) == 2:
            runs["fusion"] = fuse_runs(runs, {"dense": 1 - self.w, "sparse": self.w})
        out: dict[str, float] = {}
        for name, run in runs.items():
            m = self.metrics(ids(run), self.qrels)
            out[f"{name}/ndcg@10"], out[f"{name}/recall@100"] = m["ndcg@10"], m["recall@100"]
        if "sparse" in heads:
            out["sparse/l0_d"] = float(docs["sparse"].getnnz(axis=1).mean()) if docs["sparse"].shape[0] else 0.0
            out["sparse/l0_q"] = float(qs["sparse"].getnnz(axis=1).mean()) if qs["sparse"].shape[0] else 0.0
        for h, b in index.nbytes().items():
            out[f"{h}/index_mb_per_1k_docs"] = b / 1e6 * 1000 / max(len(self.doc_ids), 1)
        return out


class RerankDevEvaluator:
    """nDCG@10 of a cross-encoder reranking each dev query's first-stage top ``top_n``.

    Parameters
    ----------
    queries : mapping of query id to text
    qrels : mapping of query id to {doc id: grade}
    candidates : mapping of query id to ranked doc ids (the first stage)
    text : callable
    metrics : callable
        As for :class:`JointDevEvaluator`.
    top_n : int
    """

    def __init__(self, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
                 candidates: Mapping[str, Sequence[str]], text: Callable[[str], str], metrics: MetricFn,
                 top_n: int = 20) -> None:
        self.metrics = metrics
        self.queries, self.qrels, self.text, self.top_n = queries, qrels, text, top_n
        self.cands = {q: list(candidates.get(q, []))[:top_n] for q in qrels}

    def first_stage(self) -> float:
        """nDCG@10 of the candidates as given (what reranking must beat)."""
        return self.metrics(self.cands, self.qrels)["ndcg@10"]

    def __call__(self, model) -> dict[str, float]:
        was = model.training
        model.eval()
        run = {}
        for q, docs in self.cands.items():
            if not docs:
                run[q] = []
                continue
            s = model.score(self.queries[q], [self.text(d) for d in docs])
            run[q] = [docs[i] for i in np.argsort(-s, kind="stable")]
        model.train(was)
        return {"rerank/ndcg@10": self.metrics(run, self.qrels)["ndcg@10"],
                "first_stage/ndcg@10": self.first_stage()}
