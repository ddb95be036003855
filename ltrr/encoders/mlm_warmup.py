"""Warm a freshly created MLM head: masked-LM training of the head alone with the backbone frozen.

all-MiniLM-L6-v2 ships without an MLM head, so the SPLADE head of :class:`ltrr.encoders.joint.JointEncoder` starts
random. Following the usual recipe, train only the head (transform dense + LayerNorm + decoder bias; the decoder
weight is the tied word-embedding matrix and stays frozen) on 15% BERT masking of the target corpus.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from ltrr.encoders.joint import JointEncoder

log = logging.getLogger(__name__)


def head_parameters(model: JointEncoder) -> list[torch.nn.Parameter]:
    """The trainable MLM-head parameters: everything in ``cls.predictions`` except the tied word embeddings."""
    tied = model.mlm.bert.embeddings.word_embeddings.weight
    return [p for p in model.mlm.cls.predictions.parameters() if p is not tied]


def mask_tokens(input_ids: torch.Tensor, candidates: torch.Tensor, mask_id: int, vocab_size: int, mask_prob: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT 80/10/10 masking.

    Parameters
    ----------
    input_ids : torch.Tensor, shape ``(B, L)``
    candidates : torch.Tensor, shape ``(B, L)``, bool
        Positions that may be selected (real, non-special tokens).
    mask_id, vocab_size : int
    mask_prob : float
        Share of candidate positions selected (at least one per batch when any candidate exists).
    generator : torch.Generator
        CPU generator; all tensors are on CPU.

    Returns
    -------
    tuple of torch.Tensor
        The corrupted ids ``(B, L)`` and the bool selection ``(B, L)`` (the positions to predict).
    """
    sel = (torch.rand(input_ids.shape, generator=generator) < mask_prob) & candidates
    if not sel.any() and candidates.any():
        flat = torch.nonzero(candidates.flatten()).squeeze(1)
        pick = flat[torch.randint(len(flat), (1,), generator=generator)]
        sel.view(-1)[pick] = True
    roll = torch.rand(input_ids.shape, generator=generator)
    out = input_ids.clone()
    out[sel & (roll < 0.8)] = mask_id
    rand = sel & (roll >= 0.8) & (roll < 0.9)
    out[rand] = torch.randint(vocab_size, (int(rand.sum()),), generator=generator)
    return out, sel


def warm_mlm_head(model: JointEncoder, texts: Sequence[str], steps: int = 300, batch_size: int = 16, lr: float = 1e-3,
                  mask_prob: float = 0.15, max_length: int = 128, seed: int = 0, progress: bool = False,
                  identity_prob: float = 0.0) -> list[float]:
    """Train the MLM head alone on ``texts`` (backbone and word embeddings frozen, then restored).

    The backbone runs under ``no_grad`` in eval mode; only the selected positions go through the head, so the
    ``(B, L, V)`` logits are never built. The model's training mode and ``requires_grad`` flags are restored.

    Parameters
    ----------
    model : JointEncoder
    texts : sequence of str
        Target corpus (sampled in shuffled passes).
    steps, batch_size : int
    lr : float
        AdamW learning rate (no weight decay).
    mask_prob : float
    max_length : int
        Truncation length in tokens.
    seed : int
        Seeds the batch order and the masking (own RNGs; global state untouched).
    progress : bool
        Show a progress bar.
    identity_prob : float
        Share of the *uncorrupted* positions also trained to predict their own token (same forward pass). SPLADE
        reads uncorrupted text, so its lexical terms come from exactly these positions; plain MLM never asks the head
        for them (beyond BERT's 10% kept tokens). 0 gives standard MLM.

    Returns
    -------
    list of float
        Cross-entropy loss per step.
    """
    from tqdm.auto import tqdm

    if len(texts) == 0:
        raise ValueError("warm_mlm_head needs at least one text")
    tok = model.tokenizer
    ids = tok(list(texts), truncation=True, max_length=max_length)["input_ids"]
    special = torch.as_tensor(sorted(set(tok.all_special_ids)))
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    params = head_parameters(model)
    flags = {p: p.requires_grad for p in model.parameters()}
    was_training = model.training
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    losses: list[float] = []
    order = np.zeros(0, dtype=np.int64)
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        model.eval()
        for _ in tqdm(range(steps), desc="warm MLM head", disable=not progress, leave=False):
            while len(order) < batch_size:
                order = np.concatenate([order, rng.permutation(len(ids))])
            rows, order = order[:batch_size], order[batch_size:]
            batch = tok.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
            cand = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], special)
            corrupted, sel = mask_tokens(batch["input_ids"], cand, tok.mask_token_id, model.vocab_size, mask_prob, gen)
            if not sel.any():
                raise ValueError("no maskable tokens in the batch (texts empty after tokenisation?)")
            with torch.no_grad():
                hidden = model.mlm.bert(input_ids=corrupted.to(device),
                                        attention_mask=batch["attention_mask"].to(device)).last_hidden_state
            if identity_prob > 0:
                sel = sel | (cand & (torch.rand(sel.shape, generator=gen) < identity_prob))
            sel_d = sel.to(device)
            logits = model.mlm_logits(hidden[sel_d])  # (N, V) at the selected positions only
            loss = torch.nn.functional.cross_entropy(logits.float(), batch["input_ids"].to(device)[sel_d])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.train(was_training)
    if losses:
        k = max(1, min(10, len(losses) // 5))
        log.info("MLM head warm-up: %d steps, loss %.3f -> %.3f (mean of first/last %d)", len(losses),
                 float(np.mean(losses[:k])), float(np.mean(losses[-k:])), k)
    return losses


@torch.no_grad()
def calibrate_sparsity(model: JointEncoder, texts: Sequence[str], target_l0: float, max_length: int = 128,
                       batch_size: int = 16) -> float:
    """Shift the MLM decoder bias so that SPLADE vectors of ``texts`` start with about ``target_l0`` non-zeros.

    An MLM head warmed on masked tokens still gives positive logits to thousands of terms once max-pooled over a
    document, so the first SPLADE vectors are nearly dense, their dot products reach the thousands and the ranking
    loss swamps the shared backbone. Since the bias is added to every position alike, subtracting a constant ``c``
    from it shifts every max-pooled logit by exactly ``-c``: the term order is unchanged and only the cut-off moves.
    ``c`` is the median over ``texts`` of each text's ``target_l0``-th largest pooled logit.

    Parameters
    ----------
    model : JointEncoder
    texts : sequence of str
        A sample of documents.
    target_l0 : float
        Wanted average number of non-zero terms per document.
    max_length, batch_size : int

    Returns
    -------
    float
        The shift ``c`` subtracted from the decoder bias.
    """
    if target_l0 < 1:
        raise ValueError(f"target_l0 must be >= 1, got {target_l0}")
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    zero = model.zero_ids.to(device)
    cuts = []
    for s in range(0, len(texts), batch_size):
        batch = model.tokenize(list(texts[s:s + batch_size]), max_length).to(device)
        hidden = model.mlm.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        logits = model.mlm_logits(hidden).masked_fill(batch["attention_mask"].unsqueeze(-1) == 0, float("-inf"))
        pooled = logits.amax(dim=1)
        pooled[:, zero] = float("-inf")
        k = int(min(target_l0, pooled.shape[1]))
        cuts.append(pooled.topk(k, dim=1).values[:, -1].float().cpu())
    c = float(torch.cat(cuts).median()) if cuts else 0.0
    model.mlm.cls.predictions.bias.data -= c
    model.train(was)
    log.info("SPLADE bias shifted by %.3f for about %.0f non-zeros per document (median over %d texts)",
             c, target_l0, len(texts))
    return c
