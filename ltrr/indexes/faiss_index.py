"""faiss wrapper: build from a factory string, train on a sample, search in batches, save/load, GPU when present.

Factory strings (inner-product metric): ``"Flat"``, ``"HNSW32"``, ``"IVF1024,Flat"``, ``"IVF1024,PQ48"``,
``"OPQ48,IVF1024,PQ48"``. Search-time knobs (``nprobe``, ``efSearch``) go through :meth:`FaissIndex.set_params`.
The GPU path needs the ``faiss-gpu`` wheel (``pip install .[gpu]``); ``faiss-cpu`` always takes the CPU path.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)


def load_faiss():
    """Import faiss (quietening its loader, which logs failed SIMD probes at INFO). Tests monkeypatch this.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` unless set, before faiss' bundled OpenMP runtime loads (no effect if faiss
    was imported earlier): spinning OpenMP threads made PQ/OPQ training 5-40x slower on a loaded 2-core machine.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


def gpu_count(faiss_module) -> int:
    """GPUs this faiss build can use: 0 for faiss-cpu (no ``StandardGpuResources``) or when none is visible."""
    if hasattr(faiss_module, "StandardGpuResources") and faiss_module.get_num_gpus() > 0:
        return int(faiss_module.get_num_gpus())
    return 0


def as_matrix(x: np.ndarray, dim: int, name: str = "vectors") -> np.ndarray:
    """C-contiguous float32 ``(n, dim)`` view of ``x``; a clear ValueError otherwise."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name}: expected shape (n, {dim}), got {x.shape}")
    return x


def train_sample(x: np.ndarray, train_size: int, seed: int) -> np.ndarray:
    """At most ``train_size`` rows of ``x``, drawn without replacement (sorted for locality), seeded."""
    if len(x) <= train_size:
        return x
    rows = np.sort(make_rng(seed, "faiss-train").choice(len(x), size=train_size, replace=False))
    return np.ascontiguousarray(x[rows])


def set_index_params(faiss_module, index, params: dict, gpu: bool = False) -> None:
    """Apply search-time parameters (``nprobe``, ``efSearch``, ...) through faiss' ParameterSpace.

    ParameterSpace recurses through IndexPreTransform (OPQ), IndexIDMap, IndexShards and IndexReplicas.
    """
    space = faiss_module.GpuParameterSpace() if gpu else faiss_module.ParameterSpace()
    for name, value in params.items():
        try:
            space.set_index_parameter(index, name, float(value))
        except RuntimeError as exc:
            raise ValueError(f"search parameter {name}={value!r} does not apply to this index") from exc


def train_index(index, x: np.ndarray, train_size: int, seed: int, factory: str) -> None:
    """Train ``index`` (IVF centroids, PQ/OPQ codebooks) on a seeded sample of ``x``.

    Polysemous training, which ``index_factory`` switches on for PQ and which only serves Hamming-threshold
    search (unused here), is switched off: it took ~60 s of a ~1 s PQ48 training on this machine.
    """
    faiss = load_faiss()
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexPreTransform):
        inner = faiss.downcast_index(inner.index)
    if hasattr(inner, "do_polysemous_training"):
        inner.do_polysemous_training = False
    sample = train_sample(x, train_size, seed)
    log.info("faiss %s: training on %d of %d vectors", factory, len(sample), len(x))
    try:
        index.train(sample)
    except RuntimeError as exc:
        raise ValueError(f"faiss {factory}: training on {len(sample)} vectors failed "
                         f"(IVF needs at least nlist points): {exc}") from exc


class FaissIndex:
    """Inner-product ANN index over unit vectors.

    Parameters
    ----------
    dim : int
        Vector size.
    factory : str
        faiss index factory string (``"Flat"``, ``"HNSW32"``, ``"IVF256,Flat"``, ``"IVF1024,PQ48"``).
    use_gpu : {"auto", True, False}
        ``auto`` uses the GPU(s) when faiss sees one; ``True`` without a GPU warns and falls back to CPU.
    shard : bool
        With several GPUs: split the vectors across them (``True``) or replicate the index on each (``False``).
    train_size : int
        Vectors sampled (seeded) to train IVF/PQ indexes, instead of all of them.
    seed : int
        Seed of the training sample.
    params : dict, optional
        Search-time parameters applied at once, e.g. ``{"nprobe": 16}``.
    """

    def __init__(self, dim: int, factory: str = "Flat", use_gpu: str | bool = "auto", shard: bool = False,
                 train_size: int = 100_000, seed: int = 0, params: dict | None = None, _index=None) -> None:
        self._faiss = faiss = load_faiss()
        self.dim, self.factory, self.shard = dim, factory, shard
        self.train_size, self.seed, self.params = train_size, seed, dict(params or {})
        self.n_gpu = gpu_count(faiss) if use_gpu in ("auto", True) else 0
        if use_gpu is True and not self.n_gpu:
            log.warning("faiss: GPU requested but none visible; using CPU")
        if self.n_gpu and "HNSW" in factory:
            log.warning("faiss: %s has no GPU version; using CPU", factory)
            self.n_gpu = 0
        self.on_gpu = self.n_gpu > 0
        self.index = _index if _index is not None else faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        if self.index.is_trained:  # else placed (and logged) after training
            self._place()

    def _place(self) -> None:
        """Move the (trained) CPU index to the GPU(s) when that path is on, then apply the search params."""
        f = self._faiss
        if self.n_gpu == 1:
            self._res = f.StandardGpuResources()
            self.index = f.index_cpu_to_gpu(self._res, 0, self.index)
        elif self.n_gpu > 1:
            opts = f.GpuMultipleClonerOptions()
            opts.shard = self.shard
            self.index = f.index_cpu_to_all_gpus(self.index, co=opts, ngpu=self.n_gpu)
        if self.on_gpu:
            how = "" if self.n_gpu == 1 else (", sharded" if self.shard else ", replicated")
            log.info("faiss %s on GPU (n=%d%s)", self.factory, self.n_gpu, how)
        else:
            log.info("faiss %s on CPU", self.factory)
        if self.params:
            set_index_params(f, self.index, self.params, gpu=self.on_gpu)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_trained(self) -> bool:
        return bool(self.index.is_trained)

    def train(self, vectors: np.ndarray) -> None:
        """Train on a sample of ``vectors`` (shape ``(n, dim)``) on CPU, then move to the GPU(s) if on."""
        if self.is_trained:
            raise ValueError(f"faiss {self.factory}: index is already trained")
        train_index(self.index, as_matrix(vectors, self.dim), self.train_size, self.seed, self.factory)
        self._place()

    def add(self, vectors: np.ndarray) -> None:
        """Add vectors, shape ``(n, dim)``; ids are consecutive row positions. Trains first when needed."""
        x = as_matrix(vectors, self.dim)
        if not self.is_trained:
            self.train(x)
        self.index.add(x)

    def set_params(self, **params: float) -> None:
        """Set search-time parameters, e.g. ``set_params(nprobe=32)`` or ``set_params(efSearch=128)``."""
        set_index_params(self._faiss, self.index, params, gpu=self.on_gpu)
        self.params.update(params)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` search.

        Parameters
        ----------
        queries : numpy.ndarray, shape ``(m, dim)``
        k : int

        Returns
        -------
        scores : numpy.ndarray, shape ``(m, min(k, len(self)))``
        ids : numpy.ndarray, shape ``(m, min(k, len(self)))``
            Row positions of the added vectors; ``-1`` pads when fewer than ``k`` are found.
        """
        q = as_matrix(queries, self.dim, "queries")
        return self.index.search(q, min(k, max(len(self), 1)))

    def cpu_index(self):
        """The index as a CPU faiss index (a copy when it lives on GPU)."""
        return self._faiss.index_gpu_to_cpu(self.index) if self.on_gpu else self.index

    @property
    def nbytes(self) -> int:
        """Size in bytes of the serialized index (what :meth:`save` writes; serializes once to measure)."""
        return int(self._faiss.serialize_index(self.cpu_index()).nbytes)

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` (GPU indexes are copied to CPU first) and ``path.json`` with its settings."""
        path = Path(path)
        self._faiss.write_index(self.cpu_index(), str(path))
        meta = {"dim": self.dim, "factory": self.factory, "params": self.params, "ntotal": len(self)}
        Path(f"{path}.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | Path, use_gpu: str | bool = "auto", shard: bool = False) -> "FaissIndex":
        """Read an index written by :meth:`save` (the JSON sidecar is optional)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: faiss index file not found")
        index = load_faiss().read_index(str(path))
        side = Path(f"{path}.json")
        meta = json.loads(side.read_text()) if side.is_file() else {}
        return cls(index.d, meta.get("factory", "unknown"), use_gpu=use_gpu, shard=shard,
                   params=meta.get("params"), _index=index)
