import collections

import numpy as np
import pytest

from ltrr.data.music import INTENTS, QueryGenerator, build_world
from ltrr.data.music import vocab as V
from ltrr.data.music.typos import misspell_word
from tests.conftest import TINY_WORLD


def test_same_seed_same_world_and_stream():
    a, b = build_world(3, **TINY_WORLD), build_world(3, **TINY_WORLD)
    assert [(d.id, d.title, d.text, dict(d.metadata)) for d in a.docs] == \
           [(d.id, d.title, d.text, dict(d.metadata)) for d in b.docs]
    qa = [(q.query.text, q.targets, q.intent) for q in QueryGenerator(a, 5).generate(100)]
    qb = [(q.query.text, q.targets, q.intent) for q in QueryGenerator(b, 5).generate(100)]
    assert qa == qb


def test_different_seeds_differ():
    a, b = build_world(1, **TINY_WORLD), build_world(2, **TINY_WORLD)
    assert [d.title for d in a.docs] != [d.title for d in b.docs]


def test_catalogue_has_every_entity_type_and_metadata(tiny_world):
    types = collections.Counter(d.metadata["type"] for d in tiny_world.docs)
    assert set(types) == {"artist", "album", "track", "playlist", "podcast", "episode"}
    pops = np.array([d.metadata["popularity"] for d in tiny_world.docs])
    assert pops.min() >= 0 and pops.max() <= 100 and np.median(pops) < pops.mean()  # heavy right tail
    assert any(d.metadata["added_days_ago"] < 30 for d in tiny_world.docs)
    assert all(len(u.history) > 0 for u in tiny_world.users)


def test_every_intent_appears_with_known_targets(tiny_world):
    qs = QueryGenerator(tiny_world, 0, personal_share=0.1).generate(600)
    assert {q.intent for q in qs} == set(INTENTS)
    for q in qs:
        assert q.targets and all(t in tiny_world.by_id for t in q.targets)
    repeats = [q for q in qs if q.intent == "repeat"]
    earlier = {(q.query.user_id, q.query.text) for q in qs if q.intent != "repeat"}
    assert all((q.query.user_id, q.query.text) in earlier for q in repeats)


def test_misspellings_look_real():
    rng = np.random.default_rng(0)
    outs = {misspell_word("taylor", rng) for _ in range(200)}
    assert "tayler" in outs and "taylor" not in outs
    assert misspell_word("abc", rng) == "abc"


def test_unknown_intent_is_rejected(tiny_world):
    with pytest.raises(ValueError, match="unknown intent"):
        QueryGenerator(tiny_world, 0, mix={"exact": 1.0, "vague": 1.0})


def test_personal_queries_are_off_by_default_and_follow_the_users_taste(tiny_world):
    assert "personal" not in {q.intent for q in QueryGenerator(tiny_world, 0).generate(600)}
    qs = [q for q in QueryGenerator(tiny_world, 0, personal_share=0.5, relisten=0.5).generate(400)
          if q.intent == "personal"]
    assert 150 < len(qs) < 250
    users = {u.id: u for u in tiny_world.users}
    tracks = [d for d in tiny_world.docs if d.metadata["type"] == "track"]
    taste_mass, chance, relistens = [], [], []
    for q in qs:
        u = users[q.query.user_id]
        assert all(tiny_world.by_id[t].metadata["type"] == "track" for t in q.targets)
        relistens.append(np.mean([t in u.history for t in q.targets]))
        taste = dict(zip(V.GENRES, u.genre_taste))
        new = [t for t in q.targets if t not in u.history]
        taste_mass += [taste[tiny_world.by_id[t].metadata["genre"]] for t in new]
        chance += [np.mean([taste[d.metadata["genre"]] for d in tracks])] * len(new)
    assert 0.3 < np.mean(relistens) < 0.7  # about half re-listens
    # new targets sit in the user's favourite genres: far above the taste of a track picked at random
    assert np.mean(taste_mass) > 2 * np.mean(chance)
    only_new = [q for q in QueryGenerator(tiny_world, 0, personal_share=1.0, relisten=0.0).generate(50)]
    assert all(t not in users[q.query.user_id].history for q in only_new for t in q.targets)


def test_personal_options_are_checked(tiny_world):
    with pytest.raises(ValueError, match="personal_share"):
        QueryGenerator(tiny_world, 0, personal_share=1.5)
    with pytest.raises(ValueError, match="relisten"):
        QueryGenerator(tiny_world, 0, relisten=-0.1)
