"""FastAPI app factory: search, durable feedback, health, Prometheus metrics and per-intent arm statistics.

Endpoints: ``POST /search``, ``POST /feedback`` (token-gated when a token is set), ``GET /health``,
``GET /metrics`` (Prometheus text), ``GET /arms``, ``POST /admin/snapshot`` and ``POST /admin/retrain-ranker``
(token-gated), and the demo page at
``/`` (see :mod:`ltrr.serve.page`). One lock serialises every use of the pipeline, so ``/search`` and ``/feedback``
run inline on the event loop (in arrival order, without a hop to a worker thread); the policy's retraining, the
learned ranker's scheduled refits and the automatic snapshots run on worker threads
(:mod:`ltrr.serve.background`). Feedback is journaled and
fsynced before it is applied and acknowledged (:class:`~ltrr.serve.journal.FeedbackJournal`), and is idempotent
per impression. Bad input gets a 4xx whose body names the field (``{"detail": ..., "field": ...}``).
"""

from __future__ import annotations

import gc
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from ltrr.pipeline.pipeline import Impression, RetrievePipeline
from ltrr.serve.background import BackgroundRetrainer, OffLockWorker
from ltrr.serve.journal import FeedbackJournal
from ltrr.serve.limits import BodyLimitMiddleware, TokenBucket
from ltrr.serve.page import PAGE
from ltrr.serve.schemas import (ArmHit, ErrorResponse, FeedbackRequest, FeedbackResponse, Hit, SearchRequest,
                                SearchResponse)
from ltrr.serve.stats import ArmStats
from ltrr.types import Doc, Query

log = logging.getLogger(__name__)
STAGES = ("retrieve", "featurize", "policy", "fuse", "rerank")


@dataclass
class ServeSettings:
    """Limits and switches of the app.

    Attributes
    ----------
    max_pending : int
        Impressions awaiting feedback; the oldest expire first.
    token : str or None
        Bearer token required by ``/feedback`` and ``/admin/*`` (None: open; only safe on loopback).
    feedback_rate, feedback_burst : float
        Per-client token bucket on ``/feedback`` (events per second, bucket size).
    snapshot_every : int
        Journaled events between automatic snapshots (0: only on demand and at shutdown).
    max_body_bytes : int
        Larger request bodies get a 413.
    background_retrain : bool
        Retrain the policy's network and refit a learned rank stage on worker threads, off the lock searches take
        (see :mod:`ltrr.serve.background`); False does both inside the ``/feedback`` request that makes them due.
    background_snapshot : bool
        Write automatic snapshots on a worker thread (the state is copied and the journal rotated under the lock);
        False writes them inside the ``/feedback`` request.
    """

    max_pending: int = 10_000
    token: str | None = None
    feedback_rate: float = 50.0
    feedback_burst: float = 100.0
    snapshot_every: int = 1000
    max_body_bytes: int = 16_384
    background_retrain: bool = True
    background_snapshot: bool = True


class _ApiError(Exception):
    def __init__(self, status: int, detail: str, field: str | None = None, headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field, self.headers = status, detail, field, headers


@dataclass
class _Pending:
    impression: Impression
    intent: str


def create_app(pipeline: RetrievePipeline, docs: Mapping[str, Doc], settings: ServeSettings | None = None,
               journal: FeedbackJournal | None = None) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    pipeline : RetrievePipeline
        Searched and taught by the endpoints (restored from the journal beforehand, see
        :func:`ltrr.tasks.serve.load_pipeline`).
    docs : mapping of id to Doc
        Titles and types for responses.
    settings : ServeSettings, optional
    journal : FeedbackJournal, optional
        Durable feedback; None keeps feedback in memory only (tests, throwaway demos).
    """
    cfg = settings or ServeSettings()
    app = FastAPI(title="ltrr", version="0.2.0",
                  description="Search that learns which retrieval arms to use from clicks (learning to rank and "
                              "retrieve).", responses={422: {"model": ErrorResponse}})
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_body_bytes)
    lock = threading.Lock()
    pending: OrderedDict[str, _Pending] = OrderedDict()
    applied: OrderedDict[str, int] = journal.applied if journal is not None else OrderedDict()
    bucket = TokenBucket(cfg.feedback_rate, cfg.feedback_burst)
    stats = ArmStats(list(pipeline.arms))
    retrainers = ([BackgroundRetrainer(pipeline.policy, lock, "retrain-policy"),
                   BackgroundRetrainer(pipeline.reranker, lock, "retrain-ranker")] if cfg.background_retrain else [])
    app.state.retrainer, app.state.rank_retrainer = retrainers or (None, None)
    snapshots = OffLockWorker("snapshot")
    app.state.snapshots = snapshots
    reg = CollectorRegistry()
    m_req = Counter("ltrr_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=reg)
    m_lat = Histogram("ltrr_request_seconds", "Latency by endpoint", ["endpoint"], registry=reg,
                      buckets=(.001, .002, .005, .01, .015, .02, .03, .05, .1, .2, .5, 1, 2, 5))
    m_stage = Histogram("ltrr_search_stage_seconds", "Search latency by pipeline stage", ["stage"], registry=reg,
                        buckets=(.0001, .0005, .001, .002, .005, .01, .02, .05, .1, .5))
    m_depth = Counter("ltrr_arm_candidates", "Candidates allocated per arm", ["arm"], registry=reg)
    m_fb = Counter("ltrr_feedback_events", "Feedback events applied", ["clicked"], registry=reg)

    @app.exception_handler(_ApiError)
    async def _api_error(_: Request, err: _ApiError) -> JSONResponse:
        return JSONResponse({"detail": err.detail, "field": err.field}, status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        field = "body" if err.status_code == 400 else None  # FastAPI's "error parsing the body" (e.g. not UTF-8)
        return JSONResponse({"detail": str(err.detail), "field": field}, status_code=err.status_code,
                            headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": ("body",), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"] or ["body"]
        field = ".".join(loc)
        return JSONResponse({"detail": f"{field}: {first.get('msg', 'invalid')}", "field": field}, status_code=422)

    def _count(inner):  # a plain ASGI middleware: Starlette's @app.middleware("http") costs ~0.5 ms a request
        async def middleware(scope, receive, send):
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            t0, status = time.perf_counter(), [500]

            async def send_status(message):
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await inner(scope, receive, send_status)
            finally:
                endpoint = scope["path"] if scope["path"] in _PATHS else "other"
                m_req.labels(endpoint, str(status[0])).inc()
                m_lat.labels(endpoint).observe(time.perf_counter() - t0)
        return middleware

    app.add_middleware(_count)

    def _authorize(request: Request) -> None:
        if cfg.token is None:
            return
        got = request.headers.get("authorization", "")
        if not hmac.compare_digest(got.encode(), f"Bearer {cfg.token}".encode()):
            raise _ApiError(401, "missing or wrong bearer token", "authorization", {"WWW-Authenticate": "Bearer"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return PAGE

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "policy": pipeline.policy.name, "arms": list(pipeline.arms), "docs": len(docs),
                "journal_seq": journal.seq if journal is not None else None, "pending": len(pending)}

    @app.post("/search", response_model=SearchResponse)
    async def search(req: SearchRequest) -> Response:  # inline on the event loop: no thread hop
        meta = {} if req.hour is None else {"hour": req.hour}
        timings: dict[str, float] = {}
        with lock:
            imp = secrets.token_urlsafe(12)
            res = pipeline.search(Query(imp, req.query, req.user_id, meta), timings=timings)
            intent = _intent(pipeline, res.query)
            pending[imp] = _Pending(res.impression(req.k), intent)
            while len(pending) > cfg.max_pending:
                pending.popitem(last=False)
            stats.searched(intent, res.decision.allocation)
        for stage in STAGES:
            m_stage.labels(stage).observe(timings.get(stage, 0.0))
        for arm, n in zip(pipeline.arms, res.decision.allocation):
            m_depth.labels(arm).inc(n)
        hits = []
        for it in res.ranking[: req.k]:
            doc = docs.get(it.doc_id)
            per_arm = [ArmHit(arm=a, rank=int(r), score=float(res.arm_results[a].candidates[int(r) - 1].score))
                       for a, r in zip(it.arms, it.arm_ranks)]
            hits.append(Hit(doc_id=it.doc_id, title=doc.title if doc else "",
                            type=doc.metadata.get("type") if doc else None, score=float(it.score), arms=per_arm))
        body = SearchResponse(impression_id=imp, results=hits, allocation=res.allocation,
                              propensity=float(res.decision.propensity), policy=res.decision.policy, intent=intent,
                              stage_ms={k: round(v * 1e3, 3) for k, v in timings.items()})
        # serialised here, once: returned as a model, FastAPI would validate it a second time
        return Response(body.model_dump_json(), media_type="application/json")

    @app.post("/feedback", response_model=FeedbackResponse)
    async def feedback(req: FeedbackRequest, request: Request) -> FeedbackResponse:  # inline, like /search
        _authorize(request)
        client = request.client.host if request.client else "unknown"
        wait = bucket.take(client)
        if wait > 0:
            raise _ApiError(429, f"feedback rate limit: retry in {wait:.2f}s", None, {"Retry-After": f"{wait:.0f}"})
        clicked = list(dict.fromkeys(req.clicked))
        with lock:
            if req.impression_id in applied:  # idempotent: the first feedback of an impression wins
                return FeedbackResponse(impression_id=req.impression_id, clicked=clicked, duplicate=True,
                                        seq=applied[req.impression_id], labels_observed=0)
            item = pending.get(req.impression_id)
            if item is None:
                raise _ApiError(404, f"unknown or expired impression_id {req.impression_id!r}", "impression_id")
            shown = set(item.impression.shown)
            unknown = [d for d in clicked if d not in shown]
            if unknown:
                raise _ApiError(422, f"clicked ids not among the results of this impression: {unknown[:5]}",
                                "clicked")
            fb = pipeline.feedback_event(item.impression, clicked)
            if journal is not None:
                seq = journal.append(req.impression_id, fb, req.dwell_ms)  # durable before it is applied
            else:
                seq = (next(reversed(applied.values())) if applied else 0) + 1
                applied[req.impression_id] = seq
            labels = pipeline.apply(fb)
            del pending[req.impression_id]
            stats.clicked(item.intent, bool(clicked))
            for retrainer in retrainers:
                retrainer.maybe_start()
            if (journal is not None and cfg.snapshot_every and journal.since_snapshot >= cfg.snapshot_every
                    and not snapshots.busy):
                write = journal.begin_snapshot(pipeline)
                if cfg.background_snapshot:
                    snapshots.submit(write)
                else:
                    write()
        m_fb.labels(str(bool(clicked)).lower()).inc()
        return FeedbackResponse(impression_id=req.impression_id, clicked=clicked, duplicate=False, seq=seq,
                                labels_observed=int(labels.mask.sum()))

    @app.get("/metrics", include_in_schema=True)
    def metrics() -> Response:
        return Response(generate_latest(reg), media_type=CONTENT_TYPE_LATEST)

    @app.get("/arms")
    def arms() -> dict:
        with lock:
            return stats.report()

    @app.post("/admin/snapshot")
    def snapshot(request: Request) -> dict:
        _authorize(request)
        if journal is None:
            raise _ApiError(409, "this server keeps no journal (started without a state folder)")
        with lock:
            snapshots.wait()  # an automatic snapshot still being written finishes first
            return {"seq": journal.snapshot(pipeline)}

    @app.post("/admin/retrain-ranker")
    def retrain_ranker(request: Request) -> dict:
        """Refit the learned rank stage now on its buffered clicked impressions (token-gated)."""
        _authorize(request)
        rank = pipeline.reranker
        if rank is None or not hasattr(rank, "retrain"):
            raise _ApiError(409, "this pipeline has no learned rank stage (config rerank=ltr)")
        if app.state.rank_retrainer is not None:
            app.state.rank_retrainer.wait()  # a scheduled refit in flight installs first (it takes the lock)
        with lock:
            if not rank.n_lists:
                raise _ApiError(409, "the learned rank stage has no clicked impression to learn from yet")
            rank.retrain()
            return {"fits": rank.fits, "lists": rank.n_lists}

    _PATHS = {"/", "/search", "/feedback", "/health", "/metrics", "/arms", "/admin/snapshot", "/admin/retrain-ranker"}
    app.state.settings, app.state.journal, app.state.pipeline = cfg, journal, pipeline
    return app


def freeze_heap(slow_gc_s: float = 0.02, thresholds: tuple[int, int, int] = (10_000, 10, 100)) -> None:
    """Collect once, then move every object alive now (catalogue, indexes, models) out of the garbage collector's
    reach (:func:`gc.freeze`), so that no full collection walks them while a request waits. Call it once, after
    start-up, in the serving process (not under tests, whose frozen objects would never be freed).

    ``thresholds`` (:func:`gc.set_threshold`) make collections rarer than CPython's (700, 10, 10): a search
    allocates thousands of short-lived containers, and with the defaults a full collection (30 ms and growing with
    the impressions awaiting feedback) ran every few seconds. Collections longer than ``slow_gc_s`` seconds are
    logged."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    log.info("froze %d start-up objects out of the garbage collector; thresholds %s", gc.get_freeze_count(),
             thresholds)
    started = [0.0]

    def report(phase: str, info: dict) -> None:  # a collection long enough to show in the p99 gets logged
        if phase == "start":
            started[0] = time.perf_counter()
        elif (pause := time.perf_counter() - started[0]) > slow_gc_s:
            log.warning("garbage collection of generation %d paused the server %.0f ms", info["generation"],
                        pause * 1e3)
    gc.callbacks.append(report)


def _intent(pipeline: RetrievePipeline, query: Query) -> str:
    intent = getattr(pipeline.featurizer, "intent_class", None)
    return str(intent(query)) if intent is not None else "all"
