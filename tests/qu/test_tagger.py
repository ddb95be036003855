"""Query understanding: spelling correction and slot tagging from catalogue dictionaries."""

from ltrr.qu.tagger import QueryUnderstanding
from ltrr.types import Doc

DOCS = [
    Doc("t1", "Shake It Off", "", {"artist": "Taylor Swift", "album": "1989", "type": "track"}),
    Doc("t2", "Memories - Dillon Francis Remix", "", {"artist": "Maroon 5", "album": "Memories", "type": "track"}),
    Doc("p1", "Morning Podcast", "", {"type": "podcast", "genre": "hip hop"}),
]


def test_names_come_from_the_catalogue_with_typos_corrected():
    qu = QueryUnderstanding(DOCS)
    p = qu.parse("shake it off tayler swfit")
    assert p.corrected[-2:] == ("taylor", "swift")
    assert p.as_dict() == {"title": ["Shake It Off"], "artist": ["Taylor Swift"]}
    short = qu.parse("shake it of")  # words under 4 letters are never corrected, so no title is found
    assert short.known == (True, True, False) and "title" not in short.as_dict()
    memories = qu.parse("memories maroon 5")
    assert memories.as_dict()["title"] == ["Memories"] and memories.as_dict()["artist"] == ["Maroon 5"]


def test_lexicon_slots_eras_and_types():
    qu = QueryUnderstanding(DOCS)
    d = qu.parse("chill hip hop podcast from the 80s new").as_dict()
    assert d["mood"] == ["chill"] and d["genre"] == ["hip hop"] and d["type"] == ["podcast"]
    assert d["decade"] == ["1980"] and d["new"] == ["new"]
    assert qu.parse("songs of 1999").as_dict()["year"] == ["1999"]
    assert qu.parse("2010s hits").as_dict()["decade"] == ["2010"]


def test_year_inside_a_title_is_not_a_filter():
    qu = QueryUnderstanding([Doc("x", "Tonight - Remastered 2012", "", {"artist": "The Band"})])
    d = qu.parse("tonight remastered 2012").as_dict()
    assert "year" not in d and d["title"] == ["Tonight - Remastered 2012"]


def test_unknown_short_words_and_numbers_are_left_alone():
    qu = QueryUnderstanding(DOCS)
    p = qu.parse("zq 12345 xyzzyplugh")
    assert p.corrected == ("zq", "12345", "xyzzyplugh") and not any(p.known) and p.slots == ()


def test_requests_for_the_listeners_taste_get_a_personal_slot():
    qu = QueryUnderstanding(DOCS + [Doc("t3", "For Me", "", {"artist": "Someone", "type": "track"})])
    for text in ("play something", "surprise me", "recommend me some hip hop", "what should i listen to"):
        assert qu.parse(text).as_dict().get("personal") == ["me"], text
    d = qu.parse("recommend me some hip hop").as_dict()
    assert d["genre"] == ["hip hop"]  # other slots still tagged beside it
    assert qu.parse("for me").as_dict() == {"title": ["For Me"], "personal": ["me"]}  # a title that is also a request
    for text in ("shake it off", "chill hip hop podcast", "me", "my"):  # single pronouns are never a request
        assert "personal" not in qu.parse(text).as_dict(), text
