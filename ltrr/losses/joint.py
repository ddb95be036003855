"""BGE-M3-style unified contrastive loss with self-knowledge distillation, for a dense + SPLADE bi-encoder.

Adapted from Chen et al., "BGE M3-Embedding" (arXiv:2402.03216, Sec. 3.2): the multi-vector head is dropped, the
lexical head is SPLADE. With logits ``l_d = dense / tau_d``, ``l_s = sparse / tau_s`` and the integrated
``l_i = l_d + inter_mix * l_s``::

    L  = (CE(l_d) + CE(l_i) + sparse_weight * CE(l_s)) / 3
    p  = softmax(l_i), detached (the teacher)
    L' = (KL(p || softmax(l_d)) + sparse_weight * KL(p || softmax(l_s))) / 2
    total = (L + L') / 2   (self-distillation on)   or   L   (off)
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


def _kl(teacher_log_p: Tensor, student_logits: Tensor) -> Tensor:
    """``KL(p || softmax(student_logits))`` averaged over rows; ``p`` given as log-probabilities, shape (B, N)."""
    return F.kl_div(F.log_softmax(student_logits, dim=-1), teacher_log_p, log_target=True, reduction="batchmean")


class JointContrastiveLoss(nn.Module):
    """Dense + sparse + integrated InfoNCE with optional self-distillation from the integrated score.

    Parameters
    ----------
    dense_temperature : float
        ``tau_d`` for the dense (cosine) scores.
    sparse_temperature : float
        ``tau_s`` for the SPLADE dot products.
    sparse_weight : float
        Weight of the sparse terms (BGE-M3 uses 0.1 for its lexical head: its scores are on a different scale).
    inter_mix : float
        Weight of the sparse logits in the integrated logits ``l_i = l_d + inter_mix * l_s``.
    self_distill : bool
        Add the self-distillation term ``L'`` (still switchable per call with ``forward(..., distill=False)``).
    """

    KEYS = ("loss", "dense", "sparse", "inter", "distill")

    def __init__(self, dense_temperature: float = 0.05, sparse_temperature: float = 1.0, sparse_weight: float = 0.1,
                 inter_mix: float = 0.3, self_distill: bool = True) -> None:
        super().__init__()
        if dense_temperature <= 0 or sparse_temperature <= 0:
            raise ValueError(f"JointContrastiveLoss: temperatures must be > 0, got {dense_temperature}, "
                             f"{sparse_temperature}")
        self.dense_temperature = dense_temperature
        self.sparse_temperature = sparse_temperature
        self.sparse_weight = sparse_weight
        self.inter_mix = inter_mix
        self.self_distill = self_distill

    def forward(self, dense_scores: Tensor, sparse_scores: Tensor, targets: Tensor,
                distill: bool = True) -> dict[str, Tensor]:
        """
        Parameters
        ----------
        dense_scores : Tensor, shape ``(B, N)``
            Dense query-document scores (e.g. from :func:`~ltrr.losses.contrastive.contrastive_scores`).
        sparse_scores : Tensor, shape ``(B, N)``
            SPLADE scores over the same documents in the same column order.
        targets : Tensor, shape ``(B,)``, long
            Column of each query's positive.
        distill : bool
            Include the self-distillation term for this call (e.g. off during a warm-up phase).

        Returns
        -------
        dict of str to Tensor, each shape ``()``
            ``loss`` (to backprop), ``dense``, ``sparse``, ``inter`` (the three cross entropies) and ``distill``
            (``L'``, a zero tensor when not used).
        """
        if dense_scores.dim() != 2 or dense_scores.shape != sparse_scores.shape \
                or targets.shape != dense_scores.shape[:1]:
            raise ValueError(f"JointContrastiveLoss: dense {tuple(dense_scores.shape)} and sparse "
                             f"{tuple(sparse_scores.shape)} must be the same (B, N), targets "
                             f"{tuple(targets.shape)} (B,)")
        ld = _upcast(dense_scores) / self.dense_temperature
        ls = _upcast(sparse_scores) / self.sparse_temperature
        li = ld + self.inter_mix * ls
        out = {"dense": F.cross_entropy(ld, targets), "sparse": F.cross_entropy(ls, targets),
               "inter": F.cross_entropy(li, targets)}
        loss = (out["dense"] + out["inter"] + self.sparse_weight * out["sparse"]) / 3
        if self.self_distill and distill:
            log_p = F.log_softmax(li.detach(), dim=-1)
            out["distill"] = (_kl(log_p, ld) + self.sparse_weight * _kl(log_p, ls)) / 2
            loss = (loss + out["distill"]) / 2
        else:
            out["distill"] = torch.zeros((), dtype=ld.dtype, device=ld.device)
        out["loss"] = loss
        return {k: out[k] for k in self.KEYS}

    def extra_repr(self) -> str:
        return (f"dense_temperature={self.dense_temperature}, sparse_temperature={self.sparse_temperature}, "
                f"sparse_weight={self.sparse_weight}, inter_mix={self.inter_mix}, self_distill={self.self_distill}")
