"""Second-stage reranking of the fused union's head with a cross-encoder."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from ltrr.encoders.cross import CrossEncoder
from ltrr.types import ArmResult, Doc, FusedItem, Query

log = logging.getLogger(__name__)


def _minmax(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / max(float(x.max() - x.min()), 1e-9) if len(x) else x


def interpolate_scores(ce: np.ndarray, first_stage: np.ndarray, first_stage_weight: float) -> np.ndarray:
    """``(1 - w) * minmax(ce) + w * minmax(first_stage)`` over one query's candidates.

    Parameters
    ----------
    ce : ndarray, shape (n,)
        Cross-encoder scores.
    first_stage : ndarray, shape (n,)
        The first stage's scores of the same candidates.
    first_stage_weight : float
        ``w`` in [0, 1]; 0 ranks by the cross-encoder alone (returned unchanged).

    Returns
    -------
    ndarray, shape (n,)
    """
    if not 0.0 <= first_stage_weight <= 1.0:
        raise ValueError(f"first_stage_weight must be in [0, 1], got {first_stage_weight}")
    ce = np.asarray(ce, dtype=np.float64)
    if first_stage_weight == 0.0:
        return ce
    first = np.asarray(first_stage, dtype=np.float64)
    return (1.0 - first_stage_weight) * _minmax(ce) + first_stage_weight * _minmax(first)


class CrossEncoderReranker:
    """Reorder the first ``top_n`` fused items by cross-encoder score; leave the tail as fused.

    Parameters
    ----------
    encoder : CrossEncoder
    docs : sequence of Doc
        The catalogue; each document is scored on its :attr:`Doc.full_text`.
    top_n : int
        How many of the best fused items are rescored (>= 1).
    first_stage_weight : float
        Share of the (min-max normalised) fused score in the final score, see :func:`interpolate_scores`;
        0 ranks the head by the cross-encoder alone. The encoder job tunes it on its dev split.

    Attributes
    ----------
    last_latency_ms : float
        Wall time of the latest :meth:`rerank` call, in milliseconds.
    """

    def __init__(self, encoder: CrossEncoder, docs: Sequence[Doc], top_n: int = 20,
                 first_stage_weight: float = 0.0) -> None:
        if int(top_n) < 1:
            raise ValueError(f"top_n must be >= 1, got {top_n}")
        interpolate_scores(np.zeros(1), np.zeros(1), float(first_stage_weight))  # validates the weight
        self.encoder, self.top_n, self.first_stage_weight = encoder, int(top_n), float(first_stage_weight)
        self.texts = {d.id: d.full_text for d in docs}
        self.last_latency_ms = 0.0
        log.info("cross-encoder reranker %s over the top %d of %d docs", encoder.model_id, self.top_n, len(self.texts))

    def rerank(self, query: Query, items: list[FusedItem],
               arm_results: Mapping[str, ArmResult] | None = None) -> list[FusedItem]:
        """The head reordered by cross-encoder score, then the tail unchanged.

        Parameters
        ----------
        query : Query
        items : list of FusedItem
            The fused ranking, best first.
        arm_results : mapping, optional
            The arms' lists (unused here; the rank-stage interface passes them).

        Returns
        -------
        list of FusedItem
            The first ``top_n`` items sorted by cross-encoder score (interpolated with the fused score when
            ``first_stage_weight`` > 0), best first (ties keep the fused order), with ``score`` replaced by that
            score; then the remaining items, as given.

        Raises
        ------
        KeyError
            When a head item's document is not in the catalogue.
        """
        t0 = time.perf_counter()
        head, tail = items[:self.top_n], items[self.top_n:]
        missing = [it.doc_id for it in head if it.doc_id not in self.texts]
        if missing:
            raise KeyError(f"reranker: unknown doc id {missing[0]!r} ({len(missing)} unknown in the head)")
        scores = self.encoder.score(query.text, [self.texts[it.doc_id] for it in head])
        scores = interpolate_scores(scores, np.array([it.score for it in head]), self.first_stage_weight)
        order = np.argsort(-scores, kind="stable")
        out = [replace(head[i], score=float(scores[i])) for i in order] + list(tail)
        self.last_latency_ms = (time.perf_counter() - t0) * 1000.0
        return out
