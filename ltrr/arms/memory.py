"""Memory index: query -> entity (Q2E) scores learned from clicks.

Keys are normalised query texts (folded, tokenised), so "Tayler  Love" and "tayler love" share a memory.
A click adds ``1`` to the clicked entity's score for that key; scores decay by ``decay`` at every update of
the key so that stale associations fade.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from ltrr.arms.base import Arm
from ltrr.types import ArmResult, Doc, Query
from ltrr.utils.text import normalize_query


class MemoryArm(Arm):
    """Returns the entities most clicked for exactly this (normalised) query.

    Parameters
    ----------
    docs : sequence of Doc
        Catalogue; clicks on unknown ids are ignored.
    name : str
    decay : float
        Multiplier in ``(0, 1]`` applied to a key's scores before each new click is added.
    max_per_key : int
        Entities kept per key (lowest scores are dropped).
    """

    static = False
    score_scale = 1.0

    def __init__(self, docs: Sequence[Doc], name: str = "memory", decay: float = 0.98, max_per_key: int = 200) -> None:
        super().__init__(docs, name)
        if not 0 < decay <= 1:
            raise ValueError(f"arm {name!r}: decay must be in (0, 1], got {decay}")
        self.decay, self.max_per_key = decay, max_per_key
        self.known = set(self.doc_ids)
        self.table: dict[str, dict[str, float]] = defaultdict(dict)

    def _search(self, query: Query, k: int) -> ArmResult:
        entry = self.table.get(normalize_query(query.text), {})
        top = sorted(entry.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return self._from_pairs([d for d, _ in top], [s for _, s in top])

    def observe(self, query: Query, shown: Sequence[str], clicked: Sequence[str]) -> None:
        clicked = [d for d in clicked if d in self.known]
        if not clicked:
            return
        key = normalize_query(query.text)
        entry = self.table[key]
        for d in entry:
            entry[d] *= self.decay
        for d in clicked:
            entry[d] = entry.get(d, 0.0) + 1.0
        if len(entry) > self.max_per_key:
            keep = sorted(entry.items(), key=lambda kv: -kv[1])[: self.max_per_key]
            self.table[key] = dict(keep)

    def reset(self, seed: int) -> None:
        self.table = defaultdict(dict)

    def state_dict(self) -> dict[str, Any]:
        return {"table": {k: dict(v) for k, v in self.table.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.table = defaultdict(dict, {k: {d: float(s) for d, s in v.items() if d in self.known}
                                        for k, v in state.get("table", {}).items()})

    def __len__(self) -> int:
        return len(self.table)

    def mass(self, query: Query) -> float:
        """Total click score stored for ``query`` (0 for an unseen query)."""
        return float(np.sum(list(self.table.get(normalize_query(query.text), {}).values()) or [0.0]))
