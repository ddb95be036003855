"""Cross-encoder (re-ranker) losses over groups of scores ``(B, G)``: column 0 the positive, columns 1.. negatives."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


def _upcast(x: Tensor) -> Tensor:
    """Half/bfloat16 -> float32 for a stable softmax; float32 and float64 unchanged."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _check(scores: Tensor, who: str) -> None:
    if scores.dim() != 2 or scores.shape[1] < 1:
        raise ValueError(f"{who}: scores must be (B, G), got {tuple(scores.shape)}")


class ListwiseCE(nn.Module):
    """Listwise softmax cross entropy with the positive (column 0) as target (a.k.a. localized contrastive)."""

    def forward(self, scores: Tensor) -> Tensor:
        """
        Parameters
        ----------
        scores : Tensor, shape ``(B, G)``
            Cross-encoder logits, column 0 the positive.

        Returns
        -------
        Tensor, shape ``()``
            Mean cross entropy.
        """
        _check(scores, "ListwiseCE")
        target = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
        return F.cross_entropy(_upcast(scores), target)


class PointwiseBCE(nn.Module):
    """Pointwise binary cross entropy with logits: label 1 for column 0, 0 for the others.

    Parameters
    ----------
    pos_weight : float
        Weight of the positive term (``G - 1`` balances one positive against ``G - 1`` negatives).
    """

    def __init__(self, pos_weight: float = 1.0) -> None:
        super().__init__()
        if pos_weight <= 0:
            raise ValueError(f"PointwiseBCE: pos_weight must be > 0, got {pos_weight}")
        self.pos_weight = pos_weight

    def forward(self, scores: Tensor) -> Tensor:
        """
        Parameters
        ----------
        scores : Tensor, shape ``(B, G)``
            Cross-encoder logits, column 0 the positive.

        Returns
        -------
        Tensor, shape ``()``
            BCE averaged over the ``B * G`` pairs.
        """
        _check(scores, "PointwiseBCE")
        scores = _upcast(scores)
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1.0
        pos_weight = torch.tensor(self.pos_weight, dtype=scores.dtype, device=scores.device)
        return F.binary_cross_entropy_with_logits(scores, labels, pos_weight=pos_weight)

    def extra_repr(self) -> str:
        return f"pos_weight={self.pos_weight}"
