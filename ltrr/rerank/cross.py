"""Second-stage reranking of the fused union's head with a cross-encoder."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Sequence

import numpy as np

from ltrr.encoders.cross import CrossEncoder
from ltrr.types import Doc, FusedItem, Query

log = logging.getLogger(__name__)


class CrossEncoderReranker:
    """Reorder the first ``top_n`` fused items by cross-encoder score; leave the tail as fused.

    Parameters
    ----------
    encoder : CrossEncoder
    docs : sequence of Doc
        The catalogue; each document is scored on its :attr:`Doc.full_text`.
    top_n : int
        How many of the best fused items are rescored (>= 1).

    Attributes
    ----------
    last_latency_ms : float
        Wall time of the latest :meth:`rerank` call, in milliseconds.
    """

    def __init__(self, encoder: CrossEncoder, docs: Sequence[Doc], top_n: int = 20) -> None:
        if int(top_n) < 1:
            raise ValueError(f"top_n must be >= 1, got {top_n}")
        self.encoder, self.top_n = encoder, int(top_n)
        self.texts = {d.id: d.full_text for d in docs}
        self.last_latency_ms = 0.0
        log.info("cross-encoder reranker %s over the top %d of %d docs", encoder.model_id, self.top_n, len(self.texts))

    def rerank(self, query: Query, items: list[FusedItem]) -> list[FusedItem]:
        """The head reordered by cross-encoder score, then the tail unchanged.

        Parameters
        ----------
        query : Query
        items : list of FusedItem
            The fused ranking, best first.

        Returns
        -------
        list of FusedItem
            The first ``top_n`` items sorted by cross-encoder score, best first (ties keep the fused order), with
            ``score`` replaced by that score; then the remaining items, as given.

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
        order = np.argsort(-scores, kind="stable")
        out = [replace(head[i], score=float(scores[i])) for i in order] + list(tail)
        self.last_latency_ms = (time.perf_counter() - t0) * 1000.0
        return out
