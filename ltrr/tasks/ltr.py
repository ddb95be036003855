"""Learning to rank on the music world: candidate pools with features and true grades, rankers trained from
simulated click logs, and their nDCG@10 (used by ``scripts/bench/ltr.py`` and its tests)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ltrr.arms.base import Arm
from ltrr.data.music.queries import SimQuery
from ltrr.eval.metrics import ndcg_at_10
from ltrr.rerank.features import RankFeaturizer
from ltrr.rerank.fusion import RRFFusion
from ltrr.rerank.ranker import Ranker

log = logging.getLogger(__name__)


@dataclass
class CandidatePool:
    """Queries with their candidate unions (fused order), features and true grades.

    Attributes
    ----------
    queries : list of SimQuery
    ids : list of list of str
        Each query's union, in fused (logging) order.
    features : list of numpy.ndarray
        ``(n_q, F)`` per query.
    grades : list of numpy.ndarray
        ``(n_q,)`` true grade of each candidate (0: not relevant).
    """

    queries: list[SimQuery]
    ids: list[list[str]]
    features: list[np.ndarray]
    grades: list[np.ndarray]

    @property
    def relevance(self) -> list[dict[str, int]]:
        return [sq.targets for sq in self.queries]

    def qrels(self) -> dict[str, dict[str, int]]:
        return {sq.query.id: dict(sq.targets) for sq in self.queries}


def candidate_pool(queries: Sequence[SimQuery], arms: Mapping[str, Arm], featurizer: RankFeaturizer,
                   depths: Mapping[str, int], fusion: RRFFusion | None = None, progress: bool = False) -> CandidatePool:
    """Retrieve, fuse (each arm's top ``depths[arm]``) and featurise every query (static arms batched)."""
    fusion = fusion or RRFFusion()
    unknown = sorted(set(depths) - set(arms))
    if unknown:
        raise ValueError(f"depths: unknown arm(s) {unknown}; arms are {list(arms)}")
    k = max(depths.values())
    results = {n: a.retrieve_batch([sq.query for sq in queries], k) for n, a in arms.items() if n in depths}
    ids, feats, grades = [], [], []
    for i, sq in enumerate(tqdm(queries, desc="features", disable=not progress, leave=False)):
        res = {n: r[i] for n, r in results.items()}
        union = fusion.fuse(res, depths)
        ids.append([it.doc_id for it in union])
        feats.append(featurizer(sq.query, union, res))
        grades.append(np.array([sq.targets.get(it.doc_id, 0) for it in union], dtype=float))
    return CandidatePool(list(queries), ids, feats, grades)


def ndcg_of_scores(pool: CandidatePool, scores: Sequence[np.ndarray]) -> float:
    """Mean nDCG@10 (trec_eval) of ranking each query's candidates by ``scores`` (ties keep fused order)."""
    runs = {sq.query.id: [ids[j] for j in np.argsort(-np.asarray(s), kind="stable")]
            for sq, ids, s in zip(pool.queries, pool.ids, scores)}
    per_q = ndcg_at_10(runs, pool.qrels())
    return float(np.mean(list(per_q.values())))


def ndcg_of_ranker(pool: CandidatePool, ranker: Ranker) -> float:
    """Mean nDCG@10 of ``ranker`` over the pool (one batched scoring call)."""
    if not pool.features:
        return 0.0
    flat = ranker.score(np.concatenate(pool.features))
    cuts = np.cumsum([len(f) for f in pool.features])[:-1]
    return ndcg_of_scores(pool, np.split(flat, cuts))


def best_single_feature(pool: CandidatePool, names: Sequence[str]) -> tuple[str, float]:
    """The feature (or its negation, ``-name``) whose order scores best on ``pool``, and that nDCG@10.

    Choose it on training queries with true grades, then report it on test queries.
    """
    best = ("fused:rr", -1.0)
    for j, name in enumerate(names):
        col = [f[:, j] for f in pool.features]
        if all(np.ptp(c) == 0 for c in col if len(c)):
            continue
        for sign, label in ((1.0, name), (-1.0, f"-{name}")):
            v = ndcg_of_scores(pool, [sign * c for c in col])
            if v > best[1]:
                best = (label, v)
    return best


def feature_scores(pool: CandidatePool, names: Sequence[str], label: str) -> list[np.ndarray]:
    """Per-query scores of the feature ``label`` (``-name``: negated) from :func:`best_single_feature`."""
    sign, name = (-1.0, label[1:]) if label.startswith("-") else (1.0, label)
    j = list(names).index(name)
    return [sign * f[:, j] for f in pool.features]
