"""Cross-encoder: a Hugging Face sequence classifier with one output that scores (query, document) pairs.

The raw logit is the relevance score (no sigmoid). Any hub name or local folder loads, as does
``packaged:all-MiniLM-L6-v2`` (a plain ``BertModel``: the classifier head is then created fresh, to be trained).
:meth:`CrossEncoder.save_pretrained` writes a Hugging Face folder that ``sentence_transformers.CrossEncoder`` also
loads, with its default activation set to identity so that both return the same scores.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BatchEncoding, BertForSequenceClassification

from ltrr.encoders.dense import PACKAGED, resolve_model_path, tiny_bert_config
from ltrr.encoders.onnx_backend import check_backend, onnx_or_none
from ltrr.utils.lru import LRU

log = logging.getLogger(__name__)
SETTINGS_FILE = "ltrr_cross.json"
_IDENTITY = "torch.nn.modules.linear.Identity"  # sentence-transformers' activation_fn entry: keep raw logits


class CrossEncoder(torch.nn.Module):
    """Score (query, document) pairs jointly with a transformer and a one-logit head.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Sequence classifier with ``num_labels=1`` (its ``logits`` have shape ``(B, 1)``).
    tokenizer : transformers.PreTrainedTokenizerBase
    max_length : int
        Truncation length of a pair in tokens (clamped to the model's position table).
    batch_size : int
        Pairs per forward pass when scoring.
    device : str or None
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``: where the module is moved at construction.
        ``None`` leaves it where it is (e.g. for a training framework that places it). Scoring always runs on the
        device the parameters are on, so a later ``.to()`` is followed.
    model_id : str
        Name of the weights (for logs and reports).
    backend : {"torch", "onnx", "onnx-int8"}
        What :meth:`score_pairs` runs on the CPU: eager PyTorch, an ONNX Runtime export of the weights as they are
        at construction, or its int8 (dynamically quantised) copy (see :mod:`ltrr.encoders.onnx_backend`; needs
        ``pip install ltrr[onnx]``). Falls back to PyTorch, logged, when ONNX Runtime is missing or the model is
        on a GPU. Training (:meth:`forward`) always runs in PyTorch; call :meth:`refresh_backend` after changing
        the weights.
    onnx_cache : str
        Folder for the exported graphs.
    doc_cache : int
        Documents whose token ids :meth:`score` remembers (LRU).
    """

    def __init__(self, model, tokenizer, max_length: int = 256, batch_size: int = 32, device: str | None = "auto",
                 model_id: str = "unnamed", backend: str = "torch", onnx_cache: str = ".cache/ltrr/onnx",
                 doc_cache: int = 100_000) -> None:
        check_backend(backend)
        super().__init__()
        if int(getattr(model.config, "num_labels", 1)) != 1:
            raise ValueError(f"a cross-encoder needs num_labels=1, the model has {model.config.num_labels}")
        if max_length < 4 or batch_size < 1:
            raise ValueError(f"max_length must be >= 4 and batch_size >= 1, got {max_length} and {batch_size}")
        limit = int(getattr(model.config, "max_position_embeddings", max_length))
        if max_length > limit:
            log.warning("max_length %d exceeds the model's %d positions; using %d", max_length, limit, limit)
            max_length = limit
        self.model, self.tokenizer = model, tokenizer
        self.max_length, self.batch_size, self.model_id = int(max_length), int(batch_size), model_id
        if device is not None:
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            log.info("cross encoder on %s", device)
            self.model.to(torch.device(device))
        self.backend, self.onnx_cache, self.onnx = backend, onnx_cache, None
        self._doc_ids, self._layout_ok = LRU(doc_cache), None
        self.refresh_backend()

    def refresh_backend(self) -> None:
        """(Re-)export the current weights for the ONNX backends; a no-op for ``backend="torch"``."""
        self.onnx = onnx_or_none(self.model, self.model_id, self.backend, self.device, self.onnx_cache, "logits")

    @classmethod
    def from_pretrained(cls, name_or_path: str = PACKAGED, **kwargs) -> "CrossEncoder":
        """Load a classifier (or a bare encoder, getting a fresh head) and its tokenizer from a name or folder.

        ``max_length`` defaults to the value saved by :meth:`save_pretrained`, when there is one.
        """
        path = resolve_model_path(name_or_path)
        settings = Path(path) / SETTINGS_FILE
        if settings.is_file():
            kwargs.setdefault("max_length", json.loads(settings.read_text())["max_length"])
        kwargs.setdefault("model_id", name_or_path)
        model, info = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, output_loading_info=True)
        fresh = sorted(k for k in info["missing_keys"] if "classifier" in k or "score" in k)
        if fresh:
            log.info("%s has no classifier head: created a fresh one (%s); train it before use", name_or_path,
                     ", ".join(fresh))
        return cls(model, AutoTokenizer.from_pretrained(path), **kwargs)

    @classmethod
    def tiny(cls, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, seed: int = 0,
             tokenizer: str = PACKAGED, **kwargs) -> "CrossEncoder":
        """A randomly initialised small ``BertForSequenceClassification`` with the packaged tokenizer (tests, debug)."""
        tok, cfg = tiny_bert_config(hidden_size, num_layers, num_heads, tokenizer)
        cfg.num_labels = 1
        torch.manual_seed(seed)
        kwargs.setdefault("model_id", f"tiny-ce-h{hidden_size}-l{num_layers}-a{num_heads}-s{seed}")
        kwargs.setdefault("max_length", 64)
        return cls(BertForSequenceClassification(cfg), tok, **kwargs)

    @property
    def device(self) -> torch.device:
        """Where the parameters are (and where scoring runs)."""
        return next(self.model.parameters()).device

    def tokenize(self, queries: Sequence[str], docs: Sequence[str]) -> BatchEncoding:
        """Tokenize aligned (query, document) pairs, padded to the longest pair.

        Documents are truncated first (``only_second``); a pair whose query alone leaves no room for the document
        is truncated ``longest_first`` instead.

        Parameters
        ----------
        queries, docs : sequence of str, length ``B`` each

        Returns
        -------
        transformers.BatchEncoding
            ``input_ids``, ``attention_mask`` (and ``token_type_ids`` where the model uses them), each a
            ``torch.Tensor`` of shape ``(B, L)`` with ``L <= max_length``, on the CPU.
        """
        return self.tokenizer.pad(self._encode(queries, docs), padding=True, return_tensors="pt")

    def _encode(self, queries: Sequence[str], docs: Sequence[str]) -> list[dict]:
        """Unpadded token ids of each pair (see :meth:`tokenize` for the truncation rule)."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents")
        queries, docs = list(queries), list(docs)
        if not queries:
            return []
        q_lens = [len(x) for x in self.tokenizer(queries, add_special_tokens=False, verbose=False)["input_ids"]]
        room = self.max_length - self.tokenizer.num_special_tokens_to_add(pair=True)
        fits = [n < room for n in q_lens]
        rows: list[dict] = [{}] * len(queries)
        for strategy, keep in (("only_second", True), ("longest_first", False)):
            idx = [i for i, f in enumerate(fits) if f == keep]
            if not idx:
                continue
            if not keep:
                log.debug("%d queries leave no room for the document: truncating longest_first", len(idx))
            enc = self.tokenizer([queries[i] for i in idx], [docs[i] for i in idx], truncation=strategy,
                                 max_length=self.max_length)
            for j, i in enumerate(idx):
                rows[i] = {k: v[j] for k, v in enc.items()}
        return rows

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Relevance logits (differentiable; follows the module's train/eval mode).

        Parameters
        ----------
        input_ids, attention_mask : torch.Tensor, shape ``(B, L)``
        token_type_ids : torch.Tensor, shape ``(B, L)``, optional

        Returns
        -------
        torch.Tensor, shape ``(B,)``
        """
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits.squeeze(-1)

    def score(self, query: str, docs: Sequence[str]) -> np.ndarray:
        """Scores of ``docs`` for one query: float32 array of shape ``(n,)``, in the input order.

        Documents' token ids are remembered (LRU of ``doc_cache`` texts), so a catalogue's tracks are tokenized
        once; the pairs are the same as :meth:`tokenize` makes.
        """
        rows = self._encode_cached(query, docs)
        return self._score_rows(rows if rows is not None else self._encode([query] * len(docs), docs))

    @torch.inference_mode()
    def score_pairs(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        """Score aligned pairs in eval mode, longest first so that each batch carries as little padding as possible.

        Parameters
        ----------
        queries, docs : sequence of str, length ``n`` each

        Returns
        -------
        numpy.ndarray
            Float32 logits of shape ``(n,)``, in the input order.
        """
        return self._score_rows(self._encode(queries, docs))

    @torch.inference_mode()
    def _score_rows(self, rows: list[dict]) -> np.ndarray:
        out = np.zeros(len(rows), dtype=np.float32)
        if not rows:
            return out
        order = np.argsort([-len(r["input_ids"]) for r in rows], kind="stable")
        was_training, device = self.model.training, self.device
        if was_training:  # eval() walks every module: about 0.4 ms a call on MiniLM, so only when needed
            self.model.eval()
        try:
            for s in range(0, len(rows), self.batch_size):
                idx = order[s:s + self.batch_size]
                batch = self._pad([rows[i] for i in idx])
                if self.onnx is not None and device.type == "cpu":
                    logits = self.onnx(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
                    out[idx] = logits[:, 0].numpy()
                else:
                    out[idx] = self.forward(**{k: v.to(device) for k, v in batch.items()}).float().cpu().numpy()
        finally:
            if was_training:
                self.model.train(True)
        return out

    def _pad(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        """Right-pad token rows into ``(B, L)`` int64 tensors (the tokenizer's ``pad`` for other padding sides)."""
        if self.tokenizer.padding_side != "right":
            return dict(self.tokenizer.pad(rows, padding=True, return_tensors="pt"))
        width = max(len(r["input_ids"]) for r in rows)
        pad = {"input_ids": self.tokenizer.pad_token_id or 0, "attention_mask": 0, "token_type_ids": 0}
        out = {}
        for key in rows[0]:
            arr = np.full((len(rows), width), pad.get(key, 0), dtype=np.int64)
            for i, r in enumerate(rows):
                arr[i, :len(r[key])] = r[key]
            out[key] = torch.from_numpy(arr)
        return out

    def _encode_cached(self, query: str, docs: Sequence[str]) -> list[dict] | None:
        """Pair rows ``[CLS] q [SEP] d [SEP]`` from remembered document ids; ``None`` where that layout does not
        reproduce the tokenizer's (checked once) or the query alone fills ``max_length``."""
        if self._layout_ok is None:
            self._layout_ok = False
            try:
                self._layout_ok = all(self._fast_rows(q, [d]) == self._encode([q], [d])
                                      for q, d in (("red car", "blue sky over the sea"), ("a", "b c")))
            except (TypeError, KeyError, AttributeError):
                pass
            log.debug("cross-encoder token cache %s", "on" if self._layout_ok else "off (another pair layout)")
        return self._fast_rows(query, docs) if self._layout_ok else None

    def _fast_rows(self, query: str, docs: Sequence[str]) -> list[dict] | None:
        tok = self.tokenizer
        q = tok(query, add_special_tokens=False, verbose=False)["input_ids"]
        room = self.max_length - 3 - len(q)
        if room <= 0:
            return None
        types = "token_type_ids" in tok.model_input_names
        known = [self._doc_ids.get(d) for d in docs]
        new = list(dict.fromkeys(d for d, ids in zip(docs, known) if ids is None))
        if new:  # one batched call for the documents not seen before
            fresh = dict(zip(new, tok(new, add_special_tokens=False, truncation=True, max_length=self.max_length,
                                      verbose=False)["input_ids"]))
            for d, ids in fresh.items():
                self._doc_ids.put(d, ids)
            known = [ids if ids is not None else fresh[d] for d, ids in zip(docs, known)]
        rows = []
        for ids in known:
            ids = ids[:room]
            row = {"input_ids": [tok.cls_token_id, *q, tok.sep_token_id, *ids, tok.sep_token_id]}
            if types:
                row["token_type_ids"] = [0] * (len(q) + 2) + [1] * (len(ids) + 1)
            row["attention_mask"] = [1] * len(row["input_ids"])
            rows.append(row)
        return rows

    def save_pretrained(self, path: str | Path) -> Path:
        """Write model, tokenizer and ``ltrr_cross.json`` to ``path`` (loads with :meth:`from_pretrained` and with
        ``sentence_transformers.CrossEncoder``, whose default activation is set to identity)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        st = dict(getattr(self.model.config, "sentence_transformers", None) or {})
        self.model.config.sentence_transformers = st | {"activation_fn": _IDENTITY}
        self.model.save_pretrained(path)
        saved_max, self.tokenizer.model_max_length = self.tokenizer.model_max_length, self.max_length
        try:  # sentence-transformers truncates at the tokenizer's model_max_length
            self.tokenizer.save_pretrained(path)
        finally:
            self.tokenizer.model_max_length = saved_max
        (path / SETTINGS_FILE).write_text(json.dumps({"max_length": self.max_length}))
        log.info("saved cross encoder %s to %s", self.model_id, path)
        return path
