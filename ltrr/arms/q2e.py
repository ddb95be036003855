"""Predicted query -> entity (Q2E) scores for entities without clicks (cold start of the memory arm).

The doc2query idea: predict the queries a document answers, and let the memory index retrieve the document for
them before anyone has clicked it. Two predictors:

- :class:`NeighbourQueryPredictor` (no generator model needed): a cold entity's predicted queries are the past
  queries (with observed clicks) most similar to its text under a bi-encoder.
- :class:`Seq2SeqQueryPredictor`: a seq2seq generator (doc2query / docTTTTTquery style) samples queries from the
  entity text.

A predictor returns ``{key: (positions, scores)}``: for each predicted normalised query key, the catalogue
positions of cold entities and their predicted scores.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from typing import Sequence

import numpy as np

from ltrr.encoders.cache import EmbeddingCache
from ltrr.encoders.dense import DenseEncoder, resolve_model_path
from ltrr.utils.text import normalize_query

log = logging.getLogger(__name__)
Predictions = dict[str, tuple[np.ndarray, np.ndarray]]
"""Predicted key -> (entity positions ``(n,)`` int, scores ``(n,)`` float)."""


class QueryPredictor(ABC):
    """Predicts the queries that entities without clicks answer."""

    @abstractmethod
    def predict(self, texts: Sequence[str], cold: np.ndarray, keys: Sequence[str]) -> Predictions:
        """Predicted keys of the cold entities.

        Parameters
        ----------
        texts : sequence of str, length ``n_docs``
            Text of every catalogue entity (the same sequence on every call).
        cold : numpy.ndarray of bool, shape ``(n_docs,)``
            Entities without any click; only these get predictions.
        keys : sequence of str
            Normalised past queries that have observed clicks, in first-seen order (grows between calls).

        Returns
        -------
        dict of str to (numpy.ndarray, numpy.ndarray)
            Key -> (positions of cold entities, predicted scores), each shape ``(n,)``.
        """

    def reset(self) -> None:
        """Forget click-dependent state (the start of a simulated run); text caches may stay."""


class NeighbourQueryPredictor(QueryPredictor):
    """A cold entity's predicted queries are its ``m`` most similar past queries under a bi-encoder.

    Entity texts are encoded once (first call) and query keys once each (cached across runs; the encoder is
    fixed). Each call only scores the keys not seen since the last :meth:`reset`, keeping a running top-``m``
    per entity, so a refresh costs ``O(n_docs x new keys)``.

    Parameters
    ----------
    encoder : DenseEncoder
    m : int
        Predicted queries kept per entity.
    threshold : float
        Minimum cosine similarity between entity text and query.
    weight : float
        Predicted score = ``weight * similarity``.
    progress : bool
        Progress bar while encoding the catalogue.
    cache_dir : str or None
        Folder of the on-disk :class:`~ltrr.encoders.cache.EmbeddingCache` for the entity texts (the dense arm's
        cache holds the same ``title + text`` embeddings); ``None`` encodes them in memory.
    """

    def __init__(self, encoder: DenseEncoder, m: int = 3, threshold: float = 0.6, weight: float = 0.3,
                 progress: bool = False, cache_dir: str | None = None) -> None:
        if m < 1:
            raise ValueError(f"m must be >= 1, got {m}")
        self.encoder, self.m, self.threshold, self.weight, self.progress = encoder, m, threshold, weight, progress
        self.cache_dir = cache_dir
        self.doc_emb: np.ndarray | None = None
        self.key_emb: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        self.keys: list[str] = []
        self.top_sim: np.ndarray | None = None   # (n_docs, m), -inf where empty
        self.top_key: np.ndarray | None = None   # (n_docs, m), index into self.keys

    def _embed_keys(self, keys: Sequence[str]) -> np.ndarray:
        new = [k for k in dict.fromkeys(keys) if k not in self.key_emb]
        if new:
            self.key_emb.update(zip(new, self.encoder.encode(new)))
        return np.stack([self.key_emb[k] for k in keys])

    def predict(self, texts: Sequence[str], cold: np.ndarray, keys: Sequence[str]) -> Predictions:
        if self.doc_emb is None or len(self.doc_emb) != len(texts):
            log.info("neighbour query predictor: encoding %d entity texts", len(texts))
            if self.cache_dir:
                self.doc_emb = EmbeddingCache(self.cache_dir).get_or_encode(self.encoder, list(texts), self.progress)
            else:
                self.doc_emb = self.encoder.encode(list(texts), progress=self.progress)
        if self.top_sim is None:
            self.top_sim = np.full((len(texts), self.m), -np.inf, dtype=np.float32)
            self.top_key = np.zeros((len(texts), self.m), dtype=np.int64)
        seen = set(self.keys)
        new = [k for k in dict.fromkeys(keys) if k not in seen]
        if new:
            sims = self.doc_emb @ self._embed_keys(new).T                      # (n_docs, n_new)
            sims[sims < self.threshold] = -np.inf
            all_sim = np.concatenate([self.top_sim, sims], axis=1)
            all_key = np.concatenate([self.top_key, np.broadcast_to(
                np.arange(len(self.keys), len(self.keys) + len(new)), sims.shape)], axis=1)
            # stable sort on -sim: ties keep the earlier key, so results do not depend on batch boundaries
            order = np.argsort(-all_sim, axis=1, kind="stable")[:, : self.m]
            self.top_sim = np.take_along_axis(all_sim, order, axis=1)
            self.top_key = np.take_along_axis(all_key, order, axis=1)
            self.keys.extend(new)
        rows, cols = np.nonzero(np.isfinite(self.top_sim) & np.asarray(cold, bool)[:, None])
        return _group(self.top_key[rows, cols], rows, self.weight * self.top_sim[rows, cols].astype(float),
                      self.keys)


class Seq2SeqQueryPredictor(QueryPredictor):
    """doc2query: sample ``n_queries`` queries per entity from a seq2seq model (Hugging Face).

    The model is imported and loaded on the first call; queries are generated once per entity and cached (they do
    not depend on clicks). A key generated ``c`` times out of ``n_queries`` scores ``weight * c / n_queries``.

    Parameters
    ----------
    model_name_or_path : str
        Folder or hub name of an ``AutoModelForSeq2SeqLM`` with its tokenizer (e.g. a doc2query T5).
    n_queries : int
        Samples per entity.
    weight : float
    max_new_tokens : int
    batch_size : int
    seed : int
        Seed of the sampling (the global torch generator is restored afterwards).
    device : str
    """

    def __init__(self, model_name_or_path: str, n_queries: int = 5, weight: float = 0.3, max_new_tokens: int = 16,
                 batch_size: int = 32, seed: int = 0, device: str = "cpu", progress: bool = False) -> None:
        if n_queries < 1:
            raise ValueError(f"n_queries must be >= 1, got {n_queries}")
        self.path, self.n_queries, self.weight = model_name_or_path, n_queries, weight
        self.max_new_tokens, self.batch_size, self.seed = max_new_tokens, batch_size, seed
        self.device, self.progress = device, progress
        self.generated: list[list[str]] | None = None

    def generate(self, texts: Sequence[str]) -> list[list[str]]:
        """Normalised sampled queries for each text (empty ones dropped)."""
        import torch
        from tqdm.auto import tqdm
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        path = resolve_model_path(self.path)
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSeq2SeqLM.from_pretrained(path).to(self.device).eval()
        out: list[list[str]] = []
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(self.seed)
            for s in tqdm(range(0, len(texts), self.batch_size), desc="doc2query", disable=not self.progress):
                batch = tok(list(texts[s:s + self.batch_size]), padding=True, truncation=True, max_length=256,
                            return_tensors="pt").to(self.device)
                batch.pop("token_type_ids", None)
                gen = model.generate(**batch, do_sample=True, top_k=10, max_new_tokens=self.max_new_tokens,
                                     num_return_sequences=self.n_queries)
                dec = [normalize_query(t) for t in tok.batch_decode(gen, skip_special_tokens=True)]
                out += [[q for q in dec[i:i + self.n_queries] if q] for i in range(0, len(dec), self.n_queries)]
        return out

    def predict(self, texts: Sequence[str], cold: np.ndarray, keys: Sequence[str]) -> Predictions:
        if self.generated is None or len(self.generated) != len(texts):
            log.info("doc2query: generating %d queries for each of %d entities", self.n_queries, len(texts))
            self.generated = self.generate(texts)
        rows, names, scores = [], [], []
        for i in np.flatnonzero(cold):
            for q, c in Counter(self.generated[i]).items():
                rows.append(i)
                names.append(q)
                scores.append(self.weight * c / self.n_queries)
        uniq = list(dict.fromkeys(names))
        idx = {q: j for j, q in enumerate(uniq)}
        return _group(np.array([idx[q] for q in names], int), np.array(rows, int), np.array(scores, float), uniq)



def _group(key_idx: np.ndarray, rows: np.ndarray, scores: np.ndarray, keys: Sequence[str]) -> Predictions:
    """Group (key index, entity, score) triples by key; each group sorted by score, then position."""
    if len(rows) == 0:
        return {}
    order = np.lexsort((rows, -scores, key_idx))
    key_idx, rows, scores = key_idx[order], rows[order], scores[order]
    cuts = np.flatnonzero(np.diff(key_idx)) + 1
    return {keys[int(g[0])]: (r, s) for g, r, s in zip(np.split(key_idx, cuts), np.split(rows, cuts),
                                                         np.split(scores, cuts))}
