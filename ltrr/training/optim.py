"""AdamW with linear warm-up and linear decay over the run (the BERT / sentence-transformers default), and the
Lightning base class both fine-tuning modules share."""

from __future__ import annotations

import lightning as L
import torch


def adamw_linear(model: torch.nn.Module, lr: float, weight_decay: float, warmup_ratio: float, total_steps: int,
                 head_prefixes: tuple[str, ...] = (), head_lr: float | None = None) -> dict:
    """Lightning ``configure_optimizers`` result: no weight decay on biases and LayerNorm, step-wise schedule.

    Parameters whose name starts with one of ``head_prefixes`` (freshly initialised heads) learn at ``head_lr``.
    """
    from transformers import get_linear_schedule_with_warmup

    groups: dict[tuple[bool, bool], list] = {}
    for n, p in model.named_parameters():
        if p.requires_grad:
            head = head_lr is not None and n.startswith(head_prefixes)
            groups.setdefault((head, p.ndim < 2 or "LayerNorm" in n or "bias" in n), []).append(p)
    opt = torch.optim.AdamW([{"params": ps, "weight_decay": 0.0 if no_wd else weight_decay,
                              "lr": head_lr if head else lr} for (head, no_wd), ps in sorted(groups.items())], lr=lr)
    total = max(int(total_steps), 1)
    sched = get_linear_schedule_with_warmup(opt, int(warmup_ratio * total), total)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class FineTuneModule(L.LightningModule):
    """Base of the encoder and cross-encoder modules: the optimizer, and the model's train/eval mode.

    Parameters
    ----------
    model : torch.nn.Module
    lr, weight_decay, warmup_ratio : float
        AdamW with linear warm-up then linear decay.
    dropout : bool
        Train with dropout (``model.train()``). Off by default: pretrained checkpoints load in eval mode, and
        fine-tuning runs without dropout are deterministic given the data order.
    head_prefixes : tuple of str
        Parameter-name prefixes of freshly initialised heads, which learn at ``head_lr``.
    head_lr : float, optional
    """

    def __init__(self, model: torch.nn.Module, lr: float, weight_decay: float, warmup_ratio: float,
                 dropout: bool = False, head_prefixes: tuple[str, ...] = (), head_lr: float | None = None) -> None:
        super().__init__()
        self.model, self.lr, self.weight_decay, self.warmup_ratio = model, lr, weight_decay, warmup_ratio
        self.dropout, self.head_prefixes, self.head_lr = dropout, head_prefixes, head_lr

    def on_train_start(self) -> None:
        self.model.train(self.dropout)

    def on_validation_end(self) -> None:
        self.model.train(self.dropout)

    def configure_optimizers(self):
        return adamw_linear(self.model, self.lr, self.weight_decay, self.warmup_ratio,
                            self.trainer.estimated_stepping_batches, self.head_prefixes, self.head_lr)
