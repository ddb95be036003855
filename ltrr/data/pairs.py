"""Supervised retrieval data for training encoders: queries, a corpus and each query's relevant documents.

Built from a BEIR-layout folder (qrels of one split) or from the embedded music world (simulated queries with
their wanted items). :meth:`RetrievalSet.split` carves a dev split out of the training queries, so early stopping
and fusion weights never see test queries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ltrr.data.beir import load_beir
from ltrr.types import Doc

log = logging.getLogger(__name__)


@dataclass
class RetrievalSet:
    """Queries with graded relevant documents over one corpus.

    Attributes
    ----------
    queries : dict[str, str]
        Query text by id (only judged queries).
    docs : dict[str, Doc]
        The whole corpus by id (shared between splits, never copied).
    qrels : dict[str, dict[str, int]]
        ``qrels[query_id][doc_id] = grade`` (grade > 0 is relevant).
    name : str
    """

    queries: dict[str, str]
    docs: dict[str, Doc]
    qrels: dict[str, dict[str, int]]
    name: str = "unnamed"
    _texts: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        missing = [q for q in self.qrels if q not in self.queries]
        if missing:
            raise ValueError(f"{self.name}: qrels name {len(missing)} unknown queries, e.g. {missing[:3]}")
        self.qrels = {q: {d: g for d, g in rel.items() if g > 0} for q, rel in self.qrels.items()}
        self.qrels = {q: rel for q, rel in self.qrels.items() if rel}
        self.queries = {q: self.queries[q] for q in self.qrels}

    def positives(self, qid: str) -> list[str]:
        """Relevant document ids of a query, highest grade first (ties by id)."""
        rel = self.qrels[qid]
        return sorted(rel, key=lambda d: (-rel[d], d))

    def text(self, doc_id: str) -> str:
        """``title + " " + text`` of a document (BEIR's convention for dense models), cached."""
        if doc_id not in self._texts:
            self._texts[doc_id] = self.docs[doc_id].full_text
        return self._texts[doc_id]

    def split(self, dev_fraction: float, seed: int = 0, max_dev: int | None = None) -> tuple["RetrievalSet", "RetrievalSet"]:
        """Random query-level split into (train, dev); both keep the whole corpus.

        Parameters
        ----------
        dev_fraction : float
            Share of the queries moved to dev, in ``[0, 1)``.
        seed : int
        max_dev : int, optional
            Cap on the number of dev queries.
        """
        if not 0 <= dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
        ids = sorted(self.qrels)
        rng = np.random.default_rng(seed)
        n_dev = int(round(dev_fraction * len(ids)))
        if max_dev is not None:
            n_dev = min(n_dev, int(max_dev))
        dev = set(rng.choice(ids, size=n_dev, replace=False).tolist()) if n_dev else set()
        part = lambda keep: RetrievalSet({q: self.queries[q] for q in keep}, self.docs,  # noqa: E731
                                         {q: self.qrels[q] for q in keep}, self.name, self._texts)
        train, dev_set = part([q for q in ids if q not in dev]), part([q for q in ids if q in dev])
        log.info("%s: %d train / %d dev queries (seed %d)", self.name, len(train.qrels), len(dev_set.qrels), seed)
        return train, dev_set


def from_beir(root: str | Path, split: str = "train") -> RetrievalSet:
    """A BEIR-layout folder's queries judged in ``qrels/<split>.tsv``."""
    ds = load_beir(root, split)
    return RetrievalSet({q: ds.queries[q].text for q in ds.qrels}, ds.corpus, ds.qrels, name=f"{Path(root).name}/{split}")


def from_music(world, n_queries: int = 2000, seed: int = 1000, mix: dict[str, float] | None = None) -> RetrievalSet:
    """Simulated music-world queries (``QueryGenerator``) with their wanted items as positives.

    Parameters
    ----------
    world : MusicWorld
    n_queries : int
    seed : int
        Query-stream seed; keep it apart from the main job's evaluation seeds (0-24).
    mix : dict, optional
        Intent mix passed to the generator.
    """
    from ltrr.data.music import QueryGenerator

    gen = QueryGenerator(world, seed=seed, **({"mix": mix} if mix else {}))
    queries, qrels, seen = {}, {}, set()
    for i, sq in enumerate(gen.generate(int(n_queries))):
        if sq.query.text in seen:  # repeats would leak between the train and dev splits
            continue
        seen.add(sq.query.text)
        qid = f"m{seed}-{i}"
        queries[qid], qrels[qid] = sq.query.text, {d: int(g) for d, g in sq.targets.items()}
    return RetrievalSet(queries, {d.id: d for d in world.docs}, qrels, name=f"music/seed{seed}")
