"""Exact first-stage retrieval for training and evaluation: encode a corpus with the joint model, search, fuse.

Training needs rankings in three places (negative mining, dev metrics during training, the benchmark), always over
a corpus of thousands to a few hundred thousand documents, so exact search (dense matmul, sparse CSR products) is
used instead of an ANN index. Runs are ``{query_id: [(doc_id, score), ...]}``, best first.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from ltrr.encoders.sparse import dense_to_csr
from ltrr.indexes.faiss_index import FaissIndex
from ltrr.indexes.sparse import SparseIndex
from ltrr.rerank.cross import interpolate_scores

log = logging.getLogger(__name__)
Run = dict[str, list[tuple[str, float]]]


@torch.inference_mode()
def encode_joint(model, texts: Sequence[str], max_length: int, batch_size: int = 32,
                 heads: Sequence[str] = ("dense", "sparse"), top_k: int | None = None,
                 progress: bool = False, desc: str = "encode") -> dict[str, np.ndarray | sp.csr_matrix]:
    """Encode texts with a :class:`~ltrr.encoders.joint.JointEncoder`, longest first, in input order.

    Parameters
    ----------
    model : JointEncoder
    texts : sequence of str, length ``n``
    max_length : int
    batch_size : int
    heads : sequence of {"dense", "sparse"}
    top_k : int, optional
        Keep only the largest ``top_k`` sparse weights per text.
    progress : bool
    desc : str

    Returns
    -------
    dict
        ``"dense"``: float32 ``(n, H)``; ``"sparse"``: csr ``(n, V)`` float32.
    """
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    lengths = [len(t) for t in texts]
    order = np.argsort([-x for x in lengths], kind="stable")
    dense_parts, sparse_parts, rows = [], [], []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    for s in tqdm(range(0, len(texts), batch_size), desc=desc, disable=not progress, leave=False):
        idx = order[s:s + batch_size]
        batch = model.tokenize([texts[i] for i in idx], max_length).to(device)
        with autocast:
            out = model(**batch, heads=tuple(heads))
        if "dense" in out:
            dense_parts.append(out["dense"].float().cpu().numpy())
        if "sparse" in out:
            sparse_parts.append(dense_to_csr(out["sparse"].float(), top_k))
        rows.append(idx)
    model.train(was_training)
    inv = np.empty(len(texts), dtype=np.int64)
    inv[np.concatenate(rows) if rows else np.zeros(0, np.int64)] = np.arange(len(texts))
    res: dict = {}
    if "dense" in heads:
        res["dense"] = (np.concatenate(dense_parts)[inv] if dense_parts
                        else np.zeros((0, model.dim), np.float32))
    if "sparse" in heads:
        res["sparse"] = (sp.vstack(sparse_parts, format="csr")[inv] if sparse_parts
                         else sp.csr_matrix((0, model.vocab_size), dtype=np.float32))
    return res


def cached_dense_corpus(model, doc_ids: Sequence[str], texts: Sequence[str], max_length: int, batch_size: int,
                        cache: Path | None, progress: bool = False) -> np.ndarray:
    """The model's dense corpus matrix, read from ``cache/dense.npy`` when there, else encoded and saved there with
    ``cache/doc_ids.json`` (the encoder job's zero-shot index, also built by the SciFact replay script).

    Parameters
    ----------
    model : JointEncoder
    doc_ids, texts : sequence of str, length ``n``
    max_length, batch_size : int
    cache : pathlib.Path, optional
        Folder of the matrix (``None``: encode, keep nothing).
    progress : bool

    Returns
    -------
    numpy.ndarray, shape ``(n, dim)``
        In the order of ``doc_ids`` when encoded; a cached matrix keeps the order of its ``doc_ids.json``.
    """
    if cache is not None and (cache / "dense.npy").exists():
        return np.load(cache / "dense.npy")
    log.info("encoding %d documents (dense, max %d tokens)%s", len(texts), max_length,
             f" into {cache}" if cache is not None else "")
    emb = encode_joint(model, texts, max_length, batch_size, ("dense",), progress=progress,
                       desc="encode corpus (zero-shot)")["dense"]
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / "dense.npy", emb)
        (cache / "doc_ids.json").write_text(json.dumps(list(doc_ids)))
    return emb


@dataclass
class ExactIndex:
    """Dense and/or sparse document representations, searched exactly (faiss ``Flat``, scipy ``SparseIndex``).

    Attributes
    ----------
    doc_ids : list of str, length ``n``
    dense : numpy.ndarray, shape ``(n, H)``, optional
    sparse : scipy.sparse.csr_matrix, shape ``(n, V)``, optional
    """

    doc_ids: list[str]
    dense: np.ndarray | None = None
    sparse: sp.csr_matrix | None = None

    def __post_init__(self) -> None:
        self._indexes: dict = {}
        if self.dense is not None:
            self._indexes["dense"] = FaissIndex(self.dense.shape[1], "Flat")
            self._indexes["dense"].add(self.dense)
        if self.sparse is not None:
            self._indexes["sparse"] = SparseIndex()
            self._indexes["sparse"].add(self.sparse)

    def search(self, head: str, queries: np.ndarray | sp.csr_matrix, query_ids: Sequence[str], k: int) -> Run:
        """Top-``k`` documents per query for ``head`` in {"dense", "sparse"} (positive scores only for sparse)."""
        if head not in ("dense", "sparse"):
            raise ValueError(f"head must be 'dense' or 'sparse', got {head!r}")
        scores, rows = self._indexes[head].search(queries, k)
        return {qid: [(self.doc_ids[i], float(v)) for i, v in zip(rows[j], scores[j]) if i >= 0]
                for j, qid in enumerate(query_ids)}

    def nbytes(self) -> dict[str, int]:
        """Index bytes per head (float32 dense matrix; CSR data + indices + indptr)."""
        out = {}
        if self.dense is not None:
            out["dense"] = int(self.dense.nbytes)
        if self.sparse is not None:
            out["sparse"] = int(self.sparse.data.nbytes + self.sparse.indices.nbytes + self.sparse.indptr.nbytes)
        return out


def fuse_runs(runs: Mapping[str, Run], weights: Mapping[str, float], k: int = 100) -> Run:
    """Weighted sum of per-query min-max normalised scores over the union of the lists.

    Parameters
    ----------
    runs : mapping of system name to Run
    weights : mapping of system name to float
    k : int
        Length of the fused lists.
    """
    fused: Run = {}
    qids = set().union(*(r.keys() for r in runs.values()))
    for q in qids:
        acc: dict[str, float] = {}
        for name, run in runs.items():
            lst = run.get(q, [])
            if not lst or weights.get(name, 0.0) == 0.0:
                continue
            vals = np.array([s for _, s in lst])
            lo, span = vals.min(), max(vals.max() - vals.min(), 1e-9)
            for d, s in lst:
                acc[d] = acc.get(d, 0.0) + weights[name] * (s - lo) / span
        fused[q] = sorted(acc.items(), key=lambda x: (-x[1], x[0]))[:k]
    return fused


def ids(run: Run) -> dict[str, list[str]]:
    """Strip scores: ``{query_id: [doc_id, ...]}`` for :func:`ltrr.eval.offline.run_metrics`."""
    return {q: [d for d, _ in lst] for q, lst in run.items()}


def tune_fusion_weight(dense: Run, sparse: Run, qrels: Mapping[str, Mapping[str, int]], metrics: Callable,
                       grid: Sequence[float] = tuple(np.round(np.linspace(0, 1, 11), 2))) -> tuple[float, float]:
    """Sparse share ``w`` in ``(1 - w) * dense + w * sparse`` maximising nDCG@10 on the given (dev) qrels.

    ``metrics(runs, qrels) -> {"ndcg@10": ...}`` is injected by the caller (e.g. from ``ltrr.eval.offline``).

    Returns
    -------
    (best weight, its nDCG@10)
    """
    best = (0.5, -1.0)
    for w in grid:
        fused = fuse_runs({"dense": dense, "sparse": sparse}, {"dense": 1 - w, "sparse": w})
        score = metrics(ids(fused), qrels)["ndcg@10"]
        if score > best[1] + 1e-12:
            best = (float(w), score)
    return best


def rerank_run(first: Run, ce: Mapping[str, Sequence[float]], first_stage_weight: float = 0.0) -> dict[str, list[str]]:
    """Each query's head reordered by cross-encoder score, interpolated with the first stage's.

    Parameters
    ----------
    first : Run
        The first stage, best first.
    ce : mapping of query id to scores, shape (n_q,)
        Cross-encoder scores of ``first[q][:n_q]``; the candidates after ``n_q`` keep their order after the head.
    first_stage_weight : float
        See :func:`ltrr.rerank.cross.interpolate_scores`.

    Returns
    -------
    dict of query id to list of doc id
    """
    out = {}
    for q, lst in first.items():
        s = np.asarray(ce.get(q, []), dtype=np.float64)
        head, tail = lst[: len(s)], lst[len(s):]
        mixed = interpolate_scores(s, np.array([v for _, v in head]), first_stage_weight)
        out[q] = [head[i][0] for i in np.argsort(-mixed, kind="stable")] + [d for d, _ in tail]
    return out


def tune_interpolation(first: Run, ce: Mapping[str, Sequence[float]], qrels: Mapping[str, Mapping[str, int]],
                       metrics: Callable, grid: Sequence[float] = tuple(np.round(np.linspace(0, 1, 11), 2))
                       ) -> tuple[float, float]:
    """First-stage weight of :func:`rerank_run` maximising nDCG@10 on the given (dev) qrels.

    Returns
    -------
    (best weight, its nDCG@10); ties go to the smaller weight (the cross-encoder alone first).
    """
    best = (0.0, -1.0)
    for w in grid:
        score = metrics(rerank_run(first, ce, float(w)), qrels)["ndcg@10"]
        if score > best[1] + 1e-12:
            best = (float(w), score)
    return best
