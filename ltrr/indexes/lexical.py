"""BM25 over documents with bm25s (Lucene variant, English stop words, Snowball stemmer)."""

from __future__ import annotations

import logging
from typing import Sequence

import bm25s
import numpy as np
import Stemmer

from ltrr.utils.text import fold

log = logging.getLogger(__name__)


class BM25Index:
    """A bm25s index that returns only documents with a positive score.

    Parameters
    ----------
    k1, b : float
        BM25 parameters.
    stopwords : str
        bm25s stop-word list name.
    stemmer : str or None
        PyStemmer language, or ``None`` for no stemming.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, stopwords: str = "en", stemmer: str | None = "english") -> None:
        self.stopwords = stopwords
        self.stemmer = Stemmer.Stemmer(stemmer) if stemmer else None
        self.retriever = bm25s.BM25(method="lucene", k1=k1, b=b)
        self.n_docs = 0

    def _tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        return bm25s.tokenize([fold(t) for t in texts], stopwords=self.stopwords, stemmer=self.stemmer,
                              show_progress=False, return_ids=False)

    def index(self, texts: Sequence[str]) -> None:
        """Index texts; their positions are the ids :meth:`search` returns."""
        self.n_docs = len(texts)
        self.retriever.index(bm25s.tokenize([fold(t) for t in texts], stopwords=self.stopwords,
                                            stemmer=self.stemmer, show_progress=False), show_progress=False)
        log.info("bm25 index: %d docs", self.n_docs)

    def search(self, queries: Sequence[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-``k`` positions and scores per query (positive scores only, best first).

        Returns
        -------
        list of (ids, scores)
            One pair of 1-d arrays per query; lengths vary (no match gives empty arrays).
        """
        toks = self._tokenize(queries)
        k = min(k, self.n_docs)
        out: list[tuple[np.ndarray, np.ndarray]] = []
        if not queries or k == 0:
            return [(np.zeros(0, int), np.zeros(0))] * len(queries)
        ids, scores = self.retriever.retrieve(toks, k=k, show_progress=False, n_threads=1)
        for row_ids, row_scores in zip(ids, scores):
            keep = row_scores > 0
            out.append((row_ids[keep].astype(int), row_scores[keep].astype(float)))
        return out
