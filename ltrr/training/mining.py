"""Hard negatives mined from our own first stage, with the positives and their near-duplicates dropped."""

from __future__ import annotations

import logging
import re
from typing import Callable, Mapping, Sequence

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+")


def _shingles(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Token-set Jaccard similarity (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def mine_negatives(rankings: Mapping[str, Sequence[str]], positives: Mapping[str, Sequence[str]],
                   text: Callable[[str], str], depth: int = 30, skip_top: int = 0,
                   dup_jaccard: float = 0.9) -> dict[str, list[str]]:
    """Negatives per query: the top of its first-stage ranking minus positives and near-duplicates of them.

    Parameters
    ----------
    rankings : mapping of query id to ranked document ids (e.g. a fusion of BM25 and dense)
    positives : mapping of query id to relevant document ids
    text : callable
        Document id to its text (for the near-duplicate test).
    depth : int
        Keep at most this many negatives per query.
    skip_top : int
        Ignore the first ``skip_top`` ranks (unjudged relevant documents crowd the very top; 0 keeps them).
    dup_jaccard : float
        Drop a candidate whose word-set Jaccard similarity with any positive reaches this value
        (duplicates of the positive under another id would otherwise be trained as negatives).

    Returns
    -------
    dict of query id to list of document ids, best-ranked first; queries without a ranking map to ``[]``.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    out: dict[str, list[str]] = {}
    dropped = 0
    cache: dict[str, frozenset[str]] = {}
    sh = lambda d: cache[d] if d in cache else cache.setdefault(d, _shingles(text(d)))  # noqa: E731
    for qid, pos in positives.items():
        pos_set = set(pos)
        pos_sh = [sh(p) for p in pos]
        negs: list[str] = []
        for d in list(rankings.get(qid, []))[skip_top:]:
            if d in pos_set:
                continue
            if any(jaccard(sh(d), p) >= dup_jaccard for p in pos_sh):
                dropped += 1
                continue
            negs.append(d)
            if len(negs) >= depth:
                break
        out[qid] = negs
    n = sum(map(len, out.values()))
    log.info("mined %d negatives for %d queries (%.1f each); %d near-duplicates of positives dropped",
             n, len(out), n / max(len(out), 1), dropped)
    return out
