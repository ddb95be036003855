"""Distil a cross-encoder into a smaller one, for serving latency.

The student is a narrow, shallow BERT with the teacher's tokenizer. Its token, position and segment embeddings
start as the teacher's projected on their top principal directions (so words start where the teacher put them,
in fewer dimensions); the transformer layers and head start fresh. It learns to reproduce the teacher's scores on
the candidate lists it will rerank: a listwise KL between the two softmaxes over each list (the order) plus a
mean squared error on the logits (the scale, so the student can replace the teacher wherever scores are
interpolated).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import BertConfig, BertForSequenceClassification

from ltrr.encoders.cross import CrossEncoder

log = logging.getLogger(__name__)


@dataclass
class ScoredList:
    """One query's candidate documents, the teacher's score of each and, when known, their relevance grades
    (same order)."""

    query: str
    docs: list[str]
    scores: np.ndarray
    labels: np.ndarray | None = None


def _embeddings(model: torch.nn.Module) -> torch.nn.Module:
    base = getattr(model, model.base_model_prefix, model)
    return base.embeddings


def student_from_teacher(teacher: CrossEncoder, hidden_size: int = 128, num_layers: int = 2, num_heads: int = 2,
                         intermediate_size: int | None = None, seed: int = 0,
                         max_length: int | None = None) -> CrossEncoder:
    """A small BERT cross-encoder whose embeddings are the teacher's, projected to ``hidden_size`` dimensions.

    Parameters
    ----------
    teacher : CrossEncoder
        A BERT-family cross-encoder (word, position and token-type embeddings).
    hidden_size, num_layers, num_heads : int
        The student's width, depth and attention heads (``hidden_size`` divisible by ``num_heads`` and at most the
        teacher's width).
    intermediate_size : int, optional
        Feed-forward width (default ``4 * hidden_size``).
    seed : int
        Seeds the fresh layers.
    max_length : int, optional
        The student's pair length (default: the teacher's).

    Returns
    -------
    CrossEncoder
        On the CPU, in train mode, with ``model_id`` naming its shape.
    """
    src = _embeddings(teacher.model)
    width = src.word_embeddings.weight.shape[1]
    if hidden_size % num_heads or not 0 < hidden_size <= width:
        raise ValueError(f"hidden_size {hidden_size} must divide by num_heads {num_heads} and be in [1, {width}]")
    tcfg = teacher.model.config
    cfg = BertConfig(vocab_size=tcfg.vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                     num_attention_heads=num_heads, intermediate_size=intermediate_size or 4 * hidden_size,
                     max_position_embeddings=tcfg.max_position_embeddings,
                     type_vocab_size=getattr(tcfg, "type_vocab_size", 2), num_labels=1,
                     pad_token_id=getattr(tcfg, "pad_token_id", 0))
    torch.manual_seed(seed)
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():
        words = src.word_embeddings.weight.detach().float().cpu()
        _, _, vt = torch.linalg.svd(words - words.mean(0), full_matrices=False)
        proj = vt[:hidden_size].T  # (width, hidden_size): the top principal directions of the word embeddings
        dst = model.bert.embeddings
        for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
            table = getattr(src, name, None)
            if table is not None:
                getattr(dst, name).weight.copy_(table.weight.detach().float().cpu() @ proj)
    name = f"distilled-h{hidden_size}-l{num_layers}-a{num_heads}-from-{teacher.model_id}"
    return CrossEncoder(model.train(), teacher.tokenizer, max_length=max_length or teacher.max_length,
                        batch_size=teacher.batch_size, device="cpu", model_id=name)


def listwise_distill_loss(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor,
                          temperature: float = 1.0, mse_weight: float = 0.1) -> torch.Tensor:
    """``tau^2 KL(softmax(t / tau) || softmax(s / tau))`` per list, plus ``mse_weight * mean((s - t)^2)``.

    Parameters
    ----------
    student, teacher : torch.Tensor, shape ``(B, G)``
        Scores of each query's ``G`` candidates (padding anywhere ``mask`` is false).
    mask : torch.Tensor, shape ``(B, G)``, bool
        Real candidates; each row needs at least one.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    if student.shape != teacher.shape or student.shape != mask.shape or student.dim() != 2:
        raise ValueError(f"student {tuple(student.shape)}, teacher {tuple(teacher.shape)} and mask "
                         f"{tuple(mask.shape)} must be the same (B, G)")
    if not bool(mask.any(1).all()):
        raise ValueError("every list needs at least one candidate")
    neg = torch.finfo(torch.float32).min / 4
    s, t = student.float() / temperature, teacher.float().detach() / temperature
    log_p_s = F.log_softmax(s.masked_fill(~mask, neg), dim=1)
    log_p_t = F.log_softmax(t.masked_fill(~mask, neg), dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).masked_fill(~mask, 0.0).sum(1).mean() * temperature ** 2
    mse = ((student.float() - teacher.float().detach()) ** 2)[mask].mean()
    return kl + mse_weight * mse


def label_loss(student: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Listwise softmax cross-entropy against the relevance grades, over the lists that hold a relevant candidate.

    Parameters
    ----------
    student, labels : torch.Tensor, shape ``(B, G)``
        Scores and grades (>= 0) of each query's candidates.
    mask : torch.Tensor, shape ``(B, G)``, bool

    Returns
    -------
    torch.Tensor
        A scalar (0 when no list holds a relevant candidate).
    """
    labels = labels.float().masked_fill(~mask, 0.0)
    has = labels.sum(1) > 0
    if not bool(has.any()):
        return student.sum() * 0.0
    target = labels[has] / labels[has].sum(1, keepdim=True)
    neg = torch.finfo(torch.float32).min / 4
    log_p = F.log_softmax(student[has].float().masked_fill(~mask[has], neg), dim=1)
    return -(target * log_p).masked_fill(~mask[has], 0.0).sum(1).mean()


def distill_cross_encoder(student: CrossEncoder, lists: Sequence[ScoredList], epochs: int = 4, lr: float = 5e-4,
                          lists_per_batch: int = 8, temperature: float = 1.0, mse_weight: float = 0.1,
                          label_weight: float = 0.0, seed: int = 0, device: str = "auto",
                          progress: bool = True) -> list[float]:
    """Train ``student`` to reproduce the teacher's scores on ``lists`` (AdamW, linear warm-up and decay).

    Parameters
    ----------
    student : CrossEncoder
    lists : sequence of ScoredList
    epochs, lr, lists_per_batch : training schedule
    temperature, mse_weight : see :func:`listwise_distill_loss`
    label_weight : float
        Weight of :func:`label_loss` on the lists that carry ``labels`` (0: pure distillation).
    seed : int
        Shuffles the lists.
    device : str
        ``"auto"`` (CUDA when available, logged), ``"cpu"`` or ``"cuda"``; the student ends on the CPU.
    progress : bool

    Returns
    -------
    list of float
        The mean loss of each epoch.
    """
    if not lists:
        raise ValueError("no scored lists to distil from")
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    log.info("distilling %s on %s: %d lists, %d pairs, %d epochs", student.model_id, dev, len(lists),
             sum(len(x.docs) for x in lists), epochs)
    model = student.model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * -(-len(lists) // lists_per_batch)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min((i + 1) / warm, max(0.0, (steps - i) / max(1, steps - warm))))
    rng, losses = np.random.default_rng(seed), []
    bar = tqdm(total=steps, desc="distil", disable=not progress)
    for _ in range(epochs):
        order, total = rng.permutation(len(lists)), 0.0
        for s in range(0, len(order), lists_per_batch):
            chunk = [lists[i] for i in order[s:s + lists_per_batch]]
            width = max(len(x.docs) for x in chunk)
            enc = student.tokenize([x.query for x in chunk for _ in x.docs], [d for x in chunk for d in x.docs])
            flat = student.forward(**{k: v.to(dev) for k, v in enc.items()})
            pred = torch.zeros(len(chunk), width, device=dev)
            target = torch.zeros(len(chunk), width, device=dev)
            mask = torch.zeros(len(chunk), width, dtype=torch.bool, device=dev)
            grades = torch.zeros(len(chunk), width, device=dev)
            at = 0
            for r, x in enumerate(chunk):
                n = len(x.docs)
                pred[r, :n] = flat[at:at + n]
                target[r, :n] = torch.as_tensor(x.scores, dtype=torch.float32, device=dev)
                mask[r, :n] = True
                if x.labels is not None:
                    grades[r, :n] = torch.as_tensor(x.labels, dtype=torch.float32, device=dev)
                at += n
            loss = listwise_distill_loss(pred, target, mask, temperature, mse_weight)
            if label_weight:
                loss = loss + label_weight * label_loss(pred, grades, mask)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(chunk)
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        losses.append(total / len(lists))
        log.info("distil epoch %d: loss %.4f", len(losses), losses[-1])
    bar.close()
    model.to("cpu").eval()
    return losses
