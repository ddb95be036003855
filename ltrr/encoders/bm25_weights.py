"""BM25 as a sparse encoder over the BERT WordPiece vocabulary: what the SPLADE arm serves before a trained SPLADE exists."""

from __future__ import annotations

import itertools
import logging
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from transformers import AutoTokenizer

from ltrr.encoders.dense import PACKAGED, resolve_model_path
from ltrr.encoders.sparse import SparseEncoder

log = logging.getLogger(__name__)


class BM25TermWeights(SparseEncoder):
    """BM25 as a "SPLADE-shaped" encoder over the BERT WordPiece vocabulary (no neural network).

    A document weight is ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))`` with Lucene's
    ``idf(t) = log(1 + (N - df + 0.5) / (df + 0.5))``; a query weight is the count of the wordpiece (or 1), so the dot
    product is BM25. Corpus statistics come from :meth:`fit`.

    Parameters
    ----------
    k1, b : float
        BM25 parameters.
    query_weight : {"count", "binary"}
    tokenizer : str
        Tokenizer name or folder (the packaged all-MiniLM-L6-v2 one by default, i.e. bert-base-uncased WordPiece).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, query_weight: str = "count",
                 tokenizer: str = PACKAGED) -> None:
        if query_weight not in ("count", "binary"):
            raise ValueError(f"BM25TermWeights: query_weight must be 'count' or 'binary', got {query_weight!r}")
        self.k1, self.b, self.query_weight, self.tokenizer_name = float(k1), float(b), query_weight, tokenizer
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(tokenizer))
        self.tokenizer.model_max_length = 1 << 30  # whole documents, no truncation warning
        self.vocab_size = int(self.tokenizer.vocab_size)
        self.idf: np.ndarray | None = None
        self.avg_len = 0.0
        self.n_docs = 0

    @property
    def model_id(self) -> str:
        return (f"bm25-wordpiece:{self.tokenizer_name}|k1{self.k1}|b{self.b}|q-{self.query_weight}"
                f"|n{self.n_docs}|avg{self.avg_len:.3f}")

    @property
    def fitted(self) -> bool:
        return self.idf is not None

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Wordpiece counts, csr ``(n, vocab_size)`` float32 (no special tokens)."""
        if not len(texts):
            return sp.csr_matrix((0, self.vocab_size), dtype=np.float32)
        ids = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False,
                             return_token_type_ids=False)["input_ids"]
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in ids], out=indptr[1:])
        cols = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(indptr[-1]))
        out = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), cols, indptr), shape=(len(ids), self.vocab_size))
        out.sum_duplicates()
        return out

    def fit(self, doc_texts: Sequence[str]) -> "BM25TermWeights":
        """Document frequencies and average length (in wordpieces) of ``doc_texts``."""
        self._fit_counts(self.counts(doc_texts))
        return self

    def fit_encode_docs(self, doc_texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        """:meth:`fit` and :meth:`encode_docs` with one tokenization pass."""
        tf = self.counts(doc_texts)
        self._fit_counts(tf)
        return self._weigh(tf)

    def _fit_counts(self, tf: sp.csr_matrix) -> None:
        if tf.shape[0] == 0:
            raise ValueError("BM25TermWeights.fit: no documents")
        df = np.bincount(tf.indices, minlength=self.vocab_size).astype(np.float64)
        self.n_docs = tf.shape[0]
        self.idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.avg_len = max(float(tf.sum()) / self.n_docs, 1e-9)
        log.info("bm25 term weights fitted on %d docs (avg %.1f wordpieces)", self.n_docs, self.avg_len)

    def encode_docs(self, texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        if self.idf is None:
            raise RuntimeError("BM25TermWeights: call fit(doc_texts) before encoding")
        return self._weigh(self.counts(texts))

    def _weigh(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """Counts to BM25 document weights, in place."""
        lens = np.repeat(np.asarray(x.sum(axis=1)).ravel(), np.diff(x.indptr))
        tf = x.data
        x.data = (self.idf[x.indices] * tf * (self.k1 + 1)
                  / (tf + self.k1 * (1 - self.b + self.b * lens / self.avg_len))).astype(np.float32)
        x.eliminate_zeros()
        return x

    def encode_queries(self, texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        x = self.counts(texts)
        if self.query_weight == "binary":
            x.data[:] = 1.0
        return x
