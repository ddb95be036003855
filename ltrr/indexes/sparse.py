"""Inverted index over sparse (SPLADE-like) vectors: exact scipy scoring, or pyseismic-lsr for scale."""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)
BACKENDS = ("scipy", "seismic")


def top_k_dense(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-``k`` positive scores, best first, ties broken by lower column id.

    Parameters
    ----------
    scores : numpy.ndarray, shape ``(m, n)``
    k : int

    Returns
    -------
    top_scores : numpy.ndarray, shape ``(m, k)``, float32, 0 where padded
    ids : numpy.ndarray, shape ``(m, k)``, int64, -1 where a row has fewer than ``k`` positive scores
    """
    m, n = scores.shape
    kk = min(k, n)
    if kk <= 0:
        return np.zeros((m, k), np.float32), np.full((m, k), -1, np.int64)
    thr = -np.partition(-scores, kk - 1, axis=1)[:, kk - 1:kk]  # k-th largest per row, (m, 1)
    above = scores > thr
    ties = scores == thr
    room = kk - above.sum(axis=1, keepdims=True)
    keep = (above | (ties & (np.cumsum(ties, axis=1) <= room))) & (scores > 0)
    rows, cols = np.nonzero(keep)  # row-major, so columns ascend within a row
    pos = np.arange(len(rows)) - np.searchsorted(rows, rows)
    ids = np.full((m, kk), -1, np.int64)
    top = np.full((m, kk), -np.inf, np.float32)
    ids[rows, pos], top[rows, pos] = cols, scores[rows, cols]
    order = np.argsort(-top, axis=1, kind="stable")
    ids, top = np.take_along_axis(ids, order, 1), np.take_along_axis(top, order, 1)
    top[ids < 0] = 0.0
    pad = k - kk
    return (np.pad(top, ((0, 0), (0, pad))), np.pad(ids, ((0, 0), (0, pad)), constant_values=-1))


class SparseIndex:
    """Dot-product search over sparse document vectors.

    Parameters
    ----------
    backend : {"scipy", "seismic"}
        ``scipy``: exact, ``Q @ X.T`` against a term-major CSR copy, top-k by ``np.argpartition``.
        ``seismic``: approximate, pyseismic-lsr (optional dependency; only worth it at millions of documents).
    chunk_entries : int
        Upper bound on ``queries x docs`` scores held densely at once (scipy backend).
    seismic_build, seismic_search : dict, optional
        Keyword arguments of ``SeismicIndex.build_from_dataset`` and ``batch_search``
        (defaults ``n_postings=3500``, ``query_cut=10``, ``heap_factor=0.8``).
    """

    def __init__(self, backend: str = "scipy", chunk_entries: int = 1 << 22, seismic_build: dict | None = None,
                 seismic_search: dict | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"SparseIndex: backend must be one of {BACKENDS}, got {backend!r}")
        self.backend, self.chunk_entries = backend, int(chunk_entries)
        self.seismic_build = {"n_postings": 3500, "num_threads": 2, **(seismic_build or {})}
        self.seismic_search = {"query_cut": 10, "heap_factor": 0.8, "num_threads": 2, **(seismic_search or {})}
        self.docs: sp.csr_matrix | None = None
        self.term_major: sp.csr_matrix | None = None
        self._seismic = None

    def __len__(self) -> int:
        return 0 if self.docs is None else int(self.docs.shape[0])

    def add(self, doc_matrix: sp.spmatrix) -> None:
        """Index documents, csr ``(n, V)``; calling again appends (and rebuilds the index)."""
        x = sp.csr_matrix(doc_matrix, dtype=np.float32)
        if x.nnz and x.data.min() < 0:
            raise ValueError("SparseIndex.add: negative weights in doc_matrix")
        if self.docs is not None and x.shape[1] != self.docs.shape[1]:
            raise ValueError(f"SparseIndex.add: vocabulary {x.shape[1]} != indexed {self.docs.shape[1]}")
        self.docs = x if self.docs is None else sp.vstack([self.docs, x], format="csr")
        self.docs.sort_indices()
        if self.backend == "scipy":
            self.term_major = self.docs.T.tocsr()
        else:
            self._seismic = _build_seismic(self.docs, **self.seismic_build)
        log.info("sparse index (%s): %d docs, %.1f nnz/doc, %.1f MB", self.backend, len(self),
                 self.nnz_per_doc, self.nbytes / 2**20)

    @property
    def nnz_per_doc(self) -> float:
        """Mean number of nonzero weights per document."""
        return float(self.docs.nnz / max(len(self), 1)) if self.docs is not None else 0.0

    @property
    def nbytes(self) -> int:
        """Bytes held by the scipy matrices (the seismic index itself is not counted)."""
        mats = [m for m in (self.docs, self.term_major) if m is not None]
        return int(sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in mats))

    def search(self, query_matrix: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` documents by dot product.

        Parameters
        ----------
        query_matrix : scipy.sparse matrix, shape ``(m, V)``
        k : int

        Returns
        -------
        scores : numpy.ndarray, shape ``(m, k)``, float32; only positive scores, 0 where padded
        ids : numpy.ndarray, shape ``(m, k)``, int64 positions in insertion order; -1 where padded
        """
        if self.docs is None:
            raise RuntimeError("SparseIndex.search: the index is empty; call add() first")
        q = sp.csr_matrix(query_matrix, dtype=np.float32)
        if q.shape[1] != self.docs.shape[1]:
            raise ValueError(f"SparseIndex.search: query vocabulary {q.shape[1]} != indexed {self.docs.shape[1]}")
        if self.backend == "seismic":
            return _search_seismic(self._seismic, q, k, **self.seismic_search)
        n = len(self)
        step = max(1, self.chunk_entries // max(n, 1))
        parts = [top_k_dense((q[s:s + step] @ self.term_major).toarray(), k) for s in range(0, q.shape[0], step)]
        if not parts:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _import_seismic():
    try:
        import seismic
    except ImportError as exc:
        raise ImportError("SparseIndex(backend='seismic') needs the optional package pyseismic-lsr: "
                          "pip install pyseismic-lsr") from exc
    return seismic


def _build_seismic(docs: sp.csr_matrix, **kwargs):
    """A pyseismic-lsr index over the rows of ``docs``, ids ``"0" .. "n-1"``; empty rows are left out."""
    seismic = _import_seismic()
    ds = seismic.SeismicDataset()
    ds.add_documents_by_id([str(i) for i in range(docs.shape[0])], docs.indices.astype(np.int64),
                           docs.data.astype(np.float32), docs.indptr.astype(np.int64))
    return seismic.SeismicIndex.build_from_dataset(ds, **kwargs)


def _search_seismic(index, q: sp.csr_matrix, k: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Batch search; results padded like the exact backend."""
    seismic = _import_seismic()
    m = q.shape[0]
    scores, ids = np.zeros((m, k), np.float32), np.full((m, k), -1, np.int64)
    rows = [i for i in range(m) if q.indptr[i + 1] > q.indptr[i]]
    if not rows:
        return scores, ids
    st = seismic.get_seismic_string()
    comps = [q.indices[q.indptr[i]:q.indptr[i + 1]].astype(str).astype(st) for i in rows]
    vals = [q.data[q.indptr[i]:q.indptr[i + 1]].astype(np.float32) for i in rows]
    res = index.batch_search(np.array([str(i) for i in rows], dtype=st), comps, vals, k, **kwargs)
    for hits in res:  # a query with no hit may be missing from res, so rows come from the query ids
        hits = [(int(qid), s, int(d)) for qid, s, d in hits if s > 0][:k]
        if hits:
            i = hits[0][0]
            scores[i, :len(hits)], ids[i, :len(hits)] = [h[1] for h in hits], [h[2] for h in hits]
    return scores, ids
