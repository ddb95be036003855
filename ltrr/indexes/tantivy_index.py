"""A tantivy full-text index over named fields, queried only through query objects built from tokens.

User text never reaches tantivy's query parser: it is split by the same analyzer the index uses and every
token becomes a ``term_query`` (or ``fuzzy_term_query``), so quotes, ``field:value``, ``AND``/``OR``/``NOT``,
brackets, emoji or control characters are plain words or nothing at all.
"""

from __future__ import annotations

import logging
from typing import Iterable, Mapping, Sequence

import numpy as np
import tantivy
from tantivy import Filter, Occur, Query, TextAnalyzerBuilder, Tokenizer

log = logging.getLogger(__name__)

ANALYZERS = ("en", "names")
"""``en``: lowercase, ASCII folding, English stop words, Snowball stemming (prose);
``names``: lowercase and ASCII folding only (titles, artist names: "Let It Be" keeps every word)."""
MAX_QUERY_TOKENS = 64
"""Tokens kept from a query (a 10 kB paste becomes a 64-term query, not a 10,000-term one)."""


def build_analyzer(kind: str) -> tantivy.TextAnalyzer:
    """The tantivy analyzer named ``kind`` (one of :data:`ANALYZERS`)."""
    if kind not in ANALYZERS:
        raise ValueError(f"analyzer must be one of {ANALYZERS}, got {kind!r}")
    b = TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(40)).filter(Filter.lowercase())
    b = b.filter(Filter.ascii_fold())
    if kind == "en":
        b = b.filter(Filter.stopword("english")).filter(Filter.stemmer("english"))
    return b.build()


class TantivyIndex:
    """BM25 over several text fields, with numeric fast fields for filters and priors.

    Parameters
    ----------
    text_fields : mapping of str to str
        Field name -> analyzer name (see :data:`ANALYZERS`).
    numeric_fields : iterable of str
        Float fields (indexed and fast) usable in :meth:`range_filter`.
    heap_mb : int
        Indexing memory budget.
    """

    def __init__(self, text_fields: Mapping[str, str], numeric_fields: Iterable[str] = (), heap_mb: int = 200) -> None:
        if not text_fields:
            raise ValueError("TantivyIndex needs at least one text field")
        self.text_fields = dict(text_fields)
        self.numeric_fields = list(numeric_fields)
        self.analyzers = {kind: build_analyzer(kind) for kind in set(self.text_fields.values()) | {"names"}}
        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("pos", stored=False, indexed=False, fast=True)
        for name, kind in self.text_fields.items():
            sb.add_text_field(name, stored=False, tokenizer_name=f"ltrr_{kind}")
        for name in self.numeric_fields:
            sb.add_float_field(name, stored=False, indexed=True, fast=True)
        self.schema = sb.build()
        self.index = tantivy.Index(self.schema)
        for kind, analyzer in self.analyzers.items():
            self.index.register_tokenizer(f"ltrr_{kind}", analyzer)
        self.heap_mb = heap_mb
        self.n_docs = 0

    def add(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Index documents; row ``i`` gets position ``n_docs + i``.

        Parameters
        ----------
        rows : sequence of mapping
            Field name -> value (text fields: str; numeric fields: float). Missing fields are left empty.
        """
        writer = self.index.writer(heap_size=self.heap_mb * 1_000_000, num_threads=1)
        for i, row in enumerate(rows):
            doc = tantivy.Document(pos=self.n_docs + i)
            for name in self.text_fields:
                if row.get(name):
                    doc.add_text(name, str(row[name]))
            for name in self.numeric_fields:
                if row.get(name) is not None:
                    doc.add_float(name, float(row[name]))
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.n_docs += len(rows)
        log.info("tantivy index: %d docs, fields %s", self.n_docs, self.text_fields)

    def words(self, text: str) -> list[str]:
        """Folded words of ``text`` (no stemming, no stop-word removal), at most :data:`MAX_QUERY_TOKENS`."""
        return self.analyzers["names"].analyze(text[:4000])[:MAX_QUERY_TOKENS]

    def analyze(self, word: str, field: str) -> list[str]:
        """Index terms of ``word`` as ``field``'s analyzer produces them (empty for a stop word)."""
        return self.analyzers[self.text_fields[field]].analyze(word)

    def term(self, field: str, token: str, boost: float = 1.0, fuzzy: int = 0) -> Query:
        """A BM25 term query, or a fuzzy one (edit distance ``fuzzy``, constant score) when ``fuzzy > 0``."""
        q = (Query.fuzzy_term_query(self.schema, field, token, distance=fuzzy) if fuzzy
             else Query.term_query(self.schema, field, token))
        return q if boost == 1.0 else Query.boost_query(q, boost)

    def word_query(self, word: str, boosts: Mapping[str, float], tie_breaker: float = 0.1,
                   fuzzy: int = 0, fuzzy_weight: float = 0.5) -> Query | None:
        """Best field match of one word: ``dis_max`` over fields of BM25 terms (plus fuzzy terms when asked)."""
        alts = []
        for f, b in boosts.items():
            for tok in self.analyze(word, f) if b > 0 else ():
                alts.append(self.term(f, tok, b))
                if fuzzy:
                    alts.append(self.term(f, tok, b * fuzzy_weight, fuzzy=fuzzy))
        if not alts:
            return None
        return alts[0] if len(alts) == 1 else Query.disjunction_max_query(alts, tie_breaker)

    def text_query(self, text: str, boosts: Mapping[str, float], tie_breaker: float = 0.1) -> Query | None:
        """Sum over the words of :meth:`word_query`; ``None`` when no word yields a term."""
        kinds = {self.text_fields[f] for f, b in boosts.items() if b > 0}
        if len(kinds) == 1:  # one analyzer for every field: analyse the text once
            toks = self.analyzers[kinds.pop()].analyze(text[:4000])[:MAX_QUERY_TOKENS]
            fields = [(f, b) for f, b in boosts.items() if b > 0]
            clauses = [(Occur.Should, self.term(fields[0][0], t, fields[0][1]) if len(fields) == 1 else
                        Query.disjunction_max_query([self.term(f, t, b) for f, b in fields], tie_breaker))
                       for t in toks]
        else:
            clauses = [(Occur.Should, q) for w in self.words(text)
                       if (q := self.word_query(w, boosts, tie_breaker)) is not None]
        return Query.boolean_query(clauses) if clauses else None

    def range_filter(self, field: str, lo: float | None, hi: float | None) -> Query:
        """Documents whose ``field`` lies in ``[lo, hi]`` (open ends allowed), scoring 0."""
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        q = Query.range_query(self.schema, field, tantivy.FieldType.Float, float(lo), float(hi))
        return Query.const_score_query(q, 0.0)

    def search(self, query: Query | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` positions and BM25 scores, best first (empty arrays for ``None`` or no match).

        Returns
        -------
        positions : numpy.ndarray of int, shape ``(n,)``, ``n <= k``
        scores : numpy.ndarray of float, shape ``(n,)``
        """
        if query is None or k <= 0 or self.n_docs == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        hits = self.searcher.search(query, int(k), count=False).hits
        if not hits:
            return np.zeros(0, dtype=int), np.zeros(0)
        pos = np.asarray(self.searcher.fast_field_values("pos", [a for _, a in hits]), dtype=int)
        return pos, np.asarray([s for s, _ in hits], dtype=float)
