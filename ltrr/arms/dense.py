"""Dense bi-encoder arm: documents embedded once into a faiss index, queries embedded on the fly."""

from __future__ import annotations

from typing import Mapping, Sequence

from ltrr.arms.base import Arm
from ltrr.encoders.cache import EmbeddingCache
from ltrr.encoders.dense import DenseEncoder
from ltrr.indexes.faiss_index import FaissIndex
from ltrr.types import ArmResult, Doc, Query


class DenseArm(Arm):
    """Cosine similarity between encoder embeddings of query and ``title + text``.

    Parameters
    ----------
    docs : sequence of Doc
    encoder : DenseEncoder
    name : str
    factory : str
        faiss factory string.
    use_gpu : {"auto", True, False}
    progress : bool
        Progress bar while encoding the catalogue.
    cache_dir : str or None
        Folder of the on-disk embedding cache (keyed by model and corpus); ``None`` disables it.
    search_params : mapping of str to float, optional
        faiss search-time knobs, e.g. ``{"efSearch": 256}`` for ``HNSW32`` or ``{"nprobe": 32}`` for IVF.
    """

    score_scale = 0.5

    def __init__(self, docs: Sequence[Doc], encoder: DenseEncoder, name: str = "dense", factory: str = "Flat",
                 use_gpu: str | bool = "auto", progress: bool = True, cache_dir: str | None = None,
                 search_params: Mapping[str, float] | None = None) -> None:
        super().__init__(docs, name)
        self.encoder = encoder
        self.index = FaissIndex(encoder.dim, factory, use_gpu)
        texts = [d.full_text for d in docs]
        if cache_dir:
            vectors = EmbeddingCache(cache_dir).get_or_encode(encoder, texts, progress=progress)
        else:
            vectors = encoder.encode(texts, progress=progress)
        self.index.add(vectors)
        if search_params:
            self.index.set_params(**dict(search_params))

    def _search(self, query: Query, k: int) -> ArmResult:
        return self._search_batch([query], k)[0]

    def _search_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        if not queries:
            return []
        scores, ids = self.index.search(self.encoder.encode([q.text for q in queries]), k)
        return [self._result(row_ids[row_ids >= 0], row_sc[row_ids >= 0]) for row_ids, row_sc in zip(ids, scores)]

