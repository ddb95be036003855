"""Learned-sparse arm: documents encoded once into an inverted index of vocabulary-sized vectors."""

from __future__ import annotations

import logging
import time
from typing import Sequence

from ltrr.arms.base import Arm
from ltrr.encoders.sparse import SparseEncoder, prune_rows
from ltrr.indexes.sparse import SparseIndex
from ltrr.types import ArmResult, Doc, Query

log = logging.getLogger(__name__)


class SpladeArm(Arm):
    """Dot product between sparse encodings of query and ``title + text`` (SPLADE, or BM25 term weights).

    Parameters
    ----------
    docs : sequence of Doc
    encoder : SparseEncoder
        An unfitted encoder (``encoder.fitted`` false, e.g. :class:`~ltrr.encoders.bm25_weights.BM25TermWeights`) is
        fitted on this catalogue; a fitted one is used as it is.
    name : str
    doc_top_k : int, optional
        Keep only the largest weights of each document vector (static pruning), on top of any encoder pruning.
    backend : {"scipy", "seismic"}
        See :class:`~ltrr.indexes.sparse.SparseIndex`.
    batch_size : int
        Queries encoded and scored together in :meth:`retrieve_batch`.
    progress : bool
        Progress bar while encoding the catalogue.
    score_scale : float
        Scale of the feature squashing ``x / (x + s)``; about a typical top score (BM25-like sums over a
        handful of query terms land near 10-30).
    """

    score_scale = 10.0

    def __init__(self, docs: Sequence[Doc], encoder: SparseEncoder, name: str = "splade",
                 doc_top_k: int | None = None, backend: str = "scipy", batch_size: int = 256, progress: bool = True,
                 score_scale: float | None = None) -> None:
        super().__init__(docs, name)
        if batch_size < 1:
            raise ValueError(f"SpladeArm: batch_size must be >= 1, got {batch_size}")
        if doc_top_k is not None and doc_top_k < 1:
            raise ValueError(f"SpladeArm: doc_top_k must be >= 1 or None, got {doc_top_k}")
        if score_scale is not None:
            self.score_scale = float(score_scale)
        self.encoder, self.batch_size = encoder, int(batch_size)
        texts = [d.full_text for d in docs]
        t0 = time.perf_counter()
        x = encoder.encode_docs(texts, progress=progress) if encoder.fitted else \
            encoder.fit_encode_docs(texts, progress=progress)
        self.index = SparseIndex(backend)
        self.index.add(prune_rows(x, doc_top_k))
        self.build_s = time.perf_counter() - t0
        log.info("splade arm %s: %d docs, %.1f nnz/doc, built in %.1f s (%s)", name, len(docs),
                 self.index.nnz_per_doc, self.build_s, encoder.model_id)

    def _search(self, query: Query, k: int) -> ArmResult:
        return self._search_batch([query], k)[0]

    def _search_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        out: list[ArmResult] = []
        for s in range(0, len(queries), self.batch_size):
            chunk = queries[s:s + self.batch_size]
            scores, ids = self.index.search(self.encoder.encode_queries([q.text for q in chunk]), k)
            out += [self._result(row_ids[row_ids >= 0], row_sc[row_ids >= 0]) for row_ids, row_sc in zip(ids, scores)]
        return out
