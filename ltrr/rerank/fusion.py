"""Reciprocal-rank fusion of the arms' truncated lists, keeping each item's provenance."""

from __future__ import annotations

from typing import Mapping

from ltrr.types import ArmResult, FusedItem


class RRFFusion:
    """Score ``Σ_k w_k / (k0 + rank_k)`` over the arms that proposed an item (Cormack et al. 2009).

    Parameters
    ----------
    k0 : float
        RRF constant (60 in the original paper).
    weights : mapping of arm name to float, optional
        Per-arm weights (default 1).
    """

    def __init__(self, k0: float = 60.0, weights: Mapping[str, float] | None = None) -> None:
        if k0 < 0:
            raise ValueError(f"k0 must be >= 0, got {k0}")
        self.k0, self.weights = k0, dict(weights or {})

    def fuse(self, results: Mapping[str, ArmResult], depths: Mapping[str, int]) -> list[FusedItem]:
        """Union of each arm's top ``depths[arm]`` candidates, best fused score first.

        Parameters
        ----------
        results : mapping of arm name to ArmResult
        depths : mapping of arm name to int
            How many candidates each arm contributes (``0`` or missing: none).

        Returns
        -------
        list of FusedItem
            De-duplicated; ties broken by document id for determinism.
        """
        score: dict[str, float] = {}
        prov: dict[str, list[tuple[str, int]]] = {}
        for arm, res in results.items():
            w = self.weights.get(arm, 1.0)
            for c in res.top(depths.get(arm, 0)):
                score[c.doc_id] = score.get(c.doc_id, 0.0) + w / (self.k0 + c.rank)
                prov.setdefault(c.doc_id, []).append((arm, c.rank))
        order = sorted(score, key=lambda d: (-score[d], d))
        return [FusedItem(d, score[d], tuple(a for a, _ in prov[d]), tuple(r for _, r in prov[d])) for d in order]
