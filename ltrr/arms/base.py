"""The arm interface: ``retrieve(query, k) -> ArmResult``, plus optional click learning and state."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from ltrr.types import ArmResult, Candidate, Doc, Query

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

    @abstractmethod
    def retrieve(self, query: Query, k: int) -> ArmResult:
        """Top-``k`` candidates for ``query``, best first."""

    def retrieve_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        """Retrieve for many queries (override when batching is faster)."""
        return [self.retrieve(q, k) for q in queries]

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
        cands = tuple(Candidate(self.doc_ids[int(p)], float(s), r + 1, self.name)
                      for r, (p, s) in enumerate(zip(positions, scores)))
        return self._wrap(cands)

    def _squash(self, x: float) -> float:
        x = max(x, 0.0)
        return x / (x + self.score_scale)

    def _wrap(self, cands: tuple[Candidate, ...]) -> ArmResult:
        n = len(cands)
        top = cands[0].score if n else 0.0
        tenth = cands[min(9, n - 1)].score if n else 0.0
        feats = {"n": float(np.log1p(n) / np.log1p(100)), "top": self._squash(top), "gap": self._squash(top - tenth)}
        return ArmResult(self.name, cands, feats)
