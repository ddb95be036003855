"""faiss at catalogue scale: memory, recall@10 and QPS of IVF-PQ (plain, OPQ, 4 shards) against exact search.

Data: synthetic clustered unit vectors (seeded) with a low-rank spread around each centre, closer to text
embeddings than isotropic noise: ``x = normalise(centre + latent @ basis + small noise)``. Queries are fresh draws
from the same distribution. Ground truth: exact inner-product top-10 (faiss Flat, batched queries).
For each compressed index: serialized bytes vs Flat bytes (``n * dim * 4``), recall@10 vs exact, and QPS of
one batch of all queries at several ``nprobe``. IVF-Flat (same lists, full vectors) isolates the error of the
partition from that of PQ; "exact re-rank" re-scores IVF-PQ's top ``--rerank`` with the full vectors (which in
production would sit on disk, memory-mapped; the re-rank time is in its QPS). The sharded variant clones the
trained IVF-PQ into ``--shards`` id-range shards under ``faiss.IndexShards`` and must reach the same recall.

faiss' OpenMP threads busy-wait by default; on a shared 2-core machine that made the many small k-means of PQ/OPQ
training 5-10x slower, so this script sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set) before faiss loads.

Usage::

    .venv/bin/python scripts/bench/faiss_scale.py --n 1000000 --dim 384 --queries 1000 --out runs/bench/faiss_1m.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before faiss (libgomp) loads; see the module docstring

import numpy as np  # noqa: E402

from ltrr.indexes.faiss_index import FaissIndex, gpu_count, load_faiss  # noqa: E402
from ltrr.indexes.sharded import ShardedFaissIndex  # noqa: E402
from ltrr.utils.seed import make_rng  # noqa: E402

log = logging.getLogger("faiss_scale")


def synthetic(n: int, dim: int, centers: int, latent: int, spread: float, seed: int, salt: str,
              chunk: int = 100_000) -> np.ndarray:
    """``(n, dim)`` float32 unit vectors: unit centres plus a ``latent``-rank spread of scale ``spread``."""
    base = make_rng(seed, "faiss-scale-space")
    c = base.normal(size=(centers, dim)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    basis = np.linalg.qr(base.normal(size=(dim, latent)))[0].T.astype(np.float32)      # (latent, dim) orthonormal
    scale = (spread / np.sqrt(np.arange(1, latent + 1))).astype(np.float32)             # decaying spectrum
    rng, out = make_rng(seed, "faiss-scale", salt), np.empty((n, dim), np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        z = rng.standard_normal((m, latent), dtype=np.float32) * scale
        x = c[rng.integers(centers, size=m)] + z @ basis + rng.standard_normal((m, dim), dtype=np.float32) * 0.005
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def recall_at(ids: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the exact top-k found in the returned top-k."""
    return float(np.mean([len(np.intersect1d(a, b)) / len(b) for a, b in zip(ids, truth)]))


def timed_search(index, q: np.ndarray, k: int, x: np.ndarray | None = None, rerank: int = 0):
    """Top-``k`` ids and QPS; with ``rerank`` > 0, re-score the index's top-``rerank`` exactly against ``x``."""
    t = time.perf_counter()
    _, ids = index.search(q, rerank or k)
    if rerank:
        scores = np.einsum("qd,qrd->qr", q, x[np.maximum(ids, 0)])
        scores[ids < 0] = -np.inf
        ids = np.take_along_axis(ids, np.argsort(-scores, axis=1)[:, :k], axis=1)
    return ids, len(q) / (time.perf_counter() - t)


def sweep(name: str, index, q, truth, nprobes, build_s: float, flat_bytes: int, k: int,
          x: np.ndarray | None = None, rerank: int = 0) -> list[dict]:
    nbytes, rows = index.nbytes, []
    name = f"{name} + exact re-rank of top {rerank}" if rerank else name
    for p in nprobes:
        index.set_params(nprobe=p)
        ids, qps = timed_search(index, q, k, x, rerank)
        rows.append({"index": name, "nprobe": p, "bytes": nbytes, "bytes_vs_flat": nbytes / flat_bytes,
                     f"recall@{k}": recall_at(ids, truth), "qps": qps, "build_s": build_s})
        log.info("%s nprobe=%d: R@%d %.3f, %.0f q/s", name, p, k, rows[-1][f"recall@{k}"], qps)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", required=True, help="JSON results file")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--m", type=int, default=48, help="PQ sub-quantizers (bytes per vector)")
    ap.add_argument("--train-size", type=int, default=65_536)
    ap.add_argument("--nprobe", default="1,4,16,64")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--no-opq", action="store_true", help="skip the OPQ variant (its training is the slowest step)")
    ap.add_argument("--rerank", type=int, default=100, help="re-rank depth for the re-rank rows (0: none)")
    ap.add_argument("--no-ivfflat", action="store_true", help="skip IVF-Flat (partition error only, Flat memory)")
    ap.add_argument("--centers", type=int, default=2000)
    ap.add_argument("--latent", type=int, default=48)
    ap.add_argument("--spread", type=float, default=0.3, help="scale of the spread around centres (unit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--use-gpu", default="auto", choices=["auto", "true", "false"])
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    use_gpu = {"auto": "auto", "true": True, "false": False}[args.use_gpu]
    faiss, t_all, k = load_faiss(), time.perf_counter(), args.k
    nprobes = [int(p) for p in args.nprobe.split(",")]

    t = time.perf_counter()
    shape = (args.dim, args.centers, args.latent, args.spread, args.seed)
    x, q = synthetic(args.n, *shape, "base"), synthetic(args.queries, *shape, "queries")
    gen_s = time.perf_counter() - t
    flat = FaissIndex(args.dim, "Flat", use_gpu=use_gpu)
    flat.add(x)
    truth, flat_qps = [], 0.0
    t = time.perf_counter()
    for s in range(0, len(q), 250):                           # batched exact search
        truth.append(flat.search(q[s:s + 250], k)[1])
    truth, flat_qps = np.concatenate(truth), len(q) / (time.perf_counter() - t)
    on_gpu, flat_bytes = flat.on_gpu, args.n * args.dim * 4
    del flat
    rows = [{"index": "Flat (exact)", "nprobe": None, "bytes": flat_bytes, "bytes_vs_flat": 1.0,
             f"recall@{k}": 1.0, "qps": flat_qps, "build_s": 0.0}]

    pq = f"IVF{args.nlist},PQ{args.m}"
    factories = ([] if args.no_ivfflat else [f"IVF{args.nlist},Flat"]) + [pq]
    factories += [] if args.no_opq else [f"OPQ{args.m},{pq}"]
    plain = None
    for factory in factories:
        t = time.perf_counter()
        idx = FaissIndex(args.dim, factory, use_gpu=use_gpu, train_size=args.train_size, seed=args.seed)
        idx.add(x)
        build_s = time.perf_counter() - t
        rows += sweep(factory, idx, q, truth, nprobes, build_s, flat_bytes, k)
        if factory == pq:
            plain = idx
            if args.rerank:
                rows += sweep(factory, idx, q, truth, nprobes, build_s, flat_bytes, k, x, args.rerank)
        del idx
    t = time.perf_counter()
    sharded = ShardedFaissIndex(args.dim, pq, n_shards=args.shards, template=plain.cpu_index())
    sharded.add(x)
    rows += sweep(f"{pq} x{args.shards} shards", sharded, q, truth, nprobes, time.perf_counter() - t,
                  flat_bytes, k)

    machine = {"cpu_count": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "platform": platform.platform(),
               "faiss": faiss.__version__, "omp_threads": faiss.omp_get_max_threads(), "gpus": gpu_count(faiss),
               "path": "GPU" if on_gpu else "CPU", "numpy": np.__version__,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    result = {"args": vars(args), "machine": machine, "gen_s": gen_s, "total_s": time.perf_counter() - t_all,
              "rows": rows}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"n={args.n} dim={args.dim} queries={args.queries} {machine['path']} faiss {machine['faiss']} "
          f"{machine['omp_threads']} threads; total {result['total_s']:.0f} s")
    print(f"| index | nprobe | MB | vs Flat | R@{k} | QPS | build s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['index']} | {r['nprobe'] or '-'} | {r['bytes'] / 2**20:.1f} | {r['bytes_vs_flat']:.3f} | "
              f"{r[f'recall@{k}']:.3f} | {r['qps']:.0f} | {r['build_s']:.1f} |")


if __name__ == "__main__":
    main()
