"""FastAPI app factory: ``POST /search`` and ``POST /feedback`` over one :class:`RetrievePipeline`."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Mapping

from fastapi import FastAPI, HTTPException

from ltrr.pipeline.pipeline import RetrievePipeline, SearchResult
from ltrr.serve.schemas import FeedbackRequest, FeedbackResponse, Hit, SearchRequest, SearchResponse
from ltrr.types import Doc, Query


def create_app(pipeline: RetrievePipeline, docs: Mapping[str, Doc], max_pending: int = 10000) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    pipeline : RetrievePipeline
        Searched and taught by the endpoints (calls are serialised with a lock).
    docs : mapping of id to Doc
        For titles and types in responses.
    max_pending : int
        Searches kept for feedback; the oldest are dropped first.
    """
    app = FastAPI(title="ltrr", version="0.1.0")
    lock = threading.Lock()
    pending: OrderedDict[str, SearchResult] = OrderedDict()
    counter = itertools.count()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "policy": pipeline.policy.name, "arms": list(pipeline.arms), "docs": len(docs)}

    @app.post("/search", response_model=SearchResponse)
    def search(req: SearchRequest) -> SearchResponse:
        with lock:
            sid = f"s{next(counter)}"
            res = pipeline.search(Query(sid, req.query, req.user_id))
            pending[sid] = res
            while len(pending) > max_pending:
                pending.popitem(last=False)
        hits = [Hit(doc_id=it.doc_id, title=docs[it.doc_id].title if it.doc_id in docs else "",
                    type=(docs[it.doc_id].metadata.get("type") if it.doc_id in docs else None),
                    score=it.score, arms=list(it.arms)) for it in res.ranking[: req.k]]
        return SearchResponse(search_id=sid, results=hits, allocation=res.allocation,
                              propensity=res.decision.propensity, policy=res.decision.policy)

    @app.post("/feedback", response_model=FeedbackResponse)
    def feedback(req: FeedbackRequest) -> FeedbackResponse:
        with lock:
            res = pending.get(req.search_id)
            if res is None:
                raise HTTPException(404, f"unknown or expired search_id {req.search_id!r}")
            shown = {it.doc_id for it in res.ranking}
            unknown = [d for d in req.clicked if d not in shown]
            if unknown:
                raise HTTPException(422, f"clicked ids not among the results of {req.search_id}: {unknown[:5]}")
            labels = pipeline.feedback(res, list(dict.fromkeys(req.clicked)))
            del pending[req.search_id]
        return FeedbackResponse(search_id=req.search_id, clicked=req.clicked, labels_observed=int(labels.mask.sum()))

    return app
