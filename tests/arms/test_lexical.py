"""The tantivy BM25 arm and the structured arm: ranking, field boosts, hostile input."""

import pytest

from ltrr.arms.lexical import BM25Arm
from ltrr.arms.structured import StructuredArm
from ltrr.types import Doc, Query

DOCS = [
    Doc("t1", "Shake It Off", "", {"artist": "Taylor Swift", "album": "1989", "year": 2014, "popularity": 80,
                                   "release_date": "2014-10-27", "audio_features": {"valence": 0.94, "energy": 0.8}}),
    Doc("t2", "Love Story", "", {"artist": "Taylor Swift", "album": "Fearless", "year": 2008, "popularity": 70,
                                 "release_date": "2008-11-11", "audio_features": {"valence": 0.3, "energy": 0.7}}),
    Doc("t3", "Don't Start Now", "", {"artist": "Dua Lipa", "album": "Future Nostalgia", "year": 2020,
                                      "popularity": 90, "release_date": "2020-03-27",
                                      "audio_features": {"valence": 0.68, "energy": 0.79}}),
    Doc("t4", "Jazz Standards", "", {"artist": "Genre Jazz Trio", "album": "Genre: Jazz", "year": 1985,
                                     "popularity": 5, "release_date": "1985-01-01",
                                     "audio_features": {"valence": 0.2, "energy": 0.2}}),
    Doc("t5", "Let It Be", "", {"artist": "The Beatles", "album": "Let It Be", "year": 1970, "popularity": 60,
                                "release_date": "1970-05-08", "audio_features": {"valence": 0.4, "energy": 0.4}}),
]
HOSTILE = ['genre:jazz', 'title:"shake"', '"unbalanced', "(a OR b) AND NOT c", "rock:[1 TO", "a\\", "*", "^2",
           "x" * 10_000, "taylor " * 2_000, "😀 🎵 swift", "\x00\x01\x1f\x7f", "AND", "OR NOT", "IN [a b", "",
           "   ", "{}", "-", "+love +story", "love~2", "sw?ft", "\\\\", "'; DROP TABLE tracks; --", "\u202e\u200b"]


def q(text):
    return Query("q", text)


@pytest.fixture(scope="module")
def arms():
    bm25 = BM25Arm(DOCS, fields={"title": 2.0, "artist": 1.0, "album": 0.5})
    return bm25, StructuredArm(DOCS)


def test_bm25_ranks_by_field_boosts_and_stems():
    arm = BM25Arm(DOCS, fields={"title": 2.0, "artist": 1.0})
    res = arm.retrieve(q("shaking swift"), 5)  # "shaking" stems to "shake"
    assert res.candidates[0].doc_id == "t1" and {c.doc_id for c in res.candidates} == {"t1", "t2"}
    assert res.candidates[0].score > res.candidates[1].score > 0
    assert arm.retrieve(q("the of and"), 5).candidates == ()  # stop words only


def test_bm25_rejects_bad_fields():
    with pytest.raises(ValueError, match="fields"):
        BM25Arm(DOCS, fields={"title": -1.0})


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_never_raise_or_inject(arms, text):
    for arm in arms:
        res = arm.retrieve(q(text), 5)
        assert len(res.candidates) <= 5
    # a field prefix is a plain word: "genre:jazz" must not act as a field query on a `genre` field
    if text == "genre:jazz":
        got = [c.doc_id for c in arms[0].retrieve(q(text), 5).candidates]
        assert got == ["t4"]  # it matched the words "genre" and "jazz" in the text fields, nothing else


def test_structured_handles_typos_apostrophes_and_stop_word_titles(arms):
    structured = arms[1]
    assert structured.retrieve(q("shkae it of tayler swfit"), 3).candidates[0].doc_id == "t1"
    assert structured.retrieve(q("dont start now dua lipa"), 3).candidates[0].doc_id == "t3"
    assert structured.retrieve(q("let it be"), 3).candidates[0].doc_id == "t5"  # all stop words


def test_structured_filters_by_decade_and_rewards_mood(arms):
    structured = arms[1]
    assert [c.doc_id for c in structured.retrieve(q("taylor swift 2000s"), 5).candidates] == ["t2"]
    happy = structured.retrieve(q("happy taylor swift"), 5).candidates
    assert happy[0].doc_id == "t1"  # valence 0.94 passes the "happy" range, t2 (0.3) does not
    sad = structured.retrieve(q("sad taylor swift"), 5).candidates
    assert sad[0].doc_id == "t2"


def test_structured_drops_an_impossible_filter():
    res = StructuredArm(DOCS).retrieve(q("love story 1955"), 3)  # no item from 1955: the filter is dropped
    assert res.candidates[0].doc_id == "t2"
