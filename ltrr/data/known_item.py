"""Known-item ("spearfishing") queries made from a catalogue's own titles and artists, with realistic typos.

A target item is drawn uniformly (so the long tail is searched as often as hits), then typed in one of three
forms: ``title artist``, ``artist title`` or ``title`` alone (only when no other artist has that title). Users
often drop a version suffix ("Memories - Dillon Francis Remix" -> "memories") and apostrophes ("don't" ->
"dont"); some queries get one or two misspellings (:func:`ltrr.data.music.typos.misspell`). Every item with the
same artist and the same typed title (all versions of the song) is relevant.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Sequence

from ltrr.data.music.typos import misspell
from ltrr.types import Doc, Query
from ltrr.utils.seed import make_rng
from ltrr.utils.text import normalize_query

FORMS = ("title artist", "artist title", "title")


def base_title(title: str) -> str:
    """The title without a `` - version`` suffix or bracketed part."""
    return re.split(r" - |\(|\[", title)[0].strip() or title


def known_item_queries(docs: Sequence[Doc], n: int, seed: int, typo_prob: float = 0.5,
                       form_probs: Sequence[float] = (0.4, 0.2, 0.4), strip_version_prob: float = 0.7,
                       drop_apostrophe_prob: float = 0.5) -> tuple[list[Query], dict[str, dict[str, int]]]:
    """Sample ``n`` known-item queries.

    Parameters
    ----------
    docs : sequence of Doc
        Items with a title and ``metadata["artist"]`` (others are never targets).
    n : int
    seed : int
        Seed of the sampler (different seeds give disjoint-enough dev and test sets).
    typo_prob : float
        Chance that a query gets misspellings.
    form_probs : sequence of float
        Probabilities of :data:`FORMS`.

    Returns
    -------
    queries : list of Query
        ``metadata`` holds ``target`` (the drawn item), ``form`` and ``typo``.
    qrels : dict
        ``{query id: {doc id: 1}}``.
    """
    items = [d for d in docs if d.title and d.metadata.get("artist")]
    if not items:
        raise ValueError("known-item queries need documents with a title and metadata['artist']")
    by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
    artists_of_title: dict[str, set[str]] = defaultdict(set)
    for d in items:
        artist = normalize_query(str(d.metadata["artist"]))
        for t in {d.title, base_title(d.title)}:
            by_name[(normalize_query(t), artist)].append(d.id)
            artists_of_title[normalize_query(t)].add(artist)
    rng = make_rng(seed, "known-item")
    queries, qrels = [], {}
    for i in range(n):
        d = items[int(rng.integers(len(items)))]
        title = base_title(d.title) if rng.random() < strip_version_prob else d.title
        artist = str(d.metadata["artist"])
        form = FORMS[int(rng.choice(len(FORMS), p=list(form_probs)))]
        if form == "title" and len(artists_of_title[normalize_query(title)]) > 1:
            form = "title artist"
        text = {"title artist": f"{title} {artist}", "artist title": f"{artist} {title}", "title": title}[form]
        text = text.lower()
        if rng.random() < drop_apostrophe_prob:
            text = text.replace("'", "").replace("’", "")
        typo = bool(rng.random() < typo_prob)
        if typo:
            text = misspell(text, rng)
        qid = f"ki{seed}_{i}"
        queries.append(Query(qid, text, metadata={"target": d.id, "form": form, "typo": typo}))
        qrels[qid] = {doc_id: 1 for doc_id in by_name[(normalize_query(title), normalize_query(artist))]}
    return queries, qrels
