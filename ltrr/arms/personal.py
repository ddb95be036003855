"""Personalized arm: the items nearest the user's embedding (a two-tower model of listening histories, faiss
inner-product search), whatever the query says, with a re-listen prior for the tracks the user already played.

A user's embedding pools their long-term history (what they listened to before) and this session's clicks; a user
with neither (cold) gets the popularity chart, so the arm never returns nothing and the bandit can learn to skip it
for cold users. The same embeddings give the ranker its user-item affinity feature (:meth:`PersonalArm.affinity`).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ltrr.arms.base import Arm
from ltrr.encoders.two_tower import TwoTowerModel, fit_two_tower
from ltrr.indexes.faiss_index import FaissIndex
from ltrr.types import ArmResult, Doc, Query

log = logging.getLogger(__name__)


class PersonalArm(Arm):
    """User-embedding kNN over the catalogue.

    Parameters
    ----------
    docs : sequence of Doc
    name : str
    dim, steps, batch, lr : int, int, int, float
        Two-tower size and training (see :func:`~ltrr.encoders.two_tower.fit_two_tower`).
    session_size : int
        Latest clicks per user kept as the session history.
    relisten_bonus : float
        Added to the affinity of the tracks in the user's own history (long-term and session): people replay what
        they played, and a kNN list ranks many unheard neighbours above them. 0: plain kNN; a bonus well above
        the affinities' spread (the config's 100; the default two-tower's played tracks score about 7 and the
        catalogue's top 0.1% about 9) puts every played track first, best affinity first. A bonus near the spread
        (5) puts nearly all of them first at the start, but session clicks move the user's embedding and history
        tracks then fall behind unheard neighbours.
    use_gpu : {"auto", True, False}
        faiss placement (CPU fallback, logged by the index).
    seed : int
        Seed of the model's initialisation and training.
    """

    static = False
    score_scale = 5.0

    def __init__(self, docs: Sequence[Doc], name: str = "personal", dim: int = 32, steps: int = 300, batch: int = 256,
                 lr: float = 0.01, session_size: int = 20, relisten_bonus: float = 0.0, use_gpu: str | bool = "auto",
                 seed: int = 0) -> None:
        super().__init__(docs, name)
        self.index_of = {d.id: i for i, d in enumerate(docs)}
        self.model = TwoTowerModel(docs, dim=dim, seed=seed)
        self.steps, self.batch, self.lr, self.seed = int(steps), int(batch), float(lr), int(seed)
        self.session_size, self.use_gpu = int(session_size), use_gpu
        if not float(relisten_bonus) >= 0:
            raise ValueError(f"relisten_bonus: must be >= 0, got {relisten_bonus}")
        self.relisten_bonus = float(relisten_bonus)
        pop = np.array([float(d.metadata.get("popularity", 0.0) or 0.0) for d in docs])
        self.chart = np.argsort(-pop, kind="stable")
        self.pop = pop / max(float(pop.max()), 1e-9)
        self.histories: dict[str, list[int]] = {}
        self.session: dict[str, list[int]] = {}
        self._set_vectors()

    # ------------------------------------------------------------------ training
    def fit_histories(self, histories: Mapping[str, Sequence[str]]) -> list[float]:
        """Learn the towers from users' long-term histories (doc ids; unknown ids are skipped) and keep them as
        each user's base history. Returns the training losses."""
        self.histories = {str(u): [self.index_of[d] for d in h if d in self.index_of] for u, h in histories.items()}
        losses = fit_two_tower(self.model, list(self.histories.values()), steps=self.steps, batch=self.batch,
                               lr=self.lr, seed=self.seed)
        self._set_vectors()
        return losses

    def _set_vectors(self) -> None:
        with torch.no_grad():
            self.vectors = self.model.items().numpy().astype(np.float32)
        self.index = FaissIndex(self.vectors.shape[1], "Flat", use_gpu=self.use_gpu)
        self.index.add(self.vectors)

    # ------------------------------------------------------------------ user vectors
    def history_of(self, user_id: str | None) -> list[int]:
        """Base history then session clicks of a user (item indices; empty for an unknown user)."""
        if user_id is None:
            return []
        return self.histories.get(str(user_id), []) + self.session.get(str(user_id), [])

    def user_vector(self, user_id: str | None) -> np.ndarray | None:
        """The user's embedding, ``(dim,)``, or ``None`` for a cold user (no history, no session)."""
        return self._vector(self.history_of(user_id))

    def _vector(self, hist: Sequence[int]) -> np.ndarray | None:
        if not hist:
            return None
        with torch.no_grad():
            h = torch.tensor([hist[-100:]])
            v = self.model.users(h, torch.ones_like(h, dtype=torch.bool), torch.from_numpy(self.vectors))
        return v[0].numpy().astype(np.float32)

    def affinity(self, user_id: str, doc_ids: Sequence[str]) -> np.ndarray:
        """User-item affinity: the two towers' dot product (0 for a cold user or an unknown item), ``(n,)``."""
        u = self.user_vector(user_id)
        if u is None:
            return np.zeros(len(doc_ids))
        rows = np.array([self.index_of.get(d, -1) for d in doc_ids])
        out = np.zeros(len(doc_ids))
        ok = rows >= 0
        out[ok] = self.vectors[rows[ok]] @ u
        return out

    # ------------------------------------------------------------------ the arm
    def _search(self, query: Query, k: int) -> ArmResult:
        hist = self.history_of(query.user_id)
        u = self._vector(hist)
        if u is None:  # cold user: the popularity chart
            ids = self.chart[:k]
            return self._result(ids, self.pop[ids])
        scores, ids = self.index.search(u[None, :], k)
        keep = ids[0] >= 0
        scores, ids = scores[0][keep], ids[0][keep]
        if self.relisten_bonus > 0:  # the played tracks with their bonus, merged with the kNN list, best first
            played = np.unique(np.array(hist, dtype=np.int64))
            new = ids[~np.isin(ids, played)]
            ids = np.concatenate([played, new])
            scores = np.concatenate([self.vectors[played] @ u + self.relisten_bonus, self.vectors[new] @ u])
            order = np.argsort(-scores, kind="stable")[:k]
            ids, scores = ids[order], scores[order]
        return self._result(ids, scores)

    def observe(self, query: Query, shown: Sequence[str], clicked: Sequence[str]) -> None:
        if query.user_id is None or not clicked:
            return
        s = self.session.setdefault(str(query.user_id), [])
        s.extend(self.index_of[d] for d in clicked if d in self.index_of)
        del s[:-self.session_size]

    def reset(self, seed: int) -> None:
        self.session = {}

    def state_dict(self) -> dict[str, Any]:
        return {"session": {u: list(map(int, s)) for u, s in self.session.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.session = {str(u): [int(i) for i in s] for u, s in (state.get("session") or {}).items()}
