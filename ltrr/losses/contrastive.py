"""In-batch contrastive loss (InfoNCE) with optional cross-device negatives.

Document layout: for ``B`` queries with group size ``G`` (1 positive + ``G - 1`` hard negatives) the document
representations have shape ``(B * G, D)``; rows ``i * G`` (positive of query ``i``) and ``i * G + 1 .. i * G + G - 1``
(its hard negatives) are contiguous per query. Every other document in the batch (and, with ``gather=True``, on
every other rank) is an in-batch negative.
"""

from __future__ import annotations

import logging
import warnings

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


def _upcast(x: Tensor) -> Tensor:
    """Half/bfloat16 -> float32 for a stable softmax; float32 and float64 unchanged."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(x: Tensor) -> tuple[Tensor, int]:
    """All-gather the rows of ``x`` from every rank, keeping the autograd graph.

    Parameters
    ----------
    x : Tensor, shape ``(n, ...)``
        This rank's rows; every rank must pass the same shape.

    Returns
    -------
    gathered : Tensor, shape ``(W * n, ...)``
        Rows of all ``W`` ranks concatenated in rank order (``x`` itself when not distributed).
    offset : int
        Index of this rank's first row in ``gathered`` (``rank * n``; 0 when not distributed).

    Raises
    ------
    ValueError
        If the ranks hold tensors of different shapes.

    Notes
    -----
    The backward of ``torch.distributed.nn.functional.all_gather`` sums the gradients that every rank's loss sends
    to these rows, so after ``loss_r.backward()`` on every rank, rank ``r``'s gradient is ``d(sum_k loss_k) / dx_r``,
    i.e. ``W`` times the gradient of the mean loss. DDP's gradient averaging divides by ``W`` again, so the
    parameters receive the gradient of the mean loss over the global batch. All ranks must call this (collective).
    """
    if not _distributed():
        return x, 0
    from torch.distributed.nn.functional import all_gather  # imports the autograd-aware collectives lazily

    world, rank = dist.get_world_size(), dist.get_rank()
    shape = torch.tensor(list(x.shape), dtype=torch.long, device=x.device)
    shapes = [torch.empty_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    sizes = [tuple(s.tolist()) for s in shapes]
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"gather_with_grad: ranks hold different shapes {sizes} (rows per rank "
                         f"{[s[0] for s in sizes]}); pad or drop the last batch so every rank has the same size")
    with warnings.catch_warnings():  # torch >= 2.x flags it deprecated, but it is the autograd-aware gather for gloo
        warnings.filterwarnings("ignore", message=".*all_gather is deprecated", category=FutureWarning)
        parts = all_gather(x.contiguous())
    return torch.cat(parts, dim=0), rank * x.shape[0]


def contrastive_scores(q: Tensor, d: Tensor, group_size: int, gather: bool = False) -> tuple[Tensor, Tensor]:
    """Dot-product scores of every query against every document of the batch, and the positive's column.

    Parameters
    ----------
    q : Tensor, shape ``(B, D)``
        Query representations (unit vectors for dense, ``D = V`` term weights for SPLADE).
    d : Tensor, shape ``(B * G, D)``
        Document representations, ``G = group_size`` contiguous rows per query, its positive first.
    group_size : int
        ``G``, documents per query (>= 1).
    gather : bool
        Score against the documents of all ranks (``N = W * B * G``) instead of the local ones (``N = B * G``).

    Returns
    -------
    scores : Tensor, shape ``(B, N)``
        ``q @ docs.T``.
    targets : Tensor, shape ``(B,)``, long
        Column of each query's positive: ``offset + arange(B) * G``, ``offset`` = this rank's first document row.
    """
    if group_size < 1:
        raise ValueError(f"contrastive_scores: group_size must be >= 1, got {group_size}")
    if q.dim() != 2 or d.dim() != 2:
        raise ValueError(f"contrastive_scores: q {tuple(q.shape)} and d {tuple(d.shape)} must be 2-D (B, D), (B*G, D)")
    if q.shape[1] != d.shape[1]:
        raise ValueError(f"contrastive_scores: q dim {q.shape[1]} != d dim {d.shape[1]}")
    if d.shape[0] != q.shape[0] * group_size:
        raise ValueError(f"contrastive_scores: d has {d.shape[0]} rows, expected B*G = {q.shape[0]}*{group_size}")
    docs, offset = gather_with_grad(d) if gather else (d, 0)
    targets = offset + torch.arange(q.shape[0], device=q.device) * group_size
    return q @ docs.T, targets


class InfoNCE(nn.Module):
    """InfoNCE / in-batch softmax cross entropy: ``CE(scores / temperature, targets)``.

    Parameters
    ----------
    temperature : float
        Softmax temperature (> 0); 0.05 suits cosine scores, ~1 suits SPLADE dot products.
    gather : bool
        Use the documents of all DDP ranks as negatives (see :func:`gather_with_grad`).
    """

    def __init__(self, temperature: float = 0.05, gather: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"InfoNCE: temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.gather = gather

    @staticmethod
    def from_scores(scores: Tensor, targets: Tensor, temperature: float) -> Tensor:
        """Loss from precomputed scores.

        Parameters
        ----------
        scores : Tensor, shape ``(B, N)``
            Query-document scores.
        targets : Tensor, shape ``(B,)``, long
            Column of each query's positive.
        temperature : float
            Softmax temperature.

        Returns
        -------
        Tensor, shape ``()``
            Mean cross entropy, computed in at least float32 (half-precision scores are upcast).
        """
        if scores.dim() != 2 or targets.shape != scores.shape[:1]:
            raise ValueError(f"InfoNCE: scores {tuple(scores.shape)} must be (B, N), targets "
                             f"{tuple(targets.shape)} (B,)")
        return F.cross_entropy(_upcast(scores) / temperature, targets)

    def forward(self, q: Tensor, d: Tensor, group_size: int) -> Tensor:
        """Contrastive loss of queries against their groups and all other in-batch documents.

        Parameters
        ----------
        q : Tensor, shape ``(B, D)``
            Query representations.
        d : Tensor, shape ``(B * G, D)``
            Document representations, ``G`` contiguous rows per query, its positive first.
        group_size : int
            ``G``.

        Returns
        -------
        Tensor, shape ``()``
            The loss.
        """
        scores, targets = contrastive_scores(q, d, group_size, gather=self.gather)
        return self.from_scores(scores, targets, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather={self.gather}"
