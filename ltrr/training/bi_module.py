"""Lightning module for the joint dense + SPLADE encoder.

Loss per step: the joint contrastive loss (InfoNCE per head, combined score, self-distillation after
``distill_start_step``) + ``λ_q(t)·reg(Q) + λ_d(t)·FLOPS(D)`` with the quadratic warm-up, optionally
+ ``distill_weight · MarginMSE`` (or KL) against a cross-encoder teacher scoring the same groups.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import torch

from ltrr.losses import FLOPS, L1Sparsity, QuadraticWarmup, contrastive_scores, sparsity_stats
from ltrr.encoders.joint import SPARSE_HEAD_PREFIX
from ltrr.training.optim import FineTuneModule

log = logging.getLogger(__name__)


def bi_collate(tokenize: Callable, query_max_length: int, doc_max_length: int, keep_texts: bool = False) -> Callable:
    """Collate ``GroupDataset`` items into query and doc inputs (docs flattened as ``B*G`` rows, positive first)."""

    def collate(items: Sequence[tuple[str, list[str], list[str]]]) -> dict[str, Any]:
        queries = [q for q, _, _ in items]
        docs = [d for _, ds, _ in items for d in ds]
        out = {"q": dict(tokenize(queries, query_max_length)), "d": dict(tokenize(docs, doc_max_length)),
               "group_size": len(items[0][1])}
        if keep_texts:
            out["texts"] = (queries, [ds for _, ds, _ in items])
        return out

    return collate


class BiEncoderModule(FineTuneModule):
    """Trains a :class:`~ltrr.encoders.joint.JointEncoder`.

    Parameters
    ----------
    model : JointEncoder
    loss : JointContrastiveLoss
    heads : sequence of {"dense", "sparse"}
        Heads to train (both for the joint model).
    lr, weight_decay, warmup_ratio : float
        AdamW with linear warm-up then linear decay.
    lambda_q, lambda_d : float
        Final weights of the query regulariser and the document FLOPS regulariser.
    query_reg : {"flops", "l1"}
    reg_warmup_steps : int
        Steps of the quadratic ramp of both regularisers (naver: 50,000; use about a third of the run when short).
    gather : bool
        Score every query against the documents of all ranks (DDP in-batch negatives).
    distill_start_step : int
        Self-distillation (combined score as teacher) starts here; before, the heads warm up on their own losses.
    teacher : CrossEncoder, optional
        Scores each group; adds ``distill_weight * distill_loss(student, teacher)`` for each trained head.
    distill_loss : torch.nn.Module, optional
        ``MarginMSE`` or ``KLDistill`` over ``(B, G)`` scores.
    distill_weight : float
    evaluator : callable, optional
        ``evaluator(model) -> dict`` of dev metrics, run in the validation loop.
    dropout : bool
        Train with dropout (see :class:`~ltrr.training.optim.FineTuneModule`).
    head_lr : float, optional
        Learning rate of the SPLADE head's own layers (MLM transform and decoder bias; the decoder weight is the
        tied word-embedding matrix and keeps ``lr``). The head is created fresh for a checkpoint without one, so it
        may need more than the backbone's fine-tuning rate. ``None``: ``lr``.
    """

    def __init__(self, model, loss, heads: Sequence[str] = ("dense", "sparse"), lr: float = 2e-5,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.1, lambda_q: float = 3e-4,
                 lambda_d: float = 1e-4, query_reg: str = "flops", reg_warmup_steps: int = 1000, gather: bool = False,
                 distill_start_step: int = 0, teacher=None, distill_loss=None, distill_weight: float = 1.0,
                 evaluator: Callable | None = None, dropout: bool = False, head_lr: float | None = None) -> None:
        super().__init__(model, lr, weight_decay, warmup_ratio, dropout, (SPARSE_HEAD_PREFIX,), head_lr)
        if query_reg not in ("flops", "l1"):
            raise ValueError(f"query_reg must be 'flops' or 'l1', got {query_reg!r}")
        if not set(heads) <= {"dense", "sparse"} or not heads:
            raise ValueError(f"heads must be a non-empty subset of ('dense', 'sparse'), got {heads}")
        self.loss, self.heads = loss, tuple(heads)
        self.q_reg = FLOPS() if query_reg == "flops" else L1Sparsity()
        self.d_reg = FLOPS()
        self.lambda_q, self.lambda_d = QuadraticWarmup(lambda_q, reg_warmup_steps), QuadraticWarmup(lambda_d, reg_warmup_steps)
        self.gather, self.distill_start_step = gather, distill_start_step
        self.teacher, self.distill_loss, self.distill_weight = teacher, distill_loss, distill_weight
        if teacher is not None:
            teacher.requires_grad_(False)
        self.evaluator = evaluator

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        g = int(batch["group_size"])
        q = self.model(**batch["q"], heads=self.heads)
        d = self.model(**batch["d"], heads=self.heads)
        scores = {h: contrastive_scores(q[h], d[h], g, gather=self.gather) for h in self.heads}
        step = self.global_step
        log_ = {}
        if len(self.heads) == 2:
            (sd, targets), (ss, _) = scores["dense"], scores["sparse"]
            parts = self.loss(sd, ss, targets, distill=step >= self.distill_start_step)
            total = parts["loss"]
            log_.update({f"train/loss_{k}": v.detach() for k, v in parts.items() if k != "loss"})
        else:
            h = self.heads[0]
            s, targets = scores[h]
            temp = self.loss.dense_temperature if h == "dense" else self.loss.sparse_temperature
            total = torch.nn.functional.cross_entropy(s / temp, targets)
            log_[f"train/loss_{h}"] = total.detach()
        if "sparse" in self.heads:
            lq, ld = self.lambda_q(step), self.lambda_d(step)
            reg_q, reg_d = self.q_reg(q["sparse"]), self.d_reg(d["sparse"])
            total = total + lq * reg_q + ld * reg_d
            sq, sd_ = sparsity_stats(q["sparse"]), sparsity_stats(d["sparse"])
            log_.update({"train/flops_q": sq["flops"], "train/flops_d": sd_["flops"], "train/l0_q": sq["l0"],
                         "train/l0_d": sd_["l0"], "train/lambda_q": lq, "train/lambda_d": ld})
        if self.teacher is not None and self.distill_loss is not None:
            t = self._teacher_scores(batch["texts"], g).to(total.dtype)
            for h in self.heads:
                b = q[h].shape[0]
                student = (q[h].unsqueeze(1) * d[h].view(b, g, -1)).sum(-1)
                dl = self.distill_loss(student, t)
                total = total + self.distill_weight * dl
                log_[f"train/distill_{h}"] = dl.detach()
        log_["train/loss"] = total.detach()
        self.log_dict(log_, prog_bar=False, batch_size=q[self.heads[0]].shape[0])
        self.log("loss", total.detach(), prog_bar=True, logger=False, batch_size=q[self.heads[0]].shape[0])
        return total

    @torch.no_grad()
    def _teacher_scores(self, texts: tuple[list[str], list[list[str]]], g: int) -> torch.Tensor:
        queries, docs = texts
        pairs_q = [q for q, ds in zip(queries, docs) for _ in ds]
        pairs_d = [d for ds in docs for d in ds]
        enc = self.teacher.tokenize(pairs_q, pairs_d).to(self.device)
        self.teacher.eval()
        return self.teacher(**enc).float().view(len(queries), g)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """The whole dev evaluation runs here, identically on every rank (the loader yields one dummy item)."""
        if self.evaluator is None:
            return
        metrics = self.evaluator(self.model, self.heads)
        self.log_dict({f"dev/{k}": float(v) for k, v in metrics.items()}, batch_size=1, sync_dist=False)
        main = "fusion/ndcg@10" if "fusion/ndcg@10" in metrics else f"{self.heads[0]}/ndcg@10"
        self.log("dev/ndcg@10", float(metrics[main]), prog_bar=True, batch_size=1)
