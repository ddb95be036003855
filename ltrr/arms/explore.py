"""Exploration arm for fresh content: new items matching the query first, then random new items."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ltrr.arms.base import STOPWORDS, Arm
from ltrr.indexes.attribute import SortedPostings
from ltrr.types import ArmResult, Doc, Query
from ltrr.utils.seed import make_rng


class FreshArm(Arm):
    """Surfaces items added in the last ``fresh_days`` days, which no click history favours yet.

    Items sharing a word with the query come first (most recent first); the rest of the list is a random
    sample of other fresh items drawn from the arm's own generator, so new content gets exposure.

    Parameters
    ----------
    docs : sequence of Doc
        Each needs ``metadata["added_days_ago"]``.
    name : str
    fresh_days : int
        Age limit of a "fresh" item.
    seed : int
        Seed of the arm's generator.
    """

    static = False
    score_scale = 1.0

    def __init__(self, docs: Sequence[Doc], name: str = "fresh", fresh_days: int = 30, seed: int = 0) -> None:
        super().__init__(docs, name)
        age = np.array([float(d.metadata.get("added_days_ago", np.inf)) for d in docs])
        self.fresh = np.flatnonzero(age < fresh_days)
        if len(self.fresh) == 0:
            raise ValueError(f"arm {name!r}: no item is younger than {fresh_days} days")
        self.recency = 1.0 - age[self.fresh] / fresh_days
        self.postings = SortedPostings([docs[i].full_text for i in self.fresh], self.recency, set(STOPWORDS))
        self.rng = make_rng(seed, name)

    def _search(self, query: Query, k: int) -> ArmResult:
        local, matched = self.postings.match(query.text, k)
        rest = np.setdiff1d(np.arange(len(self.fresh)), local)
        fill = self.rng.permutation(rest)[: max(k - len(local), 0)]
        order = np.concatenate([local, fill]).astype(int)
        scores = np.concatenate([matched + self.recency[local], 0.5 / (1.0 + np.arange(len(fill)))])
        return self._result(self.fresh[order], scores)

    def reset(self, seed: int) -> None:
        self.rng = make_rng(seed, self.name)
