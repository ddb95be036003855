"""AdamW with linear warm-up and linear decay over the run (the BERT / sentence-transformers default)."""

from __future__ import annotations

import torch


def adamw_linear(model: torch.nn.Module, lr: float, weight_decay: float, warmup_ratio: float, total_steps: int) -> dict:
    """Lightning ``configure_optimizers`` result: no weight decay on biases and LayerNorm, step-wise schedule."""
    from transformers import get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in n or "bias" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    total = max(int(total_steps), 1)
    sched = get_linear_schedule_with_warmup(opt, int(warmup_ratio * total), total)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
