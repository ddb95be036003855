"""Thin faiss wrapper: build from a factory string, search in batches, GPU when present, CPU otherwise."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


class FaissIndex:
    """Inner-product ANN index over unit vectors.

    Parameters
    ----------
    dim : int
        Vector size.
    factory : str
        faiss index factory string (``"Flat"``, ``"HNSW32"``, ``"IVF256,Flat"``).
    use_gpu : {"auto", True, False}
        ``auto`` moves the index to GPU 0 when faiss sees one.
    """

    def __init__(self, dim: int, factory: str = "Flat", use_gpu: str | bool = "auto") -> None:
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs failed SIMD probes at INFO
        import faiss

        self.dim, self.factory = dim, factory
        self.index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        n_gpu = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
        self.on_gpu = bool(n_gpu > 0 and use_gpu in ("auto", True))
        if use_gpu is True and not self.on_gpu:
            log.warning("faiss: GPU requested but none visible; using CPU")
        if self.on_gpu:
            self.index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, self.index)
        log.info("faiss %s index on %s", factory, "GPU" if self.on_gpu else "CPU")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Add vectors, shape ``(n, dim)``; trains the index first when it needs training."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.index.is_trained:
            self.index.train(x)
        self.index.add(x)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` search.

        Parameters
        ----------
        queries : numpy.ndarray, shape ``(m, dim)``
        k : int

        Returns
        -------
        scores : numpy.ndarray, shape ``(m, k)``
        ids : numpy.ndarray, shape ``(m, k)``
            Row positions of the added vectors; ``-1`` pads when fewer than ``k`` exist.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        return self.index.search(q, min(k, max(len(self), 1)))
