"""BM25 full-text arm on tantivy: named fields with per-field boosts, English stemming and stop words."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ltrr.arms.base import Arm
from ltrr.indexes.tantivy_index import TantivyIndex
from ltrr.types import ArmResult, Doc, Query


def field_value(doc: Doc, field: str) -> Any:
    """``title``, ``text`` and ``body`` (title + text) come from the Doc; any other name from its metadata."""
    if field == "title":
        return doc.title
    if field == "text":
        return doc.text
    if field == "body":
        return doc.full_text
    return doc.metadata.get(field)


class BM25Arm(Arm):
    """BM25 (tantivy: Lucene's formula, k1 = 1.2, b = 0.75) summed over query words, best field per word.

    Parameters
    ----------
    docs : sequence of Doc
    name : str
    fields : mapping of str to float
        Field -> boost. ``body`` is title + text as one field (BEIR's usual "flat" setting); ``title``,
        ``text`` or any metadata key (``artist``, ``album``, ...) index that part alone.
    analyzer : {"en", "names"}
        ``en`` stems and drops English stop words; ``names`` only folds case and accents.
    tie_breaker : float
        Weight of the non-best fields in each word's ``dis_max``.
    """

    score_scale = 10.0

    def __init__(self, docs: Sequence[Doc], name: str = "bm25", fields: Mapping[str, float] | None = None,
                 analyzer: str = "en", tie_breaker: float = 0.1) -> None:
        super().__init__(docs, name)
        self.boosts = dict(fields or {"body": 1.0})
        if not self.boosts or any(b < 0 for b in self.boosts.values()):
            raise ValueError(f"arm {name!r}: 'fields' must map field names to boosts >= 0, got {self.boosts}")
        self.tie_breaker = tie_breaker
        self.index = TantivyIndex({f: analyzer for f in self.boosts})
        self.index.add([{f: field_value(d, f) for f in self.boosts} for d in docs])

    def _search(self, query: Query, k: int) -> ArmResult:
        pos, scores = self.index.search(self.index.text_query(query.text, self.boosts, self.tie_breaker), k)
        return self._result(pos, scores)
