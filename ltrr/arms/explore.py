"""Exploration arms: fresh items, the long tail, uniform random items.

Each arm owns a generator from :func:`ltrr.utils.seed.make_rng` (``seed``, arm name), reseeded by ``reset(seed)``,
so the same seed gives the same lists and two arms seeded alike still draw independent streams.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import numpy as np

from ltrr.arms.base import STOPWORDS, Arm
from ltrr.indexes.attribute import SortedPostings
from ltrr.types import ArmResult, Doc, Query
from ltrr.utils.seed import make_rng
from ltrr.utils.text import tokens


def _release_date(doc: Doc) -> dt.date | None:
    """``metadata["release_date"]`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a partial date counts from the first
    day of its year or month, so it is never fresher than it may be) or else ``metadata["year"]``."""
    raw = doc.metadata.get("release_date") or doc.metadata.get("year")
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    try:
        parts = [int(p) for p in text.split("-")]
        if not 1 <= len(parts) <= 3:
            raise ValueError
        return dt.date(*(parts + [1] * (3 - len(parts))))
    except (ValueError, TypeError):
        field = "release_date" if doc.metadata.get("release_date") else "year"
        raise ValueError(f"doc {doc.id!r}: metadata {field}={raw!r} is not YYYY, YYYY-MM or YYYY-MM-DD") from None


def item_ages(docs: Sequence[Doc]) -> np.ndarray:
    """Age of every item in days (``inf`` when unknown).

    ``metadata["added_days_ago"]`` when any item has it (the music world); otherwise the release date (see
    :func:`_release_date`) relative to the newest release date of the catalogue (e.g. the Spotify catalogue).

    Returns
    -------
    numpy.ndarray, shape ``(n_docs,)``
    """
    if any("added_days_ago" in d.metadata for d in docs):
        return np.array([float(d.metadata.get("added_days_ago", np.inf)) for d in docs])
    dates = [_release_date(d) for d in docs]
    known = [x.toordinal() for x in dates if x is not None]
    if not known:
        raise ValueError("no item has metadata added_days_ago, release_date or year")
    newest = max(known)
    return np.array([float(newest - x.toordinal()) if x is not None else np.inf for x in dates])


class FreshArm(Arm):
    """Surfaces items younger than ``fresh_days``, which no click history favours yet.

    Items sharing a word with the query come first (most matched words, then most recent); the rest of the list
    is a random sample of other fresh items, so new content gets exposure.

    Parameters
    ----------
    docs : sequence of Doc
        Ages from :func:`item_ages` (``added_days_ago``, else ``release_date`` / ``year``).
    name : str
    fresh_days : float
        Age limit of a "fresh" item.
    seed : int
    """

    static = False
    score_scale = 1.0

    def __init__(self, docs: Sequence[Doc], name: str = "fresh", fresh_days: float = 30, seed: int = 0) -> None:
        super().__init__(docs, name)
        age = item_ages(docs)
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


class LongTailArm(Arm):
    """Low-popularity items: those sharing words with the query first, then random tail items.

    The tail is the ``tail_share`` least popular part of the catalogue (``metadata["popularity"]``, missing = 0).
    Matching tail items are ordered by the number of query words matched, then by ``order``: ``"inverse_popularity"``
    (least popular first) or ``"random"`` (a fresh random order for every call).

    Parameters
    ----------
    docs : sequence of Doc
    name : str
    tail_share : float
        Share of the catalogue, in ``(0, 1]``, counted as tail.
    order : {"inverse_popularity", "random"}
    seed : int
    """

    static = False
    score_scale = 1.0

    def __init__(self, docs: Sequence[Doc], name: str = "longtail", tail_share: float = 0.5,
                 order: str = "inverse_popularity", seed: int = 0) -> None:
        super().__init__(docs, name)
        if not 0 < tail_share <= 1:
            raise ValueError(f"arm {name!r}: tail_share must be in (0, 1], got {tail_share}")
        if order not in ("inverse_popularity", "random"):
            raise ValueError(f"arm {name!r}: order must be 'inverse_popularity' or 'random', got {order!r}")
        pop = np.array([float(d.metadata.get("popularity", 0.0) or 0.0) for d in docs])
        n_tail = max(1, int(round(tail_share * len(docs))))
        self.tail = np.argsort(pop, kind="stable")[:n_tail]
        self.pop = pop[self.tail] / max(pop.max(), 1e-9)          # (n_tail,) in [0, 1]
        self.postings = SortedPostings([docs[i].full_text for i in self.tail], -self.pop, set(STOPWORDS)).postings
        self.order, self.rng = order, make_rng(seed, name)

    def _search(self, query: Query, k: int) -> ArmResult:
        lists = [self.postings[t] for t in dict.fromkeys(tokens(query.text)) if t in self.postings]
        ids, cnt = np.unique(np.concatenate(lists), return_counts=True) if lists else (np.zeros(0, int),) * 2
        tie = self.pop[ids] if self.order == "inverse_popularity" else self.rng.random(len(ids))
        best = np.lexsort((ids, tie, -cnt))[:k]
        local, scores = ids[best], cnt[best] + 1.0 - tie[best]
        n_fill = min(k - len(local), len(self.tail) - len(local))
        if n_fill > 0:
            draw = self.rng.choice(len(self.tail), size=min(len(self.tail), n_fill + len(local)), replace=False)
            fill = draw[~np.isin(draw, local)][:n_fill]
            local = np.concatenate([local, fill]).astype(int)
            scores = np.concatenate([scores, 0.5 / (1.0 + np.arange(len(fill)))])
        return self._result(self.tail[local], scores)

    def reset(self, seed: int) -> None:
        self.rng = make_rng(seed, self.name)


class RandomArm(Arm):
    """``k`` catalogue items drawn uniformly without replacement (a pure exploration baseline).

    Parameters
    ----------
    docs : sequence of Doc
    name : str
    seed : int
    """

    static = False
    score_scale = 1.0

    def __init__(self, docs: Sequence[Doc], name: str = "random", seed: int = 0) -> None:
        super().__init__(docs, name)
        self.rng = make_rng(seed, name)

    def _search(self, query: Query, k: int) -> ArmResult:
        pick = self.rng.choice(len(self.doc_ids), size=min(k, len(self.doc_ids)), replace=False)
        return self._result(pick, np.full(len(pick), 0.5))

    def reset(self, seed: int) -> None:
        self.rng = make_rng(seed, self.name)
