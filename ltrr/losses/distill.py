"""Distillation from a cross-encoder teacher into a bi-encoder student.

Scores have shape ``(B, G)``: one row per query, column 0 its positive, columns 1.. its hard negatives. The teacher
scores are targets: they are detached, so no gradient flows into a teacher that is computed on the fly.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


def _upcast(x: Tensor) -> Tensor:
    """Half/bfloat16 -> float32 for a stable softmax; float32 and float64 unchanged."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _check(student: Tensor, teacher: Tensor, who: str, min_g: int) -> None:
    if student.dim() != 2 or student.shape != teacher.shape or student.shape[1] < min_g:
        raise ValueError(f"{who}: student {tuple(student.shape)} and teacher {tuple(teacher.shape)} must be the "
                         f"same (B, G) with G >= {min_g}")


class MarginMSE(nn.Module):
    """Margin-MSE (Hofstätter et al. 2020; SPLADE++ ``DistilMarginMSE``).

    ``mean_{i, j >= 1} ((s_i0 - s_ij) - (t_i0 - t_ij))^2``: the student reproduces the teacher's positive-negative
    margins, not its absolute scores.
    """

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """
        Parameters
        ----------
        student : Tensor, shape ``(B, G)``
            Student scores, column 0 the positive (G >= 2).
        teacher : Tensor, shape ``(B, G)``
            Teacher scores, same layout.

        Returns
        -------
        Tensor, shape ``()``
            The loss.
        """
        _check(student, teacher, "MarginMSE", 2)
        student, teacher = _upcast(student), _upcast(teacher.detach())
        return F.mse_loss(student[:, :1] - student[:, 1:], teacher[:, :1] - teacher[:, 1:])


class KLDistill(nn.Module):
    """Listwise distillation ``KL(softmax(t / T) || softmax(s / T))``, averaged over queries (``batchmean``).

    Parameters
    ----------
    temperature : float
        Softmax temperature ``T`` (> 0) of both distributions. The loss is not rescaled by ``T^2``.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"KLDistill: temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """
        Parameters
        ----------
        student : Tensor, shape ``(B, G)``
            Student scores.
        teacher : Tensor, shape ``(B, G)``
            Teacher scores.

        Returns
        -------
        Tensor, shape ``()``
            The loss (>= 0).
        """
        _check(student, teacher, "KLDistill", 1)
        log_s = F.log_softmax(_upcast(student) / self.temperature, dim=-1)
        log_t = F.log_softmax(_upcast(teacher.detach()) / self.temperature, dim=-1)
        return F.kl_div(log_s, log_t, log_target=True, reduction="batchmean")

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
