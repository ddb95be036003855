"""Popularity arm: the most popular items sharing a word with the query (global chart when none do)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ltrr.arms.base import STOPWORDS, Arm
from ltrr.indexes.attribute import SortedPostings
from ltrr.types import ArmResult, Doc, Query


class PopularityArm(Arm):
    """Ranks the items that share any word with the query by popularity alone (the "head" of the query).

    Parameters
    ----------
    docs : sequence of Doc
        Each needs ``metadata["popularity"]`` (missing counts as 0).
    name : str
    fallback_global : bool
        Return the global chart when no item matches a query word.
    """

    score_scale = 1.0

    def __init__(self, docs: Sequence[Doc], name: str = "popularity", fallback_global: bool = True) -> None:
        super().__init__(docs, name)
        pop = np.array([float(d.metadata.get("popularity", 0.0) or 0.0) for d in docs])
        self.pop = pop / max(pop.max(), 1e-9)
        self.postings = SortedPostings([d.full_text for d in docs], self.pop, set(STOPWORDS))
        self.fallback_global = fallback_global

    def _search(self, query: Query, k: int) -> ArmResult:
        ids, matched = self.postings.match(query.text, k, by_count=False)
        if len(ids) == 0 and self.fallback_global:
            ids = self.postings.global_order[:k]
        return self._result(ids, self.pop[ids])
