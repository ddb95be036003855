"""Lightning module for the cross-encoder reranker: listwise CE (or BCE) over 1 positive + mined negatives."""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import torch

from ltrr.training.optim import FineTuneModule
log = logging.getLogger(__name__)
HEAD_PREFIXES = ("model.classifier", "model.bert.pooler", "classifier", "bert.pooler")


def cross_collate(tokenize: Callable) -> Callable:
    """Collate ``GroupDataset`` items into ``B*G`` (query, doc) pair inputs, positive first in each group."""

    def collate(items: Sequence[tuple[str, list[str], list[str]]]) -> dict[str, Any]:
        qs = [q for q, ds, _ in items for _ in ds]
        ds = [d for _, docs, _ in items for d in docs]
        return {"pairs": dict(tokenize(qs, ds)), "group_size": len(items[0][1])}

    return collate


class CrossEncoderModule(FineTuneModule):
    """Trains a :class:`~ltrr.encoders.cross.CrossEncoder`.

    Parameters
    ----------
    model : CrossEncoder
    loss : torch.nn.Module
        ``ListwiseCE`` or ``PointwiseBCE`` over ``(B, G)`` scores with the positive in column 0.
    lr, weight_decay, warmup_ratio : float
    evaluator : callable, optional
        ``evaluator(model) -> dict`` with ``rerank/ndcg@10`` on dev candidates.
    dropout : bool
        Train with dropout (off by default, as for :class:`~ltrr.training.bi_module.BiEncoderModule`).
    head_lr : float, optional
        Learning rate of the score head (classifier and pooler). A backbone taken from a bi-encoder has a fresh
        classifier over an untrained [CLS] pooler; at the backbone's rate it barely moves in a short run (on
        SciFact, 45 steps at 2e-5 left the listwise loss at ln 4).
    """

    def __init__(self, model, loss, lr: float = 2e-5, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
                 evaluator: Callable | None = None, dropout: bool = False, head_lr: float | None = None) -> None:
        super().__init__(model, lr, weight_decay, warmup_ratio, dropout, HEAD_PREFIXES, head_lr)
        self.loss, self.evaluator = loss, evaluator

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        g = int(batch["group_size"])
        scores = self.model(**batch["pairs"]).view(-1, g)
        loss = self.loss(scores)
        with torch.no_grad():
            acc = (scores.argmax(1) == 0).float().mean()
        self.log_dict({"train/loss": loss.detach(), "train/top1_acc": acc}, batch_size=scores.shape[0])
        self.log("loss", loss.detach(), prog_bar=True, logger=False, batch_size=scores.shape[0])
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if self.evaluator is None:
            return
        metrics = self.evaluator(self.model)
        self.log_dict({f"dev/{k}": float(v) for k, v in metrics.items()}, batch_size=1)
        self.log("dev/ndcg@10", float(metrics["rerank/ndcg@10"]), prog_bar=True, batch_size=1)
