"""Load, fault and fuzz benchmark of the search API (``serve.py``'s app) on a real catalogue.

    python scripts/bench/serve.py --catalogue spotify --out bench/serve.json            # all three parts
    python scripts/bench/serve.py --catalogue music --parts faults --restarts 3 --set experiment=smoke

The server is this script in ``--server`` mode, a separate process on loopback: the catalogue's pipeline (the main
job's arms, context featurizer and neural-linear TS from ``configs/train.yaml`` plus ``--set`` overrides, the
``structured`` and ``longtail`` arms, and with ``--rerank cross`` a MiniLM cross-encoder (``--cross-model``)
rescoring the top ``--rerank-top`` fused items), restored from its feedback journal under a state folder, served by
uvicorn.
``spotify`` is the 28k-track BEIR corpus (``--data``; queries: its playlist names and track titles, a share of
them with a typo); ``music`` the embedded world (queries from its generator).

- **load**: ``--concurrency`` clients on loopback (asyncio + aiohttp), each searching in a closed loop for
  ``--duration`` seconds after a warm-up and sending feedback (a click on a random result) after
  ``--feedback-share`` of searches. Reports searches per second, client-side p50/p99 latency of ``/search`` and of
  ``/feedback``, and the server's p50 per pipeline stage (from the responses' ``stage_ms``).
- **openloop**: searches arriving as a Poisson process at each of ``--rates`` per second for ``--duration`` seconds
  (requests overlap; latency from the scheduled arrival, so queueing counts); reports per rate the achieved rate,
  p50/p99, the most requests in flight, whether the rate was sustained, and the highest rate at which p50 <= 15 ms
  and p99 <= 50 ms hold (``--plot``: latency against rate).
- **faults**: ``--restarts`` rounds of: start the server on the same state folder, run ``--writers`` concurrent
  search+feedback writers, ``kill -9`` the server after a random 2-8 s (``--kill-after``). Every acknowledged
  feedback (a 200 with its sequence number) is recorded. Finally the server restarts once more and every
  acknowledged impression is sent again: it must come back as a duplicate with the same sequence number, i.e.
  recovered (snapshot + journal replay). ``lost`` counts those that do not.
- **fuzz**: schemathesis over the published OpenAPI schema, valid and invalid requests, in process on the same
  pipeline (``--fuzz`` requests at least); counts 5xx responses.

``--out FILE.json`` (with ``--update``: keeping the parts not run now) writes ``search`` (``rps``, ``p50_ms``,
``p99_ms``, ``stage_p50_ms``, ...; the openloop part: ``runs`` per rate and ``max_rate_within_targets``),
``faults`` (``restarts``, ``acknowledged``, ``lost``, ...) and ``fuzz`` (``requests``, ``status_5xx``, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

log = logging.getLogger("bench.serve")
SPOTIFY = ROOT.parent / "shared" / "data" / "music" / "spotify_songs"
CROSS = ROOT / "runs" / "encoders_music" / "models" / "reranker"


# ----- the server -------------------------------------------------------------------------------------------------
def overrides(args) -> list[str]:
    from ltrr.tasks.catalogue import serve_overrides

    over = serve_overrides(args.cache_dir)
    if args.rerank == "cross":
        over += ["rerank=cross_encoder", f"rerank.encoder.name_or_path={args.cross_model}",
                 f"rerank.encoder.max_length={args.cross_max_length}", f"rerank.top_n={args.rerank_top}", "rerank.encoder.device=cpu",
                 f"rerank.encoder.backend={args.cross_backend}"]
    else:
        over += ["rerank=none"]
    if args.dense_backend:
        over += [f"encoder.backend={args.dense_backend}"]
    if args.parallel_arms:
        over += [f"parallel_arms=[{','.join(args.parallel_arms)}]"]
    return over + list(args.set)


def catalogue(args):
    """``(config, docs, query texts)`` for ``args.catalogue`` (no index is built)."""
    from ltrr.tasks import catalogue as C

    cfg = C.compose(ROOT / "configs", overrides(args))
    docs = C.load_docs(cfg, args.catalogue, args.data)
    return cfg, docs, C.load_queries(cfg, args.catalogue, docs, args.data, args.seed)


def build(args, cfg, docs):
    """The server's pipeline over ``docs`` (arms, featurizer, neural-linear TS, reranker) and the docs by id."""
    from ltrr.tasks.catalogue import build_pipeline

    return build_pipeline(cfg, docs, args.seed), {d.id: d for d in docs}


def serve_main(args) -> None:
    import torch
    import uvicorn

    from ltrr.serve.app import ServeSettings, create_app, freeze_heap
    from ltrr.serve.journal import FeedbackJournal

    torch.set_num_threads(args.threads)
    pipeline, docs = build(args, *catalogue(args)[:2])
    journal = FeedbackJournal(args.state_dir)
    journal.recover(pipeline)
    app = create_app(pipeline, docs, ServeSettings(feedback_rate=1e6, feedback_burst=1e6,
                                                   snapshot_every=args.snapshot_every,
                                                   background_retrain=not args.sync_retrain), journal)
    freeze_heap()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


class Server:
    """This script in ``--server`` mode as a child process."""

    def __init__(self, args, state_dir: Path) -> None:
        self.args, self.state_dir, self.proc = args, state_dir, None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 600.0) -> float:
        import httpx

        a = self.args
        cmd = [sys.executable, __file__, "--server", "--port", str(self.port), "--state-dir", str(self.state_dir),
               "--catalogue", a.catalogue, "--data", str(a.data), "--rerank", a.rerank, "--rerank-top",
               str(a.rerank_top), "--cross-model", a.cross_model, "--cross-backend", a.cross_backend,
               "--cross-max-length", str(a.cross_max_length),
               *(["--dense-backend", a.dense_backend] if a.dense_backend else []),
               *(["--parallel-arms", *a.parallel_arms] if a.parallel_arms else []), "--seed", str(a.seed), "--threads",
               str(a.threads), "--cache-dir", a.cache_dir, "--snapshot-every", str(a.snapshot_every),
               *(["--sync-retrain"] if a.sync_retrain else []), "--set", *a.set]
        t0 = time.time()
        self.log = open(self.state_dir.parent / f"server_{self.port}.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return time.time() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not healthy after {timeout:.0f}s")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()


# ----- clients ----------------------------------------------------------------------------------------------------
async def _search(client, queries, rng, k: int = 10) -> tuple[dict, float]:
    t0 = time.perf_counter()
    r = await client.post("/search", json={"query": rng.choice(queries), "k": k})
    dt = time.perf_counter() - t0
    r.raise_for_status()
    return r.json(), dt


async def _post(session, path: str, body: dict) -> dict:
    async with session.post(path, json=body) as resp:
        resp.raise_for_status()
        return await resp.json()


async def _warm_up(session, queries: list[str], n: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        await _post(session, "/search", {"query": rng.choice(queries), "k": 10})


async def _click(session, body: dict, rng: random.Random) -> None:
    """Feedback on a search: a click on one of its results, chosen by ``rng``."""
    await _post(session, "/feedback", {"impression_id": body["impression_id"],
                                       "clicked": [rng.choice(body["results"])["doc_id"]]})


def _latency_summary(search_s: list[float], feedback_s: list[float], stages: list[dict]) -> dict:
    """Client-side p50/p99/mean of ``/search`` and p50/p99 of ``/feedback`` (ms), and the server's p50 and p99 per
    pipeline stage from the responses' ``stage_ms``."""
    ms = np.array(search_s) * 1e3
    fms = np.array(feedback_s) * 1e3 if feedback_s else np.array([np.nan])
    names = sorted({k for s in stages for k in s})
    return {"searches": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "mean_ms": round(float(ms.mean()), 2),
            "feedback": len(feedback_s), "feedback_p50_ms": round(float(np.nanpercentile(fms, 50)), 2),
            "feedback_p99_ms": round(float(np.nanpercentile(fms, 99)), 2),
            **{f"stage_{q}_ms": {k: round(float(np.percentile([s.get(k, 0.0) for s in stages], pct)), 3)
                                 for k in names} for q, pct in (("p50", 50), ("p99", 99))}}


async def load(url: str, queries: list[str], duration: float, concurrency: int, feedback_share: float,
               warmup: int, seed: int) -> dict:
    """``concurrency`` closed-loop clients (aiohttp, see :func:`open_loop`) for ``duration`` seconds."""
    import aiohttp

    search_s, feedback_s, stages = [], [], []
    async with aiohttp.ClientSession(url) as session:
        await _warm_up(session, queries, warmup, seed)
        stop = time.perf_counter() + duration

        async def worker(i: int) -> None:
            r = random.Random(seed * 1000 + i)
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                body = await _post(session, "/search", {"query": r.choice(queries), "k": 10})
                search_s.append(time.perf_counter() - t0)
                stages.append(body["stage_ms"])
                if body["results"] and r.random() < feedback_share:
                    t0 = time.perf_counter()
                    await _click(session, body, r)
                    feedback_s.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"concurrency": concurrency, "duration_s": round(wall, 2), "rps": round(len(search_s) / wall, 2),
            **_latency_summary(search_s, feedback_s, stages)}


async def open_loop(url: str, queries: list[str], rate: float, duration: float, feedback_share: float,
                    warmup: int, seed: int) -> dict:
    """Searches arriving as a Poisson process of ``rate`` per second, each sent at its arrival time whatever is in
    flight (an open loop: requests overlap), for ``duration`` seconds; ``feedback_share`` of them are followed by a
    click as feedback.

    Latency runs from the scheduled arrival, not from the send, so a client that falls behind is charged to the
    server (no coordinated omission; ``send_lag`` is that delay). The client is aiohttp: on 2 cores shared with
    the server, httpx's few milliseconds of CPU per request showed up as server latency. ``sustained``: the
    completed searches are at least 95% of the arrivals per second and the second half's p50 is within 1.5x the
    first half's (no growing queue).
    """
    import aiohttp

    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=int(rate * duration * 1.5) + 10))
    arrivals = arrivals[arrivals < duration]
    lat, lag, arrived, stages, feedback_s, in_flight = [], [], [], [], [], []
    flight = 0
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=256)) as session:
        await _warm_up(session, queries, warmup, seed)

        async def one(i: int, due: float) -> None:
            nonlocal flight
            r = random.Random(seed * 100_003 + i)
            flight += 1
            in_flight.append(flight)
            sent = time.perf_counter()
            try:
                body = await _post(session, "/search", {"query": r.choice(queries), "k": 10})
            finally:
                flight -= 1
            now = time.perf_counter()
            lat.append(now - due)
            lag.append(sent - due)
            arrived.append(due - t0)
            stages.append(body["stage_ms"])
            if body["results"] and r.random() < feedback_share:
                await _click(session, body, r)
                feedback_s.append(time.perf_counter() - now)

        tasks = []
        t0 = time.perf_counter()
        for i, a in enumerate(arrivals):
            delay = t0 + a - time.perf_counter()
            if delay > 0.002:  # the event loop's timers fire up to ~1 ms late (millisecond epoll timeouts) ...
                await asyncio.sleep(delay - 0.002)
            while time.perf_counter() < t0 + a:  # ... so the last 2 ms are waited out yielding to other tasks
                await asyncio.sleep(0)
            tasks.append(asyncio.create_task(one(i, t0 + a)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    ms, at = np.array(lat) * 1e3, np.array(arrived)
    halves = [ms[at < duration / 2], ms[at >= duration / 2]]
    p50_halves = [round(float(np.percentile(h, 50)), 2) if len(h) else float("nan") for h in halves]
    offered = len(arrivals) / duration
    return {"mode": "open loop (Poisson arrivals)", "offered_rps": rate, "arrivals_per_s": round(offered, 2),
            "duration_s": round(wall, 2), "rps": round(len(ms) / wall, 2), **_latency_summary(lat, feedback_s, stages),
            "p50_ms_halves": p50_halves,
            "send_lag_p50_ms": round(float(np.percentile(lag, 50)) * 1e3, 2),
            "send_lag_p99_ms": round(float(np.percentile(lag, 99)) * 1e3, 2),
            "max_in_flight": int(max(in_flight)),
            "overlapping_share": round(float(np.mean(np.array(in_flight) > 1)), 3),
            "sustained": bool(len(ms) / wall >= 0.95 * offered and p50_halves[1] <= 1.5 * p50_halves[0])}


async def writers(url: str, queries: list[str], n: int, acked: dict, seed: int, deadline: float) -> int:
    """``n`` concurrent search+feedback loops until the server dies or ``deadline``; returns errors seen."""
    import httpx

    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        async def one(i: int) -> None:
            nonlocal errors
            r = random.Random(seed * 100 + i)
            while time.time() < deadline:
                try:
                    body, _ = await _search(client, queries, r, k=5)
                    clicked = [r.choice(body["results"])["doc_id"]] if body["results"] and r.random() < 0.7 else []
                    fb = await client.post("/feedback", json={"impression_id": body["impression_id"],
                                                              "clicked": clicked})
                except httpx.HTTPError:
                    errors += 1
                    return  # the server is gone
                if fb.status_code == 200:
                    acked[body["impression_id"]] = fb.json()["seq"]
        await asyncio.gather(*(one(i) for i in range(n)))
    return errors


def faults(args, queries: list[str], work: Path) -> dict:
    import httpx

    state = work / "faults_state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    acked: dict[str, int] = {}
    rng = random.Random(args.seed)
    starts, per_round = [], []
    server = Server(args, state)
    for r in range(args.restarts):
        starts.append(server.start())
        before = len(acked)
        kill_at = time.time() + rng.uniform(*args.kill_after)

        async def run() -> int:
            task = asyncio.ensure_future(writers(server.url, queries, args.writers, acked, args.seed + r,
                                                 kill_at + 30))
            await asyncio.sleep(max(0.0, kill_at - time.time()))
            server.kill9()  # under load: writers are mid-request
            return await task

        errors = asyncio.run(run())
        per_round.append({"acknowledged": len(acked) - before, "client_errors": errors})
        log.info("restart %d/%d: %d events acknowledged before kill -9", r + 1, args.restarts, len(acked) - before)
    starts.append(server.start())
    health = httpx.get(server.url + "/health").json()
    lost, wrong_seq = [], 0
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for imp, seq in acked.items():
            fb = client.post("/feedback", json={"impression_id": imp, "clicked": []})
            ok = fb.status_code == 200 and fb.json()["duplicate"]
            if not ok:
                lost.append(imp)
            elif fb.json()["seq"] != seq:
                wrong_seq += 1
    server.stop()
    return {"restarts": args.restarts, "writers": args.writers, "acknowledged": len(acked), "lost": len(lost),
            "seq_mismatch": wrong_seq, "journal_seq_after_restart": health["journal_seq"],
            "max_acknowledged_seq": max(acked.values(), default=0), "per_round": per_round,
            "start_seconds": [round(s, 1) for s in starts]}


def fuzz(args, pipeline, docs) -> dict:
    from ltrr.serve.app import ServeSettings, create_app
    from ltrr.serve.fuzz import fuzz_app

    app = create_app(pipeline, docs, ServeSettings(feedback_rate=1e6, feedback_burst=1e6, token="bench"))
    per_case = max(1, args.fuzz // 4)  # search and feedback, valid and invalid, carry almost all requests
    t0 = time.time()
    out = fuzz_app(app, examples_per_case=per_case, seed=args.seed, headers={"authorization": "Bearer bench"})
    out["seconds"] = round(time.time() - t0, 1)
    return out


# ----- main -------------------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", choices=["spotify", "music"], default="spotify")
    ap.add_argument("--data", type=Path, default=SPOTIFY, help="BEIR folder of the spotify catalogue")
    ap.add_argument("--rerank", choices=["cross", "none"], default="cross")
    ap.add_argument("--rerank-top", type=int, default=20)
    ap.add_argument("--cross-model", default=str(CROSS) if CROSS.is_dir() else "packaged:all-MiniLM-L6-v2",
                    help="cross-encoder (default: the encoder job's music-world reranker when present, else "
                         "MiniLM with an untrained head: the same cost)")
    ap.add_argument("--cross-backend", choices=["torch", "onnx", "onnx-int8"], default="torch",
                    help="how the cross-encoder scores on the CPU (scripts/distill_reranker.py reports the quality)")
    ap.add_argument("--cross-max-length", type=int, default=64, help="pair length in tokens")
    ap.add_argument("--parallel-arms", nargs="*", default=[], help="arms retrieved on worker threads (e.g. dense)")
    ap.add_argument("--dense-backend", choices=["torch", "onnx", "onnx-int8"], default=None,
                    help="the dense query encoder's backend (default: the config's)")
    ap.add_argument("--parts", nargs="+", default=["load", "faults", "fuzz"],
                    choices=["load", "openloop", "faults", "fuzz"])
    ap.add_argument("--rates", type=float, nargs="+", default=[10, 20, 30, 40, 50],
                    help="offered searches/s of the openloop part, one run of --duration each")
    ap.add_argument("--plot", type=Path, default=None, help="latency-against-rate plot of the openloop part (PNG)")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--feedback-share", type=float, default=0.3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--restarts", type=int, default=10)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--kill-after", type=float, nargs=2, default=[2.0, 8.0], metavar=("LOW", "HIGH"),
                    help="seconds of writing before each kill -9 (uniform)")
    ap.add_argument("--fuzz", type=int, default=10_000, help="generated requests (at least)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    ap.add_argument("--snapshot-every", type=int, default=200)
    ap.add_argument("--sync-retrain", action="store_true", help="retrain the policy inside /feedback (before)")
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "ltrr" / "embeddings"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], help="Hydra overrides of configs/train.yaml")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--update", action="store_true", help="keep the parts of an existing --out not run now")
    ap.add_argument("--search-key", default="search", help="JSON key of the load part (e.g. search_no_rerank)")
    ap.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    return ap


@contextlib.contextmanager
def fresh_server(args, state: Path, out: dict):
    """A server on an empty state folder for the duration of the block (its start-up time goes to ``out``)."""
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    server = Server(args, state)
    try:
        out["start_seconds"] = round(server.start(), 1)
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.server:
        serve_main(args)
        return {}
    work = args.work or Path(tempfile.mkdtemp(prefix="ltrr_bench_serve_"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"catalogue": args.catalogue, "rerank": args.rerank if args.rerank == "none" else
                 f"cross-encoder top {args.rerank_top} ({Path(args.cross_model).name}, {args.cross_backend}, "
                 f"{args.cross_max_length} tokens)",
                 "dense_backend": args.dense_backend or "config", "parallel_arms": args.parallel_arms,
                 "concurrency": args.concurrency, "set": args.set}
    cfg, doc_list, queries = catalogue(args)  # the pipeline itself is built by the server process
    out["docs"], out["arms"] = len(doc_list), list(cfg.arms)
    if "load" in args.parts:
        with fresh_server(args, work / "load_state", out) as server:
            out[args.search_key] = asyncio.run(load(server.url, queries, args.duration, args.concurrency,
                                                    args.feedback_share, args.warmup, args.seed))
            out[args.search_key].update(rerank=out["rerank"], dense_backend=out["dense_backend"],
                                        parallel_arms=out["parallel_arms"])
    if "openloop" in args.parts:
        runs = []
        with fresh_server(args, work / "openloop_state", out) as server:
            for i, rate in enumerate(args.rates):
                runs.append(asyncio.run(open_loop(server.url, queries, rate, args.duration, args.feedback_share,
                                                  args.warmup, args.seed + i)))
                log.info("open loop %.0f/s: %s", rate, {k: runs[-1][k] for k in ("rps", "p50_ms", "p99_ms")})
        ok = [r["offered_rps"] for r in runs if r["sustained"] and r["p50_ms"] <= 15 and r["p99_ms"] <= 50]
        out[args.search_key] = {"runs": runs, "rerank": out["rerank"], "dense_backend": out["dense_backend"],
                                "parallel_arms": out["parallel_arms"],
                                "max_rate_within_targets": max(ok) if ok else None}
        if args.plot:
            plot_open_loop(runs, args.plot, out["rerank"])
    if "faults" in args.parts:
        out["faults"] = {**faults(args, queries, work), "rerank": out["rerank"]}
    if "fuzz" in args.parts:
        out["fuzz"] = {**fuzz(args, *build(args, cfg, doc_list)), "rerank": out["rerank"]}
    if args.out:
        if args.update and args.out.exists():
            out = {**json.loads(args.out.read_text()), **out}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
    table(out)
    return out


def plot_open_loop(runs: list[dict], path: Path, title: str) -> None:
    """p50 and p99 of ``/search`` against the offered rate, with the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["offered_rps"] for r in runs]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(x, [r["p50_ms"] for r in runs], "o-", label="p50")
    ax.plot(x, [r["p99_ms"] for r in runs], "s-", label="p99")
    ax.axhline(15, color="C0", ls=":", label="p50 target")
    ax.axhline(50, color="C1", ls=":", label="p99 target")
    ax.set(xlabel="offered searches/s (Poisson arrivals)", ylabel="/search latency, ms", ylim=(0, None),
           title=f"open loop, 2 cores: {title}")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(out: dict) -> None:
    print(f"\n### serve benchmark: {out['catalogue']} ({out['docs']} docs), arms {', '.join(out['arms'])}")
    for key in [k for k in out if k.startswith("search")]:
        s = out[key]
        if "runs" in s:
            print(f"\n{key} (open loop, rerank: {s['rerank']}):")
            print("| offered/s | achieved/s | p50 ms | p99 ms | max in flight | overlapping | sustained | "
                  "server p50 per stage (ms) | /feedback p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|")
            for r in s["runs"]:
                st = ", ".join(f"{k} {v}" for k, v in r["stage_p50_ms"].items())
                print(f"| {r['offered_rps']:g} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_in_flight']} | "
                      f"{r['overlapping_share']:.1%} | {r['sustained']} | {st} | {r['feedback_p50_ms']} / "
                      f"{r['feedback_p99_ms']} |")
            print(f"Highest offered rate with p50 <= 15 ms, p99 <= 50 ms and sustained: {s['max_rate_within_targets']}")
            continue
        print(f"\n{key} (rerank: {s.get('rerank', out['rerank'])}):")
        print("| metric | value | target | met |\n|---|---|---|---|")
        print(f"| /search p50 ms at {s['rps']} searches/s ({s['concurrency']} clients) | {s['p50_ms']} | <= 15 | "
              f"{s['p50_ms'] <= 15} |")
        print(f"| /search p99 ms | {s['p99_ms']} | <= 50 | {s['p99_ms'] <= 50} |")
        print(f"| /feedback p50 / p99 ms | {s['feedback_p50_ms']} / {s['feedback_p99_ms']} | | |")
        print("Server p50 per stage (ms): " + ", ".join(f"{k} {v}" for k, v in s["stage_p50_ms"].items()))
    f = out.get("faults")
    if f:
        print(f"Faults: {f['restarts']} kill -9 restarts under {f['writers']} writers: {f['acknowledged']} "
              f"acknowledged, {f['lost']} lost (target 0), {f['seq_mismatch']} with another sequence number")
    z = out.get("fuzz")
    if z:
        print(f"Fuzz: {z['requests']} generated requests, {z['status_5xx']} 5xx (target 0); statuses {z['by_status']}")


if __name__ == "__main__":
    main()
