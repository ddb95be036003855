"""BM25 full-text arm."""

from __future__ import annotations

from typing import Sequence

from ltrr.arms.base import Arm
from ltrr.indexes.lexical import BM25Index
from ltrr.types import ArmResult, Doc, Query


class BM25Arm(Arm):
    """BM25 over each document's title and text (bm25s, Lucene scoring, stemmed).

    Parameters
    ----------
    docs : sequence of Doc
    name : str
    k1, b : float
        BM25 parameters.
    """

    score_scale = 10.0

    def __init__(self, docs: Sequence[Doc], name: str = "bm25", k1: float = 1.2, b: float = 0.75) -> None:
        super().__init__(docs, name)
        self.index = BM25Index(k1=k1, b=b)
        self.index.index([d.full_text for d in docs])

    def _search(self, query: Query, k: int) -> ArmResult:
        return self._search_batch([query], k)[0]

    def _search_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        return [self._result(ids, sc) for ids, sc in self.index.search([q.text for q in queries], k)]
