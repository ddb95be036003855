"""The arm interface: ``retrieve(query, k) -> ArmResult``, plus optional click learning and state.

Subclasses implement :meth:`Arm._search` (and :meth:`Arm._search_batch` when batching is faster); the public
:meth:`Arm.retrieve` / :meth:`Arm.retrieve_batch` time them and attach per-arm features.
"""

from __future__ import annotations

import math
import time
from itertools import repeat
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from ltrr.types import ArmResult, Candidate, Doc, Query

_LOG1P_1000 = math.log1p(1000.0)
STOPWORDS = frozenset(
    "a an and the of for to in on by with from at is it my me i you your new latest fresh music songs song "
    "tracks track mix tunes playlist release releases".split()
)


class Arm(ABC):
    """A candidate generator.

    Parameters
    ----------
    docs : sequence of Doc
        The catalogue; positions in it are the arm's internal ids.
    name : str
        Name used in allocations and logs.

    Attributes
    ----------
    static : bool
        ``True`` when results depend on the query text alone, so they may be cached and shared
        between simulated runs; stateful or random arms set it to ``False``.
    score_scale : float
        Scale ``s`` of the squashing ``x / (x + s)`` that turns scores into features in ``[0, 1)``.
    """

    static: bool = True
    score_scale: float = 1.0

    def __init__(self, docs: Sequence[Doc], name: str) -> None:
        if not docs:
            raise ValueError(f"arm {name!r}: empty catalogue")
        self.name = name
        self.doc_ids = [d.id for d in docs]
        self._id_array = np.array(self.doc_ids, dtype=object)

    def retrieve(self, query: Query, k: int) -> ArmResult:
        """Top-``k`` candidates for ``query``, best first, with :attr:`ArmResult.latency_ms` set."""
        t0 = time.perf_counter()
        res = self._search(query, k)
        return self._timed(res, (time.perf_counter() - t0) * 1e3)

    def retrieve_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        """Retrieve for many queries; each result's latency is the batch time divided by the batch size."""
        if not queries:
            return []
        t0 = time.perf_counter()
        res = self._search_batch(queries, k)
        ms = (time.perf_counter() - t0) * 1e3 / len(queries)
        return [self._timed(r, ms) for r in res]

    @abstractmethod
    def _search(self, query: Query, k: int) -> ArmResult:
        """Top-``k`` candidates for one query (implemented by each arm)."""

    def _search_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        """Many queries at once (override when batching is faster)."""
        return [self._search(q, k) for q in queries]

    @staticmethod
    def _timed(res: ArmResult, ms: float) -> ArmResult:
        feats = dict(res.features)
        feats["latency"] = math.log1p(ms) / _LOG1P_1000
        return ArmResult(res.arm, res.candidates, feats, ms)

    def observe(self, query: Query, shown: Sequence[str], clicked: Sequence[str]) -> None:
        """Learn from one interaction (no-op for static arms)."""

    def reset(self, seed: int) -> None:
        """Forget learned state and reseed any randomness (start of a simulated run)."""

    def state_dict(self) -> dict[str, Any]:
        """Learned state, JSON-serialisable."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def _result(self, positions: np.ndarray, scores: np.ndarray) -> ArmResult:
        """Build an :class:`ArmResult` from internal positions and scores (best first)."""
        return self._from_pairs(self._id_array[np.asarray(positions, dtype=np.int64)].tolist(), scores)

    def _from_pairs(self, doc_ids: Sequence[str], scores: Sequence[float]) -> ArmResult:
        """Build an :class:`ArmResult` from document ids and scores (best first)."""
        sl = np.asarray(scores, dtype=float).tolist()
        n = len(sl)
        lo, hi = (min(sl), max(sl)) if n else (0.0, 0.0)
        norm = [(x - lo) / (hi - lo) for x in sl] if hi > lo else [1.0] * n
        rows = zip(doc_ids, sl, range(1, n + 1), repeat(self.name, n), norm)
        cands = tuple(map(tuple.__new__, repeat(Candidate, n), rows))  # Candidate(*row), without per-row Python calls
        return self._wrap(cands)

    def _squash(self, x: float) -> float:
        x = max(x, 0.0)
        return x / (x + self.score_scale)

    def _wrap(self, cands: tuple[Candidate, ...]) -> ArmResult:
        n = len(cands)
        head = [c[1] for c in cands[:10]] or [0.0]
        mean = sum(head) / len(head)
        std = math.sqrt(sum((x - mean) ** 2 for x in head) / len(head))
        feats = {"n": math.log1p(n) / math.log1p(100), "top": self._squash(head[0]),
                 "gap": self._squash(head[0] - head[-1]), "mean": self._squash(mean), "std": self._squash(std)}
        return ArmResult(self.name, cands, feats)
