"""Personalization: the two-tower model of listening histories and the personalized arm with its fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ltrr.arms.personal import PersonalArm
from ltrr.data.music import build_world
from ltrr.encoders.two_tower import TwoTowerModel, fit_two_tower
from ltrr.types import Query
from tests.conftest import TINY_WORLD


@pytest.fixture(scope="module")
def world():
    return build_world(seed=0, **{**TINY_WORLD, "n_users": 60})


@pytest.fixture(scope="module")
def arm(world):
    a = PersonalArm(world.docs, steps=150, batch=64, use_gpu=False, seed=0)
    a.fit_histories({u.id: u.history for u in world.users})
    return a


def test_two_tower_ranks_held_out_history_items_above_chance(world):
    index = {d.id: i for i, d in enumerate(world.docs)}
    hist = [[index[d] for d in u.history] for u in world.users]
    model = TwoTowerModel(world.docs, dim=16, seed=0)
    losses = fit_two_tower(model, [h[:-1] for h in hist], steps=150, batch=64, seed=0)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        items = model.items()
        pct = []
        for h in hist:  # where the last (never trained on) history item ranks among all items
            ctx = torch.tensor([h[:-1]])
            s = (model.users(ctx, torch.ones_like(ctx, dtype=torch.bool), items) @ items.T)[0].numpy()
            pct.append((s < s[h[-1]]).mean())
    assert np.mean(pct) > 0.7  # chance: 0.5


def test_cold_users_get_the_chart_and_warm_up_with_session_clicks(arm, world):
    cold = arm.retrieve(Query("q", "anything", "stranger"), 10)
    pops = [world.by_id[c.doc_id].metadata["popularity"] for c in cold.candidates]
    assert pops == sorted(pops, reverse=True) and len(cold.candidates) == 10
    assert arm.user_vector("stranger") is None and not arm.affinity("stranger", [world.docs[0].id]).any()
    arm.observe(Query("q", "x", "stranger"), [world.docs[3].id], [world.docs[3].id])
    warm = arm.retrieve(Query("q", "anything", "stranger"), 10)
    assert arm.user_vector("stranger") is not None and warm.candidates != cold.candidates
    state = arm.state_dict()
    arm.reset(0)
    assert arm.user_vector("stranger") is None
    arm.load_state_dict(state)
    assert arm.history_of("stranger") == [3]
    arm.reset(0)


def test_users_with_history_get_their_own_neighbours(arm, world):
    u0, u1 = world.users[0], world.users[1]
    r0 = arm.retrieve(Query("q", "x", u0.id), 20)
    r1 = arm.retrieve(Query("q", "x", u1.id), 20)
    assert [c.doc_id for c in r0.candidates] != [c.doc_id for c in r1.candidates]
    ids = [c.doc_id for c in r0.candidates]
    aff = arm.affinity(u0.id, ids + ["unknown"])
    np.testing.assert_allclose(aff[:-1], [c.score for c in r0.candidates], rtol=1e-4)
    assert aff[-1] == 0 and np.all(np.diff(aff[:-1]) <= 1e-5)


def test_world_history_lengths():
    w = build_world(seed=0, **{**TINY_WORLD, "history_len": [0, 40]})
    lens = [len(u.history) for u in w.users]
    assert min(lens) < 10 and max(lens) > 25
    assert [len(u.history) for u in build_world(seed=0, **TINY_WORLD).users] == [30] * TINY_WORLD["n_users"]
    with pytest.raises(ValueError, match="history_len"):
        build_world(seed=0, **{**TINY_WORLD, "history_len": [5, 1]})


def test_relisten_bonus_puts_played_tracks_first(world):
    plain = PersonalArm(world.docs, steps=150, batch=64, use_gpu=False, seed=0)
    plain.fit_histories({u.id: u.history for u in world.users})
    boosted = PersonalArm(world.docs, steps=150, batch=64, use_gpu=False, seed=0, relisten_bonus=1e3)
    boosted.fit_histories({u.id: u.history for u in world.users})
    user = world.users[0]
    played = set(user.history)
    k = len(played) + 10
    ranked = [c.doc_id for c in boosted.retrieve(Query("q", "x", user.id), k).candidates]
    assert set(ranked[:len(played)]) == played and not played & set(ranked[len(played):])
    scores = [c.score for c in boosted.retrieve(Query("q", "x", user.id), k).candidates]
    assert np.all(np.diff(scores) <= 1e-6)
    aff = boosted.affinity(user.id, ranked[:len(played)])  # best affinity first among the played tracks
    assert np.all(np.diff(aff) <= 1e-5)
    # the rest is the plain arm's kNN list without the played tracks
    rest = [c.doc_id for c in plain.retrieve(Query("q", "x", user.id), k).candidates if c.doc_id not in played]
    assert ranked[len(played):] == rest[:k - len(played)]
    with pytest.raises(ValueError, match="relisten_bonus"):
        PersonalArm(world.docs, relisten_bonus=-1.0)
