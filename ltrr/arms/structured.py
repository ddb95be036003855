"""Structured search driven by query understanding: slots become field boosts, filters and priors.

The query is spelling-corrected and tagged (:class:`~ltrr.qu.tagger.QueryUnderstanding`). Then

- every word is matched against the name fields (title, artist, album) and the body text, its tagged field
  boosted by ``slot_boost``; a tagged multi-word name also earns a phrase bonus; words the speller could not
  place are matched with fuzzy terms (typo tolerance);
- a year or decade and an entity type become filters (dropped again if nothing passes them);
- moods and activities reward items whose ``mood`` / ``activity`` metadata match or, on catalogues with
  Spotify audio features, whose features fall in the facet's range; "new" rewards recent items;
- a popularity prior is added: ``score + popularity_weight * popularity / max_popularity * top_score``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from tantivy import Occur, Query

from ltrr.arms.base import Arm
from ltrr.arms.explore import item_ages
from ltrr.arms.lexical import field_value
from ltrr.indexes.tantivy_index import TantivyIndex
from ltrr.qu.lexicon import FACETS
from ltrr.qu.tagger import ParsedQuery, QueryUnderstanding
from ltrr.types import ArmResult, Doc
from ltrr.types import Query as UserQuery
from ltrr.utils.text import name_variants

NAME_FIELDS = ("title", "artist", "album")
CATEGORIES = ("type", "mood", "activity", "genre")
RANGES = {(f.slot, f.value): f.ranges for f in FACETS}


def _ages(docs: Sequence[Doc]) -> list[float | None]:
    """Item ages in days (:func:`~ltrr.arms.explore.item_ages`); ``None`` where unknown or when no item is dated."""
    if not any(d.metadata.get(f) not in (None, "") for d in docs for f in ("added_days_ago", "release_date", "year")):
        return [None] * len(docs)
    return [float(a) if np.isfinite(a) else None for a in item_ages(docs)]


def _row(doc: Doc, age: float | None, features: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {f: field_value(doc, f) for f in NAME_FIELDS + ("body",) + CATEGORIES}
    for f in NAME_FIELDS:  # index "Don't" also as "Dont", the way it is often typed
        if row[f]:
            row[f] = " | ".join(name_variants(str(row[f])))
    row["year"] = doc.metadata.get("year")
    row["age_days"] = age
    audio = doc.metadata.get("audio_features") or {}
    row.update({f: audio.get(f) for f in features})
    return row


class StructuredArm(Arm):
    """Field-aware search with slots from query understanding, typo tolerance and a popularity prior.

    Parameters
    ----------
    docs : sequence of Doc
    name : str
    fields : mapping of str to float
        Boost per searchable field (``title``, ``artist``, ``album``: names; ``body``: stemmed title + text).
    slot_boost : float
        Extra factor on the field a word was tagged with.
    phrase_boost : float
        Boost of the exact phrase of a tagged multi-word name.
    facet_boost : float
        Score added for matching a mood, activity or "new".
    fresh_days : float
        Age limit of a "new" item.
    popularity_weight : float
        Weight of the popularity prior (0 disables it).
    fuzzy_weight : float
        Weight of a fuzzy term relative to an exact one.
    pool : int
        Hits fetched before the prior re-orders them.
    """

    score_scale = 10.0

    def __init__(self, docs: Sequence[Doc], name: str = "structured", fields: Mapping[str, float] | None = None,
                 slot_boost: float = 2.0, phrase_boost: float = 2.0, facet_boost: float = 1.5,
                 fresh_days: float = 30.0, popularity_weight: float = 0.3, fuzzy_weight: float = 0.7,
                 pool: int = 200) -> None:
        super().__init__(docs, name)
        self.boosts = dict(fields or {"title": 3.0, "artist": 3.0, "album": 1.5, "body": 1.0})
        unknown = set(self.boosts) - set(NAME_FIELDS) - {"body"}
        if unknown:
            raise ValueError(f"arm {name!r}: unknown fields {sorted(unknown)}; use {NAME_FIELDS + ('body',)}")
        self.slot_boost, self.phrase_boost, self.facet_boost = slot_boost, phrase_boost, facet_boost
        self.fresh_days, self.popularity_weight, self.fuzzy_weight, self.pool = \
            fresh_days, popularity_weight, fuzzy_weight, pool
        self.qu = QueryUnderstanding(docs)
        self.audio = sorted({f for d in docs for f in (d.metadata.get("audio_features") or {})})
        text = {f: "names" for f in NAME_FIELDS + CATEGORIES}
        text["body"] = "en"
        self.index = TantivyIndex(text, ["year", "age_days"] + self.audio)
        self.index.add([_row(d, age, self.audio) for d, age in zip(docs, _ages(docs))])
        self.has = {c: any(d.metadata.get(c) for d in docs) for c in CATEGORIES}
        pop = np.array([float(d.metadata.get("popularity") or 0.0) for d in docs])
        self.pop = pop / max(pop.max(), 1e-9)

    def _search(self, query: UserQuery, k: int) -> ArmResult:
        parsed = self.qu.parse(query.text)
        text, filters, bonus = self._text(parsed), self._filters(parsed), self._bonus(parsed)
        pos, scores = self._run(text, filters, bonus)
        if filters and len(pos) == 0:
            pos, scores = self._run(text, [], bonus)
        if len(pos) and self.popularity_weight:
            scores = scores + self.popularity_weight * self.pop[pos] * max(float(scores.max()), 1.0)
            order = np.argsort(-scores, kind="stable")
            pos, scores = pos[order], scores[order]
        return self._result(pos[:k], scores[:k])

    def _run(self, text: list[Query], filters: list[Query], bonus: list[Query]) -> tuple[np.ndarray, np.ndarray]:
        if not text and not bonus and not filters:
            return np.zeros(0, dtype=int), np.zeros(0)
        should = text + bonus
        clauses = [(Occur.Must, Query.boolean_query([(Occur.Should, q) for q in should]))] if should else []
        clauses += [(Occur.Must, f) for f in filters]
        return self.index.search(Query.boolean_query(clauses), self.pool)

    def _text(self, p: ParsedQuery) -> list[Query]:
        out = []
        skip = {i for s in p.slots if s.name in ("type", "new", "year", "decade") for i in range(s.start, s.end)}
        for i, word in enumerate(p.corrected):
            if i in skip:
                continue
            tagged = p.slot_names_at(i)
            boosts = {f: b * (self.slot_boost if f in tagged else 1.0) for f, b in self.boosts.items()}
            fuzzy = 0 if p.known[i] or len(word) < 4 else (1 if len(word) <= 6 else 2)
            q = self.index.word_query(word, boosts, fuzzy=fuzzy, fuzzy_weight=self.fuzzy_weight)
            typed = p.words[i]
            if typed != word and len(typed) >= 4:  # the speller may pick the wrong neighbour: keep the typed word
                alt = self.index.word_query(typed, boosts, fuzzy=1 if len(typed) <= 6 else 2,
                                            fuzzy_weight=self.fuzzy_weight)
                q = q if alt is None else alt if q is None else Query.disjunction_max_query([q, alt], 0.0)
            if q is not None:
                out.append(q)
        for s in p.slots:
            if s.name in NAME_FIELDS and s.end - s.start > 1 and s.name in self.boosts:
                words = list(p.corrected[s.start:s.end])
                out.append(Query.boost_query(Query.phrase_query(self.index.schema, s.name, words), self.phrase_boost))
        return out

    def _filters(self, p: ParsedQuery) -> list[Query]:
        out = []
        for s in p.of("year"):
            out.append(self.index.range_filter("year", float(s.value), float(s.value)))
        for s in p.of("decade"):
            out.append(self.index.range_filter("year", float(s.value), float(s.value) + 9))
        types = {s.value for s in p.of("type")}
        if types and self.has["type"]:
            out.append(Query.boolean_query([(Occur.Should, self.index.term("type", t)) for t in sorted(types)]))
        return out

    def _bonus(self, p: ParsedQuery) -> list[Query]:
        out = []
        for s in p.slots:
            if s.name in ("mood", "activity"):
                if self.has[s.name]:
                    q = self.index.term(s.name, s.value)
                else:
                    ranges = [(Occur.Must, self.index.range_filter(f, lo, hi))
                              for f, (lo, hi) in RANGES.get((s.name, s.value), {}).items() if f in self.audio]
                    if not ranges:
                        continue
                    q = Query.boolean_query(ranges)
                out.append(Query.const_score_query(q, self.facet_boost))
            elif s.name == "new":
                out.append(Query.const_score_query(self.index.range_filter("age_days", None, self.fresh_days),
                                                   self.facet_boost))
        return out
