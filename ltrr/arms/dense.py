"""Dense bi-encoder arm: documents embedded once into a faiss index, queries embedded on the fly."""

from __future__ import annotations

from typing import Sequence

from ltrr.arms.base import Arm
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
    """

    score_scale = 0.5

    def __init__(self, docs: Sequence[Doc], encoder: DenseEncoder, name: str = "dense", factory: str = "Flat",
                 use_gpu: str | bool = "auto", progress: bool = True) -> None:
        super().__init__(docs, name)
        self.encoder = encoder
        self.index = FaissIndex(encoder.dim, factory, use_gpu)
        self.index.add(encoder.encode([d.full_text for d in docs], progress=progress))

    def _search(self, query: Query, k: int) -> ArmResult:
        return self._search_batch([query], k)[0]

    def _search_batch(self, queries: Sequence[Query], k: int) -> list[ArmResult]:
        if not queries:
            return []
        scores, ids = self.index.search(self.encoder.encode([q.text for q in queries]), k)
        return [self._result(row_ids[row_ids >= 0], row_sc[row_ids >= 0]) for row_ids, row_sc in zip(ids, scores)]

