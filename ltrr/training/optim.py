"""AdamW with linear warm-up and linear decay over the run (the BERT / sentence-transformers default)."""

from __future__ import annotations

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
