"""Peer systems run in the same process as ltrr's arms: bm25s for BM25, sentence-transformers for dense."""

from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np

from ltrr.types import Doc

log = logging.getLogger(__name__)


class Bm25sPeer:
    """bm25s as its README uses it: Lucene BM25 (k1 = 1.5, b = 0.75), English stop words, Snowball stemmer."""

    name = "peer:bm25s"

    def __init__(self, docs: Sequence[Doc], k1: float = 1.5, b: float = 0.75) -> None:
        import bm25s
        import Stemmer

        self.bm25s, self.stemmer = bm25s, Stemmer.Stemmer("english")
        self.ids = [d.id for d in docs]
        t0 = time.perf_counter()
        toks = bm25s.tokenize([d.full_text for d in docs], stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.model = bm25s.BM25(method="lucene", k1=k1, b=b)
        self.model.index(toks, show_progress=False)
        self.build_s = time.perf_counter() - t0

    def search_batch(self, texts: Sequence[str], k: int) -> list[list[str]]:
        """Ranked document ids per query (zero-score hits dropped)."""
        toks = self.bm25s.tokenize(list(texts), stopwords="en", stemmer=self.stemmer, show_progress=False)
        ids, scores = self.model.retrieve(toks, k=min(k, len(self.ids)), show_progress=False, n_threads=1)
        return [[self.ids[i] for i, s in zip(row, sc) if s > 0] for row, sc in zip(ids, scores)]


class SentenceTransformersPeer:
    """sentence-transformers with the same weights, max length and batch size; exact inner-product search."""

    name = "peer:sentence-transformers"

    def __init__(self, docs: Sequence[Doc], model_path: str, max_length: int, batch_size: int) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device="cpu")
        self.model.max_seq_length = max_length
        self.batch_size = batch_size
        self.ids = [d.id for d in docs]
        t0 = time.perf_counter()
        emb = self.encode([d.full_text for d in docs], progress=True)
        self.build_s = time.perf_counter() - t0
        self.index = faiss.IndexFlatIP(emb.shape[1])
        self.index.add(emb)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-norm float32 embeddings, shape ``(n, dim)``."""
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=progress).astype(np.float32)

    def search_batch(self, texts: Sequence[str], k: int) -> list[list[str]]:
        """Ranked document ids per query."""
        _, ids = self.index.search(self.encode(texts), min(k, len(self.ids)))
        return [[self.ids[i] for i in row if i >= 0] for row in ids]
