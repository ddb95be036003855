"""On-disk embedding cache keyed by model and corpus content.

``ROOT/<model hash>-<texts hash>.npy`` holds the ``(n, dim)`` float32 matrix and ``.json`` beside it a sidecar
(model_id, n, dim, created, texts hash). Both are written to a temporary file and moved into place with
``os.replace``, the sidecar last, so a reader never sees half a file. Hits are memory-mapped (read-only).
A corrupt or mismatching entry is logged as a warning and encoded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ltrr.utils.statefile import atomic_write

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What the cache needs from an encoder (e.g. :class:`~ltrr.encoders.dense.DenseEncoder`)."""

    model_id: str

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 over the texts, order-sensitive; each text is length-prefixed so boundaries cannot shift."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


class EmbeddingCache:
    """Cache of corpus embeddings on disk.

    Parameters
    ----------
    root : path-like
        Cache folder (created when missing).

    Attributes
    ----------
    hits, misses : int
        Lookups served from disk / encoded, since construction.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def paths(self, model_id: str, texts: Sequence[str]) -> tuple[Path, Path, str]:
        """``(npy path, sidecar path, texts digest)`` for this model and these texts."""
        digest = texts_digest(texts)
        key = f"{hashlib.sha256(model_id.encode()).hexdigest()[:16]}-{digest[:32]}"
        return self.root / f"{key}.npy", self.root / f"{key}.json", digest

    def _load(self, npy: Path, side: Path, model_id: str, n: int, digest: str) -> np.ndarray | None:
        """The cached matrix (memory-mapped), or ``None`` after a warning when the entry is unusable."""
        if not npy.is_file() or not side.is_file():
            return None
        try:
            meta = json.loads(side.read_text())
            arr = np.load(npy, mmap_mode="r")
            problems = [f"{k} {meta.get(k)!r} != {v!r}" for k, v in
                        (("model_id", model_id), ("n", n), ("texts_sha256", digest)) if meta.get(k) != v]
            if arr.dtype != np.float32 or arr.shape != (n, meta.get("dim")):
                problems.append(f"array {arr.dtype} {arr.shape} != float32 ({n}, {meta.get('dim')})")
        except (OSError, ValueError) as exc:       # JSONDecodeError and bad .npy headers are ValueErrors
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            log.warning("embedding cache: %s unusable (%s); encoding again", npy, "; ".join(problems))
            return None
        return arr

    def get_or_encode(self, encoder: Encoder, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        """Cached embeddings of ``texts`` under ``encoder.model_id``, encoding and storing them on a miss.

        Parameters
        ----------
        encoder : Encoder
            Has ``model_id`` (str) and ``encode(texts, progress) -> (n, dim) float32``.
        texts : sequence of str, length ``n``
        progress : bool
            Progress bar while encoding.

        Returns
        -------
        numpy.ndarray
            Float32 ``(n, dim)``; a read-only memory map on a hit, the freshly encoded array on a miss.
        """
        model_id = str(encoder.model_id)
        npy, side, digest = self.paths(model_id, texts)
        arr = self._load(npy, side, model_id, len(texts), digest)
        if arr is not None:
            self.hits += 1
            log.info("embedding cache hit: %s (%d x %d)", npy.name, *arr.shape)
            return arr
        self.misses += 1
        log.info("embedding cache miss: encoding %d texts with %s", len(texts), model_id)
        arr = np.ascontiguousarray(encoder.encode(texts, progress=progress), dtype=np.float32)
        if arr.ndim != 2 or len(arr) != len(texts):
            raise ValueError(f"encoder {model_id}: expected ({len(texts)}, dim) embeddings, got {arr.shape}")
        meta = {"model_id": model_id, "n": len(texts), "dim": int(arr.shape[1]), "texts_sha256": digest,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write(npy, lambda fh: np.save(fh, arr))
        atomic_write(side, lambda fh: fh.write(json.dumps(meta, indent=1).encode()))
        return arr
