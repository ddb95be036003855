"""Sparse (vocabulary-sized) text encoders: SPLADE max pooling over a masked LM, and BM25 term weights.

Both map texts to ``scipy.sparse.csr_matrix`` rows of shape ``(n, vocab_size)``, float32, scored by dot product.
:func:`splade_pool` is the differentiable pooling that training code imports.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM

from ltrr.encoders.dense import PACKAGED, resolve_model_path, tiny_bert_config

log = logging.getLogger(__name__)


def splade_pool(logits: torch.Tensor, attention_mask: torch.Tensor,
                zero_ids: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """SPLADE max pooling ``w_j = max_i log(1 + ReLU(logit_ij)) * mask_i``.

    Parameters
    ----------
    logits : torch.Tensor, shape ``(B, L, V)``
        MLM logits.
    attention_mask : torch.Tensor, shape ``(B, L)``
        1 for real tokens, 0 for padding.
    zero_ids : sequence of int, optional
        Vocabulary ids whose weight is forced to 0 (special tokens such as [CLS], [SEP], [PAD]).

    Returns
    -------
    torch.Tensor, shape ``(B, V)``
        Non-negative term weights (differentiable).
    """
    if logits.dim() != 3 or attention_mask.shape != logits.shape[:2]:
        raise ValueError(f"splade_pool: logits {tuple(logits.shape)} and attention_mask "
                         f"{tuple(attention_mask.shape)} must be (B, L, V) and (B, L)")
    # log1p(relu(.)) is monotone and >= 0, so pooling the masked logits first gives the same values and the same
    # gradients (to each term's arg-max token) with one (B, L, V) temporary instead of three.
    pad = attention_mask.unsqueeze(-1) == 0
    w = torch.log1p(torch.relu(logits.masked_fill(pad, float("-inf")).amax(dim=1)))
    if zero_ids is not None and len(zero_ids):
        keep = torch.ones(w.shape[-1], dtype=w.dtype, device=w.device)
        keep[torch.as_tensor(zero_ids, dtype=torch.long, device=w.device)] = 0
        w = w * keep
    return w


def dense_to_csr(weights: torch.Tensor, top_k: int | None = None) -> sp.csr_matrix:
    """Keep the ``top_k`` largest positive weights per row (all positive ones when ``None``).

    Parameters
    ----------
    weights : torch.Tensor, shape ``(B, V)``
    top_k : int, optional

    Returns
    -------
    scipy.sparse.csr_matrix, shape ``(B, V)``, float32
    """
    w = weights.detach().float()
    b, v = w.shape
    if top_k is not None and top_k < v:
        vals, cols = w.topk(int(top_k), dim=1)
        rows = torch.arange(b, device=w.device).unsqueeze(1).expand_as(cols)
        keep = vals > 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    else:
        rows, cols = torch.nonzero(w > 0, as_tuple=True)
        vals = w[rows, cols]
    out = sp.csr_matrix((vals.cpu().numpy(), (rows.cpu().numpy(), cols.cpu().numpy())), shape=(b, v), dtype=np.float32)
    out.sort_indices()
    return out


def prune_rows(x: sp.csr_matrix, top_k: int | None) -> sp.csr_matrix:
    """Keep the ``top_k`` largest entries of each CSR row (vectorised; ties broken by lower column id).

    Parameters
    ----------
    x : scipy.sparse.csr_matrix, shape ``(n, V)``
    top_k : int, optional
        ``None`` returns ``x`` unchanged.
    """
    x = sp.csr_matrix(x, dtype=np.float32)
    if top_k is None or x.nnz == 0 or np.diff(x.indptr).max() <= top_k:
        return x
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    order = np.lexsort((x.indices, -x.data, rows))  # by row, then weight descending, then column
    rank = np.arange(x.nnz) - x.indptr[rows[order]]
    sel = np.sort(order[rank < top_k])
    out = sp.csr_matrix((x.data[sel], (rows[sel], x.indices[sel])), shape=x.shape, dtype=np.float32)
    out.sort_indices()
    return out


class SparseEncoder(ABC):
    """Texts to sparse vocabulary-sized vectors (dot-product scoring).

    Attributes
    ----------
    vocab_size : int
    model_id : str
        Name of the weights and settings (part of cache keys).
    """

    vocab_size: int
    model_id: str

    @property
    def fitted(self) -> bool:
        """``False`` when :meth:`fit` must see the documents before encoding (corpus statistics)."""
        return True

    def fit(self, doc_texts: Sequence[str]) -> "SparseEncoder":
        """Learn corpus statistics (no-op for neural encoders)."""
        return self

    def fit_encode_docs(self, doc_texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        """:meth:`fit` then :meth:`encode_docs` on the same texts (subclasses may share work)."""
        return self.fit(doc_texts).encode_docs(doc_texts, progress=progress)

    @abstractmethod
    def encode_queries(self, texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        """Query vectors, csr ``(n, vocab_size)`` float32."""

    @abstractmethod
    def encode_docs(self, texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        """Document vectors, csr ``(n, vocab_size)`` float32."""


class SpladeEncoder(SparseEncoder):
    """SPLADE-max over any Hugging Face masked LM.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Masked LM returning ``logits`` of shape ``(B, L, V)``.
    tokenizer : transformers.PreTrainedTokenizerBase
    max_length : int
        Truncation length in tokens.
    batch_size : int
        Texts per forward pass.
    doc_top_k, query_top_k : int, optional
        Keep only the largest weights of each document / query vector.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    model_id : str
    """

    def __init__(self, model, tokenizer, max_length: int = 256, batch_size: int = 32, doc_top_k: int | None = None,
                 query_top_k: int | None = None, device: str = "auto", model_id: str = "unnamed") -> None:
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        log.info("splade encoder on %s", device)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer, self.max_length, self.batch_size = tokenizer, max_length, batch_size
        self.doc_top_k, self.query_top_k = doc_top_k, query_top_k
        self.vocab_size = int(model.config.vocab_size)
        self.zero_ids = sorted(i for i in tokenizer.all_special_ids if i < self.vocab_size)
        self.model_id = f"{model_id}|len{max_length}|splade-max|dk{doc_top_k}|qk{query_top_k}"

    @classmethod
    def from_pretrained(cls, model_name_or_path: str, **kwargs) -> "SpladeEncoder":
        """Load a masked LM and its tokenizer from a hub name or folder (``packaged:...`` names resolve too)."""
        path = resolve_model_path(model_name_or_path)
        kwargs.setdefault("model_id", model_name_or_path)
        return cls(AutoModelForMaskedLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), **kwargs)

    @classmethod
    def tiny(cls, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, seed: int = 0,
             tokenizer: str = PACKAGED, **kwargs) -> "SpladeEncoder":
        """A randomly initialised small ``BertForMaskedLM`` with the packaged tokenizer (tests and debug runs)."""
        tok, cfg = tiny_bert_config(hidden_size, num_layers, num_heads, tokenizer)
        torch.manual_seed(seed)
        kwargs.setdefault("model_id", f"tiny-mlm-h{hidden_size}-l{num_layers}-a{num_heads}-s{seed}")
        kwargs.setdefault("max_length", 64)
        return cls(BertForMaskedLM(cfg), tok, **kwargs)

    def encode_queries(self, texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        return self._encode(texts, self.query_top_k, progress, "encode queries")

    def encode_docs(self, texts: Sequence[str], progress: bool = False) -> sp.csr_matrix:
        return self._encode(texts, self.doc_top_k, progress, "encode docs")

    @torch.inference_mode()
    def _encode(self, texts: Sequence[str], top_k: int | None, progress: bool, desc: str) -> sp.csr_matrix:
        from tqdm.auto import tqdm

        parts = [sp.csr_matrix((0, self.vocab_size), dtype=np.float32)]
        for s in tqdm(range(0, len(texts), self.batch_size), desc=desc, disable=not progress, leave=False):
            batch = self.tokenizer(list(texts[s:s + self.batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            logits = self.model(**batch).logits
            parts.append(dense_to_csr(splade_pool(logits, batch["attention_mask"], self.zero_ids), top_k))
        return sp.vstack(parts, format="csr", dtype=np.float32)
