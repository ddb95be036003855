"""Generated known-item queries: reproducible, relevant sets complete, typos present."""

from ltrr.data.known_item import base_title, known_item_queries
from ltrr.types import Doc

DOCS = [
    Doc("1", "Memories - Dillon Francis Remix", "", {"artist": "Maroon 5"}),
    Doc("2", "Memories", "", {"artist": "Maroon 5"}),
    Doc("3", "Memories", "", {"artist": "David Guetta"}),
    Doc("4", "Shake It Off", "", {"artist": "Taylor Swift"}),
    Doc("5", "no artist", "", {}),
]


def test_same_seed_same_queries_other_seed_differs():
    a = known_item_queries(DOCS, 50, seed=0)
    assert a == known_item_queries(DOCS, 50, seed=0)
    assert [q.text for q in a[0]] != [q.text for q in known_item_queries(DOCS, 50, seed=1)[0]]


def test_relevant_sets_hold_every_version_and_ambiguous_titles_get_the_artist():
    queries, qrels = known_item_queries(DOCS, 300, seed=0, typo_prob=0.0, drop_apostrophe_prob=0.0)
    for q in queries:
        rel = qrels[q.id]
        assert q.metadata["target"] in rel and "5" not in rel
        if q.metadata["target"] == "3":  # "Memories" has two artists: never typed as a bare title
            assert q.metadata["form"] != "title" and "david guetta" in q.text
        if q.text in ("memories maroon 5", "maroon 5 memories"):
            assert rel == {"1": 1, "2": 1}  # the bare title names both versions
    assert {q.metadata["form"] for q in queries} == {"title artist", "artist title", "title"}


def test_typos_are_applied_at_the_requested_rate():
    queries, _ = known_item_queries(DOCS, 400, seed=3, typo_prob=1.0)
    clean, _ = known_item_queries(DOCS, 400, seed=3, typo_prob=0.0)
    changed = sum(a.text != b.text for a, b in zip(queries, clean))
    assert changed > 200 and all(q.metadata["typo"] for q in queries)
    assert base_title("Song (feat. X) - Remix") == "Song"
