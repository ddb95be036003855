import numpy as np
import pytest

from ltrr.arms.explore import FreshArm, LongTailArm, RandomArm, item_ages
from ltrr.types import Doc, Query

POP = [90, 80, 70, 60, 50, 5, 4, 3, 2, 1]
WORDS = ["love", "love", "rain", "rain", "blue", "love", "love", "rain", "rain", "blue"]
DOCS = [Doc(f"d{i}", f"{w} song {i}", "", {"popularity": p}) for i, (w, p) in enumerate(zip(WORDS, POP))]
DATED = [Doc("old", "Love Story", "", {"release_date": "2008-09-12"}),
         Doc("year", "Love Song", "", {"release_date": "2019"}),      # counts from 2019-01-01
         Doc("month", "Rain Song", "", {"release_date": "2019-12"}),
         Doc("new", "Love Remix", "", {"release_date": "2020-01-20"}),
         Doc("y", "Blue", "", {"year": 2019}),
         Doc("none", "Unknown", "", {})]


def q(text):
    return Query("q", text)


def ids(arm, text, k):
    return [c.doc_id for c in arm.retrieve(q(text), k).candidates]


@pytest.mark.parametrize("make", [lambda s: RandomArm(DOCS, seed=s), lambda s: LongTailArm(DOCS, seed=s),
                                  lambda s: LongTailArm(DOCS, order="random", seed=s),
                                  lambda s: FreshArm(DATED, fresh_days=400, seed=s)])
def test_seeded_same_lists_and_reset_reseeds(make):
    texts = ["love", "blue song", "zzz", "rain", "love rain"] * 3
    a, b, c = make(0), make(1), make(0)
    first, other = [ids(a, t, 4) for t in texts], [ids(b, t, 4) for t in texts]
    assert first == [ids(c, t, 4) for t in texts] and first != other
    a.reset(1)
    assert [ids(a, t, 4) for t in texts] == other
    assert not a.static


def test_random_arm_is_uniform_without_repeats():
    arm = RandomArm(DOCS, seed=3)
    lists = [ids(arm, "anything", 4) for _ in range(2000)]
    assert all(len(set(x)) == 4 for x in lists)
    freq = np.unique(np.concatenate(lists), return_counts=True)[1] / 2000
    assert len(freq) == 10 and np.allclose(freq, 0.4, atol=0.05)
    assert len(ids(arm, "x", 50)) == 10


def test_longtail_returns_low_popularity_matches_first():
    arm = LongTailArm(DOCS, tail_share=0.5, seed=0)              # tail: d5..d9
    res = arm.retrieve(q("rain"), 5)
    got = [c.doc_id for c in res.candidates]
    assert got[:2] == ["d8", "d7"]                                # rain matches, least popular first
    assert set(got) == {f"d{i}" for i in range(5, 10)}            # then random tail items, never the head
    sc = [c.score for c in res.candidates]
    assert sc == sorted(sc, reverse=True) and min(sc[:2]) > max(sc[2:])
    assert ids(arm, "love rain", 1) == ["d8"]                    # one matched word each: least popular
    rnd = LongTailArm(DOCS, order="random", seed=0)
    tops = {tuple(ids(rnd, "love", 2)) for _ in range(30)}
    assert tops <= {("d5", "d6"), ("d6", "d5")} and len(tops) == 2
    with pytest.raises(ValueError, match="tail_share"):
        LongTailArm(DOCS, tail_share=0)


def test_item_ages_from_release_dates_and_years():
    age = item_ages(DATED)
    assert age.tolist()[:5] == [4147.0, 384.0, 50.0, 0.0, 384.0] and np.isinf(age[5])
    arm = FreshArm(DATED, fresh_days=60, seed=0)
    assert {c.doc_id for c in arm.retrieve(q("love"), 10).candidates} == {"new", "month"}
    assert ids(arm, "rain", 10)[0] == "month"
    with pytest.raises(ValueError, match="'bad'.*release_date"):
        item_ages([Doc("bad", "x", "", {"release_date": "12/2019"})])
    with pytest.raises(ValueError, match="added_days_ago, release_date or year"):
        item_ages([Doc("x")])


def test_added_days_ago_wins_over_dates():
    docs = [Doc("a", "x", "", {"added_days_ago": 5, "year": 1990}), Doc("b", "y", "", {"year": 2020})]
    assert item_ages(docs)[0] == 5 and np.isinf(item_ages(docs)[1])


def test_exploration_arms_compose_into_the_training_config(tiny_world):
    from ltrr.tasks.build import build_arms
    from tests.conftest import compose_cfg

    cfg = compose_cfg("train", ["experiment=smoke", "+arm@arms.longtail=longtail", "+arm@arms.random=random"])
    arms = build_arms(cfg, tiny_world.docs)
    assert list(arms)[-2:] == ["longtail", "random"]
    assert isinstance(arms["longtail"], LongTailArm) and isinstance(arms["random"], RandomArm)
    assert arms["random"].name == "random" and len(arms["longtail"].retrieve(q("love"), 5).candidates) == 5
