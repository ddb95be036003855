"""The ranker interface and the list data it learns from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass
class ListData:
    """Feature rows grouped into lists (one list per query or impression).

    Attributes
    ----------
    X : numpy.ndarray, shape ``(n, F)``, float32
    offsets : numpy.ndarray of int, shape ``(Q + 1,)``
        List ``q`` is rows ``offsets[q]:offsets[q + 1]``.
    gains : numpy.ndarray, shape ``(n,)``
        Relevance grades (full information) or clicks.
    weights : numpy.ndarray, shape ``(n,)``
        Per-item weights: ``1 / θ_position`` for IPS, 1 otherwise.
    positions : numpy.ndarray of int, shape ``(n,)``, optional
        1-based display position of each row in its impression (click lists); rankers that estimate
        propensities themselves (:class:`~ltrr.rerank.dla.DualLearningRanker`) need them.
    """

    X: np.ndarray
    offsets: np.ndarray
    gains: np.ndarray
    weights: np.ndarray
    positions: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.X)
        if self.offsets[0] != 0 or self.offsets[-1] != n or np.any(np.diff(self.offsets) < 0):
            raise ValueError(f"offsets must rise from 0 to the number of rows ({n})")
        if len(self.gains) != n or len(self.weights) != n:
            raise ValueError(f"gains ({len(self.gains)}) and weights ({len(self.weights)}) need one entry per row "
                             f"({n})")
        if self.positions is not None and (len(self.positions) != n or np.any(np.asarray(self.positions) < 1)):
            raise ValueError(f"positions need one 1-based entry per row ({n})")

    @property
    def n_lists(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_lists(cls, X: Sequence[np.ndarray], gains: Sequence[np.ndarray],
                   weights: Sequence[np.ndarray] | None = None,
                   positions: Sequence[np.ndarray] | None = None) -> "ListData":
        """Concatenate per-list arrays (``X[q]``: ``(n_q, F)``)."""
        sizes = [len(x) for x in X]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        F = X[0].shape[1] if X else 0
        cat = np.concatenate(X).astype(np.float32) if X else np.zeros((0, F), np.float32)
        g = np.concatenate(gains).astype(float) if X else np.zeros(0)
        w = np.concatenate(weights).astype(float) if weights is not None and X else np.ones(len(cat))
        pos = None
        if positions is not None:
            pos = np.concatenate(positions).astype(np.int64) if X else np.zeros(0, np.int64)
        return cls(cat, offsets, g, w, pos)

    def padded_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Row index of each list slot, ``(Q, L)`` with ``L`` the longest list (``-1`` pads), and the mask."""
        sizes = np.diff(self.offsets)
        L = int(sizes.max()) if len(sizes) else 0
        slot = np.arange(L)[None, :]
        mask = slot < sizes[:, None]
        idx = np.where(mask, self.offsets[:-1, None] + slot, -1)
        return idx, mask

    def subset(self, lists: np.ndarray) -> "ListData":
        """The given lists, in that order."""
        parts = [np.arange(self.offsets[q], self.offsets[q + 1]) for q in lists]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=int)
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        return ListData(self.X[rows], offsets, self.gains[rows], self.weights[rows],
                        self.positions[rows] if self.positions is not None else None)


class Ranker(ABC):
    """Scores feature rows; higher is better. Trained from :class:`ListData`; state is JSON and arrays."""

    name: str = "ranker"

    @abstractmethod
    def fit(self, data: ListData) -> "Ranker":
        """Train from scratch on ``data``; returns ``self``."""

    @abstractmethod
    def score(self, X: np.ndarray) -> np.ndarray:
        """Scores of rows ``X`` (``(n, F)``), shape ``(n,)``."""

    @property
    @abstractmethod
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or a state load) has happened."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The trained model as JSON values and numpy arrays (no pickle)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
