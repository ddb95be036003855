"""SPLADE sparsity regularisers and their weight schedule.

Formulas follow naver/splade (``splade/losses/regularization.py``) and Paria et al., "Minimizing FLOPs to Learn
Efficient Sparse Representations" (arXiv:2004.05665). ``reps`` are non-negative SPLADE term weights, but absolute
values are taken so the regularisers are valid for any sign.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)


def _check(reps: Tensor, who: str) -> None:
    if reps.dim() != 2:
        raise ValueError(f"{who}: reps must be (B, V), got {tuple(reps.shape)}")


class FLOPS(nn.Module):
    """FLOPS regulariser ``sum_j (mean_i |w_ij|)^2``: a smooth proxy of the posting-list cost of a batch."""

    def forward(self, reps: Tensor) -> Tensor:
        """
        Parameters
        ----------
        reps : Tensor, shape ``(B, V)``
            Term weights of a batch of queries or documents.

        Returns
        -------
        Tensor, shape ``()``
            The regulariser.
        """
        _check(reps, "FLOPS")
        return reps.abs().mean(dim=0).pow(2).sum()


class L1Sparsity(nn.Module):
    """L1 regulariser ``mean_i sum_j |w_ij|``."""

    def forward(self, reps: Tensor) -> Tensor:
        """
        Parameters
        ----------
        reps : Tensor, shape ``(B, V)``
            Term weights.

        Returns
        -------
        Tensor, shape ``()``
            The regulariser.
        """
        _check(reps, "L1Sparsity")
        return reps.abs().sum(dim=1).mean()


class QuadraticWarmup:
    """Regulariser weight ``weight * min(1, (step / warmup_steps)^2)`` (naver/splade uses ``warmup_steps=50_000``).

    Parameters
    ----------
    weight : float
        Final weight (lambda_q or lambda_d).
    warmup_steps : int
        Steps to reach the full weight; 0 gives the full weight from step 0.
    """

    def __init__(self, weight: float, warmup_steps: int) -> None:
        if warmup_steps < 0:
            raise ValueError(f"QuadraticWarmup: warmup_steps must be >= 0, got {warmup_steps}")
        self.weight = float(weight)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: int) -> float:
        """
        Parameters
        ----------
        step : int
            Optimisation step (>= 0).

        Returns
        -------
        float
            The weight at ``step``.
        """
        if step < 0:
            raise ValueError(f"QuadraticWarmup: step must be >= 0, got {step}")
        if self.warmup_steps == 0:
            return self.weight
        return self.weight * min(1.0, (step / self.warmup_steps) ** 2)

    def __repr__(self) -> str:
        return f"QuadraticWarmup(weight={self.weight}, warmup_steps={self.warmup_steps})"


@torch.no_grad()
def sparsity_stats(reps: Tensor) -> dict[str, float]:
    """Sparsity diagnostics of a batch of term weights (no gradient).

    Parameters
    ----------
    reps : Tensor, shape ``(B, V)``
        Term weights.

    Returns
    -------
    dict of str to float
        ``l0``: average number of non-zero weights per row; ``flops``: :class:`FLOPS`; ``l1``: :class:`L1Sparsity`.
    """
    _check(reps, "sparsity_stats")
    reps = reps.detach().float()
    return {"l0": (reps != 0).sum(dim=1).float().mean().item(),
            "flops": FLOPS()(reps).item(),
            "l1": L1Sparsity()(reps).item()}
