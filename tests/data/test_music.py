import collections

import numpy as np
import pytest

from ltrr.data.music import INTENTS, QueryGenerator, build_world
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
    qs = QueryGenerator(tiny_world, 0).generate(600)
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
