"""CPU sharding: one catalogue split by id range over N faiss sub-indexes, searched together by ``faiss.IndexShards``.

All shards are clones of one trained template (same IVF centroids and PQ codebooks), so with the same search
parameters the merged top-k equals the unsharded index's top-k. Shards can be saved, moved and loaded one by one.
On GPUs use ``FaissIndex(..., shard=True)`` instead, which spreads one index over all visible GPUs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ltrr.indexes.faiss_index import as_matrix, load_faiss, set_index_params, train_index

log = logging.getLogger(__name__)


class ShardedFaissIndex:
    """Inner-product index over ``n_shards`` faiss sub-indexes with global row ids.

    Each :meth:`add` call gives its rows the next global ids and splits them into ``n_shards`` contiguous id
    ranges, one per shard. Same ``add`` / ``search`` / ``set_params`` / ``save`` API as
    :class:`~ltrr.indexes.faiss_index.FaissIndex`.

    Parameters
    ----------
    dim : int
        Vector size.
    factory : str
        faiss factory string of each shard.
    n_shards : int
        Number of sub-indexes.
    train_size, seed : int
        Size and seed of the training sample (IVF/PQ).
    params : dict, optional
        Search-time parameters (``nprobe``, ``efSearch``).
    template : faiss.Index, optional
        An already trained index to clone (its vectors are not copied), e.g. ``FaissIndex(...).cpu_index()``.
    threaded : bool
        Search the shards in parallel threads.
    """

    def __init__(self, dim: int, factory: str = "Flat", n_shards: int = 2, train_size: int = 100_000, seed: int = 0,
                 params: dict | None = None, template=None, threaded: bool = True,
                 _shards: list | None = None) -> None:
        if n_shards < 1:
            raise ValueError(f"n_shards must be >= 1, got {n_shards}")
        self._faiss = faiss = load_faiss()
        self.dim, self.factory, self.n_shards = dim, factory, n_shards
        self.train_size, self.seed, self.params = train_size, seed, dict(params or {})
        self.on_gpu = False
        self.template = template if template is not None else faiss.index_factory(dim, factory,
                                                                                  faiss.METRIC_INNER_PRODUCT)
        self.index = faiss.IndexShards(dim, threaded, False)  # successive_ids=False: shards hold global ids
        self.shards: list = []
        if _shards is not None or self.template.is_trained:
            self._make_shards(_shards)

    def _wrap(self, sub):
        """IVF indexes store ids natively; others need an IndexIDMap to hold global ids."""
        return sub if self._faiss.try_extract_index_ivf(sub) is not None else self._faiss.IndexIDMap(sub)

    def _make_shards(self, subs: list | None = None) -> None:
        if subs is None:
            subs = []
            for _ in range(self.n_shards):
                sub = self._faiss.clone_index(self.template)
                sub.reset()
                subs.append(self._wrap(sub))
        self.shards = subs
        for sub in subs:
            self.index.add_shard(sub)
        self.index.syncWithSubIndexes()
        if self.params:
            set_index_params(self._faiss, self.index, self.params)
        log.info("faiss %s on CPU (%d shards)", self.factory, self.n_shards)

    def __len__(self) -> int:
        return int(sum(s.ntotal for s in self.shards))

    @property
    def is_trained(self) -> bool:
        return bool(self.shards)

    def add(self, vectors: np.ndarray) -> None:
        """Add vectors, shape ``(n, dim)``, with ids ``len(self) .. len(self)+n-1``; trains the template first."""
        x = as_matrix(vectors, self.dim)
        if not self.shards:
            train_index(self.template, x, self.train_size, self.seed, self.factory)
            self._make_shards()
        ids = np.arange(len(self), len(self) + len(x), dtype=np.int64)
        for sub, part in zip(self.shards, np.array_split(np.arange(len(x)), self.n_shards)):
            if len(part):
                sub.add_with_ids(x[part[0]:part[-1] + 1], ids[part[0]:part[-1] + 1])
        self.index.syncWithSubIndexes()

    def set_params(self, **params: float) -> None:
        """Set search-time parameters on every shard, e.g. ``set_params(nprobe=32)``."""
        set_index_params(self._faiss, self.index, params)
        self.params.update(params)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` over all shards: ``scores``, ``ids`` of shape ``(m, min(k, len(self)))``; ids are global."""
        q = as_matrix(queries, self.dim, "queries")
        return self.index.search(q, min(k, max(len(self), 1)))

    @property
    def nbytes(self) -> int:
        """Total serialized size of the shards in bytes."""
        return int(sum(self._faiss.serialize_index(s).nbytes for s in self.shards))

    def save(self, path: str | Path) -> None:
        """Write ``path/shard-000.faiss`` ... and ``path/meta.json`` (``path`` is a folder)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, sub in enumerate(self.shards):
            self._faiss.write_index(sub, str(path / f"shard-{i:03d}.faiss"))
        meta = {"dim": self.dim, "factory": self.factory, "n_shards": self.n_shards, "params": self.params}
        (path / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | Path) -> "ShardedFaissIndex":
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"{meta_file}: sharded index metadata not found")
        meta = json.loads(meta_file.read_text())
        files = [path / f"shard-{i:03d}.faiss" for i in range(meta["n_shards"])]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{path}: missing shard files {missing}")
        faiss = load_faiss()
        return cls(meta["dim"], meta["factory"], meta["n_shards"], params=meta["params"],
                   _shards=[faiss.read_index(str(f)) for f in files])
