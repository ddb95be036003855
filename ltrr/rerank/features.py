"""Ranking features of every candidate in the union: arm evidence, item priors, slot matches, user affinity.

One row per candidate, vectorised over the union. The blocks (in :attr:`RankFeaturizer.names` order):

- per arm: found it, its min-max normalised score and its reciprocal rank (0 when the arm did not return it);
  a learning arm such as the Q2E memory contributes its click statistics for the query this way;
- the fused (RRF) score, reciprocal fused position and the number of arms that found the item;
- the cross-encoder score, when a scorer is given;
- item priors: popularity, log age, freshness, entity type (one-hot over the catalogue's types);
- text: share of the query's words in the title, and exact title match;
- slot matches from query understanding (title, artist, facets, entity type, era, "new"), when a tagger is given;
- user affinity: genre share of the item in the user's history, artist seen in it, item itself in it, and an
  optional learned affinity (e.g. a two-tower dot product).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from ltrr.types import ArmResult, Doc, FusedItem, Query
from ltrr.utils.lru import LRU
from ltrr.utils.text import tokens

if TYPE_CHECKING:
    from ltrr.qu.tagger import QueryUnderstanding

log = logging.getLogger(__name__)
FACET_SLOTS = ("genre", "mood", "activity", "topic")
CrossScorer = Callable[[str, Sequence[str]], np.ndarray]
"""``(query text, doc ids) -> scores``, shape ``(n,)``."""
Affinity = Callable[[str, Sequence[str]], np.ndarray]
"""``(user id, doc ids) -> affinity``, shape ``(n,)``."""


class RankFeaturizer:
    """Feature matrix of a candidate union.

    Parameters
    ----------
    arms : sequence of str
        Arm names, in a fixed order (the feature layout).
    docs : sequence of Doc
        The catalogue (metadata ``type``, ``popularity``, ``added_days_ago``, ``genre``, ``artist``, ``year`` are
        used when present).
    histories : mapping of user id to sequence of doc ids, optional
        What each user listened to; grows with :meth:`observe_history`.
    qu : QueryUnderstanding, optional
        Tagger for the slot-match block (absent: the block is zeros).
    cross : callable, optional
        Cross-encoder scorer ``(query text, doc ids) -> scores`` for the cross-encoder column.
    affinity : callable, optional
        Learned user-item affinity ``(user id, doc ids) -> scores`` (0 for unknown users).
    fresh_days : float
        Items younger than this count as fresh.
    """

    def __init__(self, arms: Sequence[str], docs: Sequence[Doc], histories: Mapping[str, Sequence[str]] | None = None,
                 qu: QueryUnderstanding | None = None, cross: CrossScorer | None = None,
                 affinity: Affinity | None = None, fresh_days: float = 30.0) -> None:
        self.arms = list(arms)
        self.index = {d.id: i for i, d in enumerate(docs)}
        meta = [d.metadata for d in docs]
        pop = np.array([float(m.get("popularity", 0.0) or 0.0) for m in meta])
        self.pop = pop / max(float(pop.max()), 1e-9) if len(pop) else pop
        age = np.array([float(m.get("added_days_ago", np.nan)) for m in meta])
        self.has_age = np.isfinite(age)
        self.log_age = np.where(self.has_age, np.log1p(np.nan_to_num(age, nan=0.0)) / np.log1p(3650.0), 1.0)
        self.fresh = (self.has_age & (np.nan_to_num(age, nan=np.inf) < fresh_days)).astype(float)
        self.types = sorted({str(m.get("type", "")) for m in meta})
        self.type_idx = np.array([self.types.index(str(m.get("type", ""))) for m in meta], dtype=int)
        self.genres = sorted({str(m["genre"]) for m in meta if m.get("genre")})
        gi = {g: i for i, g in enumerate(self.genres)}
        self.genre_idx = np.array([gi.get(str(m.get("genre", "")), -1) for m in meta], dtype=int)
        self.artist = [str(m.get("artist", "")).lower() for m in meta]
        self.title_toks = [frozenset(tokens(d.title)) for d in docs]
        self.title_norm = [" ".join(tokens(d.title)) for d in docs]
        self.year = [str(m.get("year", "")) for m in meta]
        self.facets = [{f: str(m[f]).lower() for f in FACET_SLOTS if m.get(f)} for m in meta]
        self.qu, self.cross, self.affinity = qu, cross, affinity
        self._parsed = LRU(4096)
        self._hist: dict[str, tuple[np.ndarray, set[str], set[int]]] = {}
        self.histories: dict[str, list[str]] = {}
        for uid, items in (histories or {}).items():
            self.observe_history(uid, items)
        self.names = ([f"{a}:{k}" for a in self.arms for k in ("found", "score", "rr")]
                      + ["fused:score", "fused:rr", "fused:n_arms", "cross:score", "item:popularity", "item:log_age",
                         "item:fresh"] + [f"type:{t}" for t in self.types]
                      + ["text:title_cover", "text:title_exact", "slot:title", "slot:artist", "slot:facet", "slot:type",
                         "slot:era", "slot:new", "user:genre", "user:artist", "user:seen", "user:affinity"])
        self.dim = len(self.names)

    # ------------------------------------------------------------------ user history
    def observe_history(self, user_id: str, items: Sequence[str]) -> None:
        """Append listened/clicked items to a user's history (unknown ids are ignored)."""
        hist = self.histories.setdefault(str(user_id), [])
        hist.extend(str(i) for i in items if str(i) in self.index)
        idx = [self.index[i] for i in hist]
        g = np.zeros(len(self.genres))
        for j in idx:
            if self.genre_idx[j] >= 0:
                g[self.genre_idx[j]] += 1
        g = g / max(g.sum(), 1.0)
        self._hist[str(user_id)] = (g, {self.artist[j] for j in idx if self.artist[j]}, set(idx))

    # ------------------------------------------------------------------ features
    def __call__(self, query: Query, items: Sequence[FusedItem], arm_results: Mapping[str, ArmResult]) -> np.ndarray:
        """Features of ``items`` for ``query``.

        Parameters
        ----------
        query : Query
        items : sequence of FusedItem
            The union, in fused order.
        arm_results : mapping of arm name to ArmResult
            Each arm's list (arms missing from the mapping contribute zeros).

        Returns
        -------
        numpy.ndarray, shape ``(len(items), dim)``, float32

        Raises
        ------
        KeyError
            When an item is not in the catalogue.
        """
        n = len(items)
        X = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return X
        ids = [it.doc_id for it in items]
        missing = [d for d in ids if d not in self.index]
        if missing:
            raise KeyError(f"rank features: unknown doc id {missing[0]!r} ({len(missing)} not in the catalogue)")
        rows = np.array([self.index[d] for d in ids])
        pos = {d: i for i, d in enumerate(ids)}
        for a, arm in enumerate(self.arms):
            res = arm_results.get(arm)
            if res is None:
                continue
            for c in res.candidates:
                i = pos.get(c.doc_id)
                if i is not None:
                    X[i, 3 * a:3 * a + 3] = (1.0, c.norm_score, 1.0 / c.rank)
        c0 = 3 * len(self.arms)
        X[:, c0] = [it.score for it in items]
        X[:, c0] /= max(float(X[:, c0].max()), 1e-9)
        X[:, c0 + 1] = 1.0 / np.arange(1, n + 1)
        X[:, c0 + 2] = [len(it.arms) for it in items]
        if self.cross is not None:
            X[:, c0 + 3] = np.asarray(self.cross(query.text, ids), dtype=np.float32)
        X[:, c0 + 4] = self.pop[rows]
        X[:, c0 + 5] = self.log_age[rows]
        X[:, c0 + 6] = self.fresh[rows]
        t0 = c0 + 7
        X[np.arange(n), t0 + self.type_idx[rows]] = 1.0
        s0 = t0 + len(self.types)
        q_toks = tokens(query.text)
        q_set, q_norm = set(q_toks), " ".join(q_toks)
        X[:, s0] = [len(q_set & self.title_toks[r]) / max(len(q_set), 1) for r in rows]
        X[:, s0 + 1] = [float(bool(q_norm) and self.title_norm[r] == q_norm) for r in rows]
        if self.qu is not None:
            X[:, s0 + 2:s0 + 8] = self._slot_matches(query.text, rows)
        u0 = s0 + 8
        user = query.user_id
        if user is not None and str(user) in self._hist:
            g, artists, seen = self._hist[str(user)]
            gidx = self.genre_idx[rows]
            X[:, u0] = np.where(gidx >= 0, g[np.maximum(gidx, 0)], 0.0)
            X[:, u0 + 1] = [float(bool(self.artist[r]) and self.artist[r] in artists) for r in rows]
            X[:, u0 + 2] = [float(r in seen) for r in rows]
        if user is not None and self.affinity is not None:
            X[:, u0 + 3] = np.asarray(self.affinity(str(user), ids), dtype=np.float32)
        return X

    def _slot_matches(self, text: str, rows: np.ndarray) -> np.ndarray:
        """Columns title, artist, facet share, type, era, new for ``rows`` (``(n, 6)``)."""
        parsed = self._parsed.get(text)
        if parsed is None:
            slots = self.qu.parse(text).slots  # type: ignore[union-attr]
            vals: dict[str, set[str]] = {}
            for s in slots:
                vals.setdefault(s.name, set()).add(" ".join(tokens(s.value)) if s.name in ("title", "album")
                                                   else str(s.value).lower())
            parsed = vals
            self._parsed.put(text, parsed)
        out = np.zeros((len(rows), 6), dtype=np.float32)
        facet_q = {f: parsed[f] for f in FACET_SLOTS if f in parsed}
        for i, r in enumerate(rows):
            if "title" in parsed or "album" in parsed:
                out[i, 0] = float(self.title_norm[r] in parsed.get("title", set()) | parsed.get("album", set()))
            if "artist" in parsed:
                out[i, 1] = float(self.artist[r] in parsed["artist"])
            if facet_q:
                out[i, 2] = sum(self.facets[r].get(f) in v for f, v in facet_q.items()) / len(facet_q)
            if "type" in parsed:
                out[i, 3] = float(self.types[self.type_idx[r]] in parsed["type"])
            if "year" in parsed or "decade" in parsed:
                y = self.year[r]
                out[i, 4] = float(y in parsed.get("year", set()) or
                                  (y[:3] + "0") in parsed.get("decade", set()))
            if "new" in parsed:
                out[i, 5] = self.fresh[r]
        return out
