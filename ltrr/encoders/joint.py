"""One model with a dense head and a SPLADE head over a shared (or optionally separate) BERT backbone.

The backbone starts from the packaged all-MiniLM-L6-v2 (``packaged:all-MiniLM-L6-v2``). That checkpoint has no MLM
head, so :meth:`JointEncoder.from_pretrained` lets transformers create one (decoder tied to the word embeddings) and
sets its bias to ``mlm_bias_init``; warm it with :func:`ltrr.encoders.mlm_warmup.warm_mlm_head` before training.
Encoders return representations only; losses live elsewhere.

Saved layout (:meth:`JointEncoder.save_pretrained`)::

    path/joint.json   {"shared": bool, "format": 1, "max_seq_length": int}
    path/dense/       a sentence-transformers folder (BertModel + mean pooling + normalisation)
    path/splade/      a BertForMaskedLM folder (loads in ltrr.encoders.sparse.SpladeEncoder)
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Sequence

import torch
from transformers import AutoTokenizer, BatchEncoding, BertForMaskedLM, BertModel

from ltrr.encoders.dense import PACKAGED, DenseEncoder, resolve_model_path, tiny_bert_config
from ltrr.encoders.sparse import splade_pool

log = logging.getLogger(__name__)
HEADS = ("dense", "sparse")
SPARSE_HEAD_PREFIX = "mlm.cls.predictions."  # parameter names of the SPLADE head (transform, decoder bias)
FORMAT = 1


class JointEncoder(torch.nn.Module):
    """Dense (mean pooling, L2-normalised) and SPLADE-max heads over one BERT backbone.

    Parameters
    ----------
    mlm : transformers.BertForMaskedLM
        ``mlm.bert`` is the backbone of the SPLADE head (and of the dense head when ``dense_backbone`` is ``None``);
        ``mlm.cls.predictions`` is the SPLADE head, its decoder tied to the word embeddings.
    tokenizer : transformers.PreTrainedTokenizerBase
    dense_backbone : transformers.BertModel, optional
        A separate backbone for the dense head (``shared=False``); ``None`` shares ``mlm.bert``.
    mlm_bias_init : float, optional
        When given, the MLM decoder bias is filled with this value (use for a freshly created head only).
    """

    def __init__(self, mlm: BertForMaskedLM, tokenizer, dense_backbone: BertModel | None = None,
                 mlm_bias_init: float | None = None) -> None:
        super().__init__()
        self.mlm, self.tokenizer, self.dense_backbone = mlm, tokenizer, dense_backbone
        if mlm_bias_init is not None:
            with torch.no_grad():
                mlm.cls.predictions.bias.fill_(float(mlm_bias_init))
        vocab = int(mlm.config.vocab_size)
        ids = sorted(i for i in tokenizer.all_special_ids if i < vocab)
        self.register_buffer("zero_ids", torch.tensor(ids, dtype=torch.long), persistent=False)
        self.train(mlm.training)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, name_or_path: str = PACKAGED, shared: bool | None = None,
                        mlm_bias_init: float | None = -2.0, gradient_checkpointing: bool = False) -> "JointEncoder":
        """Load from a BERT checkpoint (hub name, folder, ``packaged:...``) or a folder written by :meth:`save_pretrained`.

        Parameters
        ----------
        name_or_path : str
        shared : bool, optional
            One backbone for both heads (``True``) or a separate dense backbone initialised from the same weights.
            ``None``: the saved value for a :meth:`save_pretrained` folder, else ``True``.
        mlm_bias_init : float, optional
            Decoder bias of a freshly created MLM head (ignored when the checkpoint holds one).
        gradient_checkpointing : bool
            Trade compute for activation memory in training.

        Returns
        -------
        JointEncoder
            In eval mode.
        """
        path = Path(resolve_model_path(name_or_path))
        if (path / "joint.json").is_file():
            meta = json.loads((path / "joint.json").read_text())
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path}/joint.json: unsupported format {meta.get('format')!r}")
            shared = bool(meta["shared"]) if shared is None else shared
            if shared and not meta["shared"]:
                log.warning("loading separate backbones from %s as shared: the dense backbone is dropped", path)
            mlm = BertForMaskedLM.from_pretrained(path / "splade")
            dense = None if shared else BertModel.from_pretrained(path / "dense")
            model = cls(mlm, AutoTokenizer.from_pretrained(path / "splade"), dense)
        else:
            src = str(path) if path.exists() else name_or_path
            mlm, info = BertForMaskedLM.from_pretrained(src, output_loading_info=True)
            fresh = any(k.startswith("cls.predictions") for k in info["missing_keys"])
            if fresh:
                log.info("%s has no MLM head: created a new one (decoder tied to the word embeddings, bias %s)",
                         name_or_path, mlm_bias_init)
            shared = True if shared is None else shared
            dense = None if shared else BertModel.from_pretrained(src)
            model = cls(mlm, AutoTokenizer.from_pretrained(src), dense, mlm_bias_init if fresh else None)
        if gradient_checkpointing:
            for m in (model.mlm, model.dense_backbone):
                if m is None:
                    continue
                if hasattr(m, "activation_checkpointing_enable"):  # transformers >= 5 (the old name is deprecated)
                    m.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
                else:
                    m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        log.info("joint encoder from %s (shared=%s)", name_or_path, shared)
        return model.eval()

    @classmethod
    def tiny(cls, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, seed: int = 0,
             shared: bool = True) -> "JointEncoder":
        """A randomly initialised small BERT with the packaged tokenizer (tests and debug runs), in eval mode."""
        tok, cfg = tiny_bert_config(hidden_size, num_layers, num_heads)
        torch.manual_seed(seed)
        mlm = BertForMaskedLM(cfg)
        dense = None
        if not shared:
            dense = BertModel(copy.deepcopy(cfg))
            dense.load_state_dict(mlm.bert.state_dict(), strict=False)  # same start; the pooler stays random
        return cls(mlm, tok, dense).eval()

    # ------------------------------------------------------------------ properties
    @property
    def shared(self) -> bool:
        """Whether both heads read the same backbone."""
        return self.dense_backbone is None

    @property
    def dense_encoder_backbone(self) -> BertModel:
        """The backbone the dense head reads (``mlm.bert`` when shared)."""
        return self.mlm.bert if self.dense_backbone is None else self.dense_backbone

    @property
    def dim(self) -> int:
        """Dense embedding size."""
        return int(self.dense_encoder_backbone.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        """Sparse vector size."""
        return int(self.mlm.config.vocab_size)

    # ------------------------------------------------------------------ encoding
    def tokenize(self, texts: Sequence[str], max_length: int) -> BatchEncoding:
        """Pad and truncate to ``max_length``; PyTorch tensors of shape ``(B, L)`` (on CPU)."""
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The MLM head alone.

        Parameters
        ----------
        hidden : torch.Tensor, shape ``(..., H)``
            Backbone states, e.g. ``(B, L, H)`` or the ``(N, H)`` selected positions.

        Returns
        -------
        torch.Tensor, shape ``(..., V)``
        """
        return self.mlm.cls(hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                heads: Sequence[str] = HEADS) -> dict[str, torch.Tensor]:
        """Compute the requested representations (only those: the SPLADE logits are ``B x L x V``).

        Parameters
        ----------
        input_ids, attention_mask : torch.Tensor, shape ``(B, L)``
        token_type_ids : torch.Tensor, shape ``(B, L)``, optional
        heads : sequence of {"dense", "sparse"}

        Returns
        -------
        dict
            ``"dense"``: ``(B, H)`` unit rows; ``"sparse"``: ``(B, V)`` non-negative SPLADE-max weights with the
            special tokens at 0.
        """
        unknown = set(heads) - set(HEADS)
        if unknown:
            raise ValueError(f"unknown heads {sorted(unknown)}; choose from {HEADS}")
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        out: dict[str, torch.Tensor] = {}
        hidden = None
        if "sparse" in heads:
            hidden = self.mlm.bert(**inputs).last_hidden_state
            out["sparse"] = splade_pool(self.mlm_logits(hidden), attention_mask, self.zero_ids)
        if "dense" in heads:
            if hidden is None or not self.shared:
                hidden = self.dense_encoder_backbone(**inputs).last_hidden_state
            out["dense"] = DenseEncoder.pool(hidden, attention_mask)
        return out

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path: str | Path, max_seq_length: int = 256) -> Path:
        """Write ``dense/`` (sentence-transformers), ``splade/`` (masked LM) and ``joint.json`` under ``path``.

        Parameters
        ----------
        path : str or Path
        max_seq_length : int
            Truncation length recorded for sentence-transformers (clamped to the position table).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        limit = int(self.mlm.config.max_position_embeddings)
        if max_seq_length > limit:
            log.warning("max_seq_length %d exceeds the model's %d positions; saving %d", max_seq_length, limit, limit)
            max_seq_length = limit
        self.mlm.save_pretrained(path / "splade")
        self.tokenizer.save_pretrained(path / "splade")
        self._save_dense(path / "dense", max_seq_length)
        meta = {"shared": self.shared, "format": FORMAT, "max_seq_length": max_seq_length}
        (path / "joint.json").write_text(json.dumps(meta, indent=2) + "\n")
        log.info("saved joint encoder to %s (shared=%s)", path, self.shared)
        return path

    def _save_dense(self, out: Path, max_seq_length: int) -> None:
        """The dense side as a sentence-transformers folder: Transformer -> mean Pooling -> Normalize."""
        backbone = self.dense_backbone
        if backbone is None:  # the shared backbone has no pooler: copy it into a BertModel with a zero (unused) one
            src = self.mlm.bert
            backbone = BertModel(copy.deepcopy(src.config)).to(src.embeddings.word_embeddings.weight.dtype)
            with torch.no_grad():
                backbone.pooler.dense.weight.zero_()
                backbone.pooler.dense.bias.zero_()
            missing, unexpected = backbone.load_state_dict(src.state_dict(), strict=False)
            if unexpected or not all(k.startswith("pooler.") for k in missing):
                raise RuntimeError(f"backbone copy failed: missing {missing}, unexpected {unexpected}")
        backbone.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
        pooling = {"word_embedding_dimension": self.dim, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}
        files = {"modules.json": modules, "1_Pooling/config.json": pooling,
                 "sentence_bert_config.json": {"max_seq_length": max_seq_length, "do_lower_case": False},
                 "config_sentence_transformers.json": {"similarity_fn_name": "cosine"}}
        (out / "1_Pooling").mkdir(exist_ok=True)
        (out / "2_Normalize").mkdir(exist_ok=True)
        for name, obj in files.items():
            (out / name).write_text(json.dumps(obj, indent=2) + "\n")
