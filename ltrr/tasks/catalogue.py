"""Catalogues a serving pipeline is benchmarked on, their query streams, and the pipeline over them.

``spotify`` is the 28k-track BEIR folder of real tracks (queries: its playlist names, and track titles, a share of
them misspelt as users type them); ``music`` the embedded world (queries from its generator). Used by
``scripts/bench/serve.py`` and ``scripts/distill_reranker.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from omegaconf import DictConfig

from ltrr.pipeline.pipeline import RetrievePipeline
from ltrr.tasks import build as B
from ltrr.types import Doc

CATALOGUES = ("spotify", "music")


@dataclass
class LabelledQuery:
    """A query text with graded relevant documents (empty when unknown)."""

    id: str
    text: str
    qrels: dict[str, int] = field(default_factory=dict)


def serve_overrides(cache_dir: str | Path) -> list[str]:
    """Overrides of ``configs/train.yaml`` for the serving benchmarks: every arm of the main job plus ``structured``
    and ``longtail``, quiet, the dense arm's corpus embeddings cached under ``cache_dir``."""
    return ["logger=none", "progress=false", "+arm@arms.structured=structured", "+arm@arms.longtail=longtail",
            "arms.dense.progress=false", f"arms.dense.cache_dir={cache_dir}"]


def compose(config_dir: Path | str, overrides: Sequence[str], config_name: str = "train") -> DictConfig:
    """``configs/<config_name>.yaml`` with Hydra ``overrides`` (outside a Hydra app)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(Path(config_dir).resolve())):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def load_docs(cfg: DictConfig, name: str, data: Path | str | None = None) -> list[Doc]:
    """The documents of catalogue ``name`` (``data``: the BEIR folder for ``spotify``)."""
    if name not in CATALOGUES:
        raise ValueError(f"catalogue must be one of {CATALOGUES}, got {name!r}")
    if name == "spotify":
        from ltrr.data.beir import iter_corpus

        if data is None:
            raise ValueError("catalogue 'spotify' needs its BEIR folder (data=...)")
        return list(iter_corpus(Path(data) / "corpus.jsonl"))
    return B.build_world(cfg).docs


def title_queries(docs: Sequence[Doc], n: int, seed: int, typo_share: float = 0.3) -> list[LabelledQuery]:
    """Known-item queries: the titles of ``n`` sampled documents, ``typo_share`` of them with one misspelt word;
    each is relevant to its own document."""
    from ltrr.data.music.typos import misspell

    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    out = []
    for d in rng.sample(list(docs), min(n, len(docs))):
        if d.title:
            text = misspell(d.title, nrng, max_words=1) if rng.random() < typo_share else d.title
            out.append(LabelledQuery(f"title:{d.id}", text, {d.id: 1}))
    return out


def playlist_queries(data: Path | str) -> list[LabelledQuery]:
    """The Spotify folder's playlist names with their member tracks (``qrels/train.tsv``)."""
    from ltrr.data.beir import iter_queries, load_qrels

    qrels = load_qrels(Path(data) / "qrels" / "train.tsv")
    return [LabelledQuery(q.id, q.text, dict(qrels.get(q.id, {}))) for q in iter_queries(Path(data) / "queries.jsonl")]


def music_queries(cfg: DictConfig, n: int, seed: int) -> list[LabelledQuery]:
    """``n`` queries of the music world's generator (seeded), each with its graded targets."""
    from ltrr.data.music import QueryGenerator

    world = B.build_world(cfg)
    return [LabelledQuery(sq.query.id, sq.query.text, dict(sq.targets))
            for sq in QueryGenerator(world, seed=seed, **cfg.data.queries).generate(n)]


def load_queries(cfg: DictConfig, name: str, docs: Sequence[Doc], data: Path | str | None, seed: int) -> list[str]:
    """The load benchmark's query texts: ``spotify``: every playlist name and 2,000 titles (30% misspelt);
    ``music``: 2,000 generated queries."""
    if name == "spotify":
        return [q.text for q in playlist_queries(data)] + [q.text for q in title_queries(docs, 2000, seed)]
    return [q.text for q in music_queries(cfg, 2000, seed)]


def build_pipeline(cfg: DictConfig, docs: Sequence[Doc], seed: int, policy: str = "neural_linear_ts",
                   rerank: bool = True) -> RetrievePipeline:
    """The serving pipeline over ``docs``: ``cfg``'s arms, context featurizer, a fresh ``policy`` and (with
    ``rerank``) ``cfg.rerank``'s reranker."""
    arms = B.build_arms(cfg, docs)
    feat = B.build_featurizer(arms, docs, cfg.get("arm_stats"), cfg.get("context"))
    pol = B.build_policy(cfg, policy, list(arms), feat.dim, seed, feat.names)
    pipeline = B.build_pipeline(cfg, arms, feat, pol, B.build_reranker(cfg, docs, arms) if rerank else None)
    pipeline.reset(seed)
    return pipeline
