"""Token postings sorted by a numeric attribute: "items matching a query word, best by popularity/recency"."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from ltrr.utils.text import tokens


class SortedPostings:
    """Inverted lists from folded tokens to item positions, each list sorted by a key, best first.

    Parameters
    ----------
    texts : sequence of str, length ``n``
        Text of each item.
    keys : numpy.ndarray, shape ``(n,)``
        Sort key; higher comes first.
    stop : set of str
        Tokens not indexed.
    """

    def __init__(self, texts: Sequence[str], keys: np.ndarray, stop: set[str] | None = None) -> None:
        self.keys = np.asarray(keys, dtype=float)
        lists: dict[str, list[int]] = defaultdict(list)
        stop = stop or set()
        for i, text in enumerate(texts):
            for tok in set(tokens(text)) - stop:
                lists[tok].append(i)
        self.postings = {t: np.array(sorted(ix, key=lambda j: -self.keys[j])) for t, ix in lists.items()}
        self.global_order = np.argsort(-self.keys, kind="stable")

    def match(self, text: str, k: int, by_count: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Items sharing at least one token with ``text``, by number of matched tokens (when ``by_count``)
        then key.

        Returns
        -------
        ids : numpy.ndarray, shape ``(<= k,)``
        n_matched : numpy.ndarray, shape ``(<= k,)``
            How many query tokens each item matched.
        """
        hits: dict[int, int] = defaultdict(int)
        for tok in dict.fromkeys(tokens(text)):  # ordered: results must not depend on hash seeds
            for i in self.postings.get(tok, ())[: 50 * k]:
                hits[int(i)] += 1
        if not hits:
            return np.zeros(0, int), np.zeros(0, int)
        ids = np.fromiter(hits, dtype=int)
        cnt = np.fromiter(hits.values(), dtype=int)
        order = np.lexsort((ids, -self.keys[ids], -cnt if by_count else np.zeros_like(cnt)))[:k]
        return ids[order], cnt[order]
