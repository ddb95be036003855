"""Memory index: query -> entity (Q2E) scores learned from clicks, with predicted scores for cold entities.

Keys are normalised query texts (:func:`ltrr.utils.text.normalize_query`), so "Tayler  Love" and "tayler love"
share a memory. For every (key, entity) the arm keeps decayed click and impression counts ``c`` and ``n``; an
entity clicked but not in the shown list (a later conversion) counts as shown too.

Score (Bayesian-smoothed click-through rate, a Beta prior with mean ``p`` and ``a`` pseudo-impressions)::

    score = (c + a * p) / (n + a)

so one click out of ten impressions scores below one click out of one, and a click on a rarely shown entity
is trusted less than many clicks. Only entities with ``c > 0`` for the key are returned, plus predicted ones.

Time decay: both counts are multiplied by ``0.5 ** (dt / half_life)``, where ``dt`` counts observed interactions
(calls to :meth:`MemoryArm.observe`, clicked or not) since the key was last updated. Interaction count rather
than wall-clock time keeps simulations deterministic and needs no timestamps. Decay shrinks the evidence, so an
old association drifts back to the prior rather than changing its click-through rate.

Cold start: an optional :class:`~ltrr.arms.q2e.QueryPredictor` predicts keys for entities that have never been
clicked (under any key); a predicted score ``s`` enters as the prior mean of an entity with no clicks for the key,
i.e. ``a * s / (n + a)``: impressions without clicks wear it down, and an entity's first click anywhere ends its
predictions, its observed score replacing them. Predictions are refreshed every ``refresh_every`` clicked items
(and by :meth:`MemoryArm.refresh`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from ltrr.arms.base import Arm
from ltrr.arms.q2e import QueryPredictor
from ltrr.types import ArmResult, Doc, Query
from ltrr.utils.text import normalize_query


class _Key:
    """Counts of one key, exact as of interaction ``t``."""

    __slots__ = ("t", "stats")

    def __init__(self, t: int, stats: dict[str, list[float]] | None = None) -> None:
        self.t, self.stats = t, stats if stats is not None else {}


class MemoryArm(Arm):
    """Entities clicked (or predicted) for exactly this normalised query, by smoothed click-through rate.

    Parameters
    ----------
    docs : sequence of Doc
        Catalogue; feedback on unknown ids is ignored.
    name : str
    half_life : float or None
        Half-life of the counts in observed interactions; ``None`` = no decay.
    prior_ctr : float
        Prior mean ``p`` of the click-through rate.
    prior_strength : float
        Pseudo-impressions ``a`` (> 0) of the prior.
    max_per_key : int
        Entities kept per key (those with fewest clicks, then lowest score, are dropped).
    max_keys : int or None
        Keys kept; the least recently updated are dropped.
    predictor : QueryPredictor, optional
        Cold-start predictor; ``None`` disables predicted scores.
    refresh_every : int
        Clicked items between two refreshes of the predictions.
    min_count : float
        Entries whose decayed clicks and impressions both fall below it are dropped.
    """

    static = False
    score_scale = 0.25

    def __init__(self, docs: Sequence[Doc], name: str = "memory", half_life: float | None = 2000.0,
                 prior_ctr: float = 0.05, prior_strength: float = 2.0, max_per_key: int = 200,
                 max_keys: int | None = 100_000, predictor: QueryPredictor | None = None, refresh_every: int = 50,
                 min_count: float = 1e-3) -> None:
        super().__init__(docs, name)
        if half_life is not None and half_life <= 0:
            raise ValueError(f"arm {name!r}: half_life must be > 0 or None, got {half_life}")
        if not 0 <= prior_ctr <= 1 or prior_strength <= 0:
            raise ValueError(f"arm {name!r}: need 0 <= prior_ctr <= 1 and prior_strength > 0, "
                             f"got {prior_ctr}, {prior_strength}")
        if max_per_key < 1 or refresh_every < 1 or (max_keys is not None and max_keys < 1):
            raise ValueError(f"arm {name!r}: max_per_key, max_keys and refresh_every must be >= 1")
        self.half_life, self.p, self.a = half_life, prior_ctr, prior_strength
        self.max_per_key, self.max_keys, self.min_count = max_per_key, max_keys, min_count
        self.predictor, self.refresh_every = predictor, refresh_every
        self.pos = {d: i for i, d in enumerate(self.doc_ids)}
        self.texts = [d.full_text for d in docs]
        self.reset(0)

    # ---- learning -------------------------------------------------------------------------------------------
    def observe(self, query: Query, shown: Sequence[str], clicked: Sequence[str]) -> None:
        self.t += 1
        clicked = [d for d in dict.fromkeys(clicked) if d in self.pos]
        seen = [d for d in dict.fromkeys([*shown, *clicked]) if d in self.pos]
        if not seen:
            return
        key = normalize_query(query.text)
        entry = self._touch(key)
        for d in seen:
            entry.stats.setdefault(d, [0.0, 0.0])[1] += 1.0
        for d in clicked:
            entry.stats[d][0] += 1.0
            self.cold[self.pos[d]] = False
        if len(entry.stats) > self.max_per_key:
            keep = sorted(entry.stats.items(), key=lambda kv: (kv[1][0] <= 0, -self._ctr(*kv[1]), kv[0]))
            entry.stats = dict(keep[: self.max_per_key])
        if clicked:
            self.click_keys[key] = None
            self.clicks_since += len(clicked)
            if self.predictor is not None and self.clicks_since >= self.refresh_every:
                self.refresh()

    def _touch(self, key: str) -> _Key:
        """The key's entry, decayed to now, marked most recently used (evicting the oldest key if full)."""
        entry = self.table.get(key)
        if entry is None:
            entry = self.table[key] = _Key(self.t)
            if self.max_keys is not None and len(self.table) > self.max_keys:
                self.table.popitem(last=False)
        else:
            self.table.move_to_end(key)
            f = self._factor(entry)
            if f != 1.0:
                entry.stats = {d: [c * f, n * f] for d, (c, n) in entry.stats.items()
                               if c * f >= self.min_count or n * f >= self.min_count}
            entry.t = self.t
        return entry

    def refresh(self) -> None:
        """Recompute the predicted keys of the entities that have no click yet (no-op without a predictor)."""
        self.clicks_since, self.stale = 0, False
        if self.predictor is None:
            return
        preds = self.predictor.predict(self.texts, self.cold, list(self.click_keys))
        self.predicted = {k: (pos[: self.max_per_key], sc[: self.max_per_key]) for k, (pos, sc) in preds.items()}

    # ---- retrieval ------------------------------------------------------------------------------------------
    def _factor(self, entry: _Key) -> float:
        return 1.0 if self.half_life is None else 0.5 ** ((self.t - entry.t) / self.half_life)

    def _ctr(self, c: float, n: float) -> float:
        return (c + self.a * self.p) / (n + self.a)

    def _scores(self, key: str) -> dict[str, float]:
        entry = self.table.get(key)
        f = self._factor(entry) if entry is not None else 1.0
        stats = entry.stats if entry is not None else {}
        out = {d: self._ctr(c * f, n * f) for d, (c, n) in stats.items() if c > 0}
        pos, sc = self.predicted.get(key, (np.zeros(0, int), np.zeros(0)))
        live = self.cold[pos]
        for i, s in zip(pos[live].tolist(), sc[live].tolist()):
            d = self.doc_ids[i]
            if d in out:  # observed beats predicted (only reachable with an inconsistent loaded state)
                continue
            n = stats[d][1] * f if d in stats else 0.0
            out[d] = self.a * s / (n + self.a)
        return out

    def _search(self, query: Query, k: int) -> ArmResult:
        if self.stale:
            self.refresh()
        top = sorted(self._scores(normalize_query(query.text)).items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return self._from_pairs([d for d, _ in top], [s for _, s in top])

    def counts(self, query: Query | str, doc_id: str) -> tuple[float, float]:
        """Decayed ``(clicks, impressions)`` of ``doc_id`` for the query (a Query or its text), as of now."""
        entry = self.table.get(normalize_query(query if isinstance(query, str) else query.text))
        if entry is None or doc_id not in entry.stats:
            return 0.0, 0.0
        f = self._factor(entry)
        c, n = entry.stats[doc_id]
        return c * f, n * f

    def mass(self, query: Query) -> float:
        """Total decayed click count stored for ``query`` (0 for an unseen query)."""
        entry = self.table.get(normalize_query(query.text))
        return 0.0 if entry is None else float(sum(c for c, _ in entry.stats.values()) * self._factor(entry))

    def is_cold(self, doc_id: str) -> bool:
        """True while ``doc_id`` has no click under any key."""
        return bool(self.cold[self.pos[doc_id]])

    def __len__(self) -> int:
        return len(self.table)

    # ---- state ----------------------------------------------------------------------------------------------
    def reset(self, seed: int) -> None:
        self.t = self.clicks_since = 0
        self.table: OrderedDict[str, _Key] = OrderedDict()
        self.click_keys: dict[str, None] = {}          # keys with clicks, first-seen order
        self.cold = np.ones(len(self.doc_ids), dtype=bool)
        self.predicted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.stale = self.predictor is not None       # refresh before the first retrieval
        if self.predictor is not None:
            self.predictor.reset()

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "clicks_since": self.clicks_since,
                "table": {k: {"t": e.t, "stats": {d: list(v) for d, v in e.stats.items()}}
                          for k, e in self.table.items()},
                "click_keys": list(self.click_keys),
                "warm": [d for d, c in zip(self.doc_ids, self.cold) if not c],
                "predicted": {k: [[self.doc_ids[int(i)], float(s)] for i, s in zip(pos, sc)]
                              for k, (pos, sc) in self.predicted.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; ids not in the catalogue are dropped. The older format
        ``{"table": {key: {doc: score}}}`` loads as clicks = impressions = score."""
        self.reset(0)
        self.stale = False
        self.t, self.clicks_since = int(state.get("t", 0)), int(state.get("clicks_since", 0))
        for key, e in state.get("table", {}).items():
            if isinstance(e, dict) and "stats" in e:
                stats = {d: [float(c), float(n)] for d, (c, n) in e["stats"].items() if d in self.pos}
                self.table[key] = _Key(int(e["t"]), stats)
            else:  # legacy: decayed click scores
                self.table[key] = _Key(self.t, {d: [float(s), float(s)] for d, s in e.items() if d in self.pos})
        self.click_keys = dict.fromkeys(state.get("click_keys", [k for k, e in self.table.items()
                                                                 if any(c > 0 for c, _ in e.stats.values())]))
        warm = state.get("warm", [d for e in self.table.values() for d, (c, _) in e.stats.items() if c > 0])
        self.cold[[self.pos[d] for d in warm if d in self.pos]] = False
        for key, pairs in state.get("predicted", {}).items():
            pairs = [(self.pos[d], float(s)) for d, s in pairs if d in self.pos]
            self.predicted[key] = (np.array([p for p, _ in pairs], int), np.array([s for _, s in pairs], float))
