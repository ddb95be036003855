import json

import numpy as np
import pytest
import torch

from ltrr.arms.memory import MemoryArm
from ltrr.arms.q2e import NeighbourQueryPredictor, Seq2SeqQueryPredictor
from ltrr.types import Doc, Query

DOCS = [
    Doc("a", "Love Story", "by Taylor Swift. pop", {"popularity": 90}),
    Doc("b", "Midnight Rain", "by Taylor Swift. pop", {"popularity": 40}),
    Doc("c", "Love Me Tender", "by Elvis. rock", {"popularity": 60}),
    Doc("d", "Blue Monday", "by New Order. electronic", {"popularity": 10}),
    Doc("e", "History Files", "podcast about history", {"popularity": 5}),
    Doc("f", "midnight rain", "taylor swift"),  # full text == the normalised key of the query below
]
KEY = "Midnight Rain, Taylor Swift!"  # normalised: "midnight rain taylor swift"


def q(text):
    return Query("q", text)


def ids(res):
    return [c.doc_id for c in res.candidates]


def scores(arm, text, k=10):
    return {c.doc_id: c.score for c in arm.retrieve(q(text), k).candidates}


def test_normalised_keys_share_one_memory():
    arm = MemoryArm(DOCS, half_life=None)
    arm.observe(q("Tayler  LOVE!"), ["c", "a"], ["a"])
    arm.observe(q("tayler love"), ["a"], ["a", "unknown-id"])
    assert ids(arm.retrieve(q("TAYLER love"), 5)) == ["a"]      # c was shown but never clicked
    assert len(arm) == 1 and arm.counts("tayler love", "a") == pytest.approx((2.0, 2.0))
    assert arm.counts("tayler love", "c") == pytest.approx((0.0, 1.0))
    assert arm.mass(q("Tayler Love")) == pytest.approx(2.0) and arm.mass(q("other")) == 0.0


def test_smoothing_trusts_one_in_one_over_one_in_ten():
    arm = MemoryArm(DOCS, half_life=None, prior_ctr=0.1, prior_strength=2.0)
    for i in range(10):
        arm.observe(q("love"), ["a"], ["a"] if i == 0 else [])
    arm.observe(q("love"), ["c"], ["c"])
    s = scores(arm, "love")
    assert s["c"] == pytest.approx((1 + 0.2) / (1 + 2)) and s["a"] == pytest.approx((1 + 0.2) / (10 + 2))
    assert ids(arm.retrieve(q("love"), 5)) == ["c", "a"]


def test_decay_halves_counts_after_one_half_life():
    arm = MemoryArm(DOCS, half_life=4)
    arm.observe(q("love"), ["a"], ["a"])
    for _ in range(4):
        arm.observe(q("something else"), ["d"], [])
    assert arm.counts("love", "a") == pytest.approx((0.5, 0.5))
    assert arm.mass(q("love")) == pytest.approx(0.5)
    assert scores(arm, "love")["a"] == pytest.approx((0.5 + 2 * 0.05) / (0.5 + 2))
    arm.observe(q("love"), ["a"], ["a"])                             # one more interaction has passed
    assert arm.counts("love", "a") == pytest.approx((0.5 ** 1.25 + 1, 0.5 ** 1.25 + 1))


def test_memory_is_bounded():
    arm = MemoryArm(DOCS, max_per_key=2, max_keys=2)
    arm.observe(q("k1"), ["a", "b", "c", "d"], ["c"])
    assert arm.counts("k1", "c") == (1.0, 1.0) and sum(arm.counts("k1", d)[1] > 0 for d in "abcd") == 2
    arm.observe(q("k2"), ["a"], ["a"])
    arm.observe(q("k3"), ["b"], ["b"])
    assert len(arm) == 2 and ids(arm.retrieve(q("k1"), 5)) == [] and ids(arm.retrieve(q("k3"), 5)) == ["b"]


def make_predicted_arm(tiny_encoder, **kw):
    pred = NeighbourQueryPredictor(tiny_encoder, m=1, threshold=0.99, weight=0.4)
    return MemoryArm(DOCS, half_life=None, predictor=pred, refresh_every=1, **kw)


def test_cold_entity_gets_predicted_score_then_observed_one(tiny_encoder):
    arm = make_predicted_arm(tiny_encoder)
    assert ids(arm.retrieve(q(KEY), 5)) == []                      # nothing clicked, nothing predicted
    arm.observe(q(KEY), ["b"], ["b"])                               # refresh_every=1: predictions refreshed
    s = scores(arm, KEY)
    assert s["b"] == pytest.approx((1 + 0.1) / 3)
    assert s["f"] == pytest.approx(0.4, abs=1e-3)                  # cosine ~1 with its own text
    assert all(arm.is_cold(d) for d in s if d != "b")
    arm.observe(q(KEY), ["f"], [])                                  # an impression without click wears it down
    assert scores(arm, KEY)["f"] == pytest.approx(0.4 * 2 / 3, abs=1e-3)
    arm.observe(q(KEY), ["f"], ["f"])
    assert not arm.is_cold("f")
    assert scores(arm, KEY)["f"] == pytest.approx((1 + 0.1) / (2 + 2))   # observed replaces predicted
    arm.refresh()                                                   # f is warm: no longer predicted
    assert all(5 not in pos for pos, _ in arm.predicted.values())


def test_without_predictor_nothing_is_predicted():
    arm = MemoryArm(DOCS, refresh_every=1)
    arm.observe(q(KEY), ["b"], ["b"])
    assert ids(arm.retrieve(q(KEY), 5)) == ["b"]


def test_neighbour_predictions_do_not_depend_on_refresh_batches(tiny_encoder):
    texts, cold = [d.full_text for d in DOCS], np.ones(len(DOCS), bool)
    keys = ["midnight rain taylor swift", "love story", "history podcast", "blue monday new order"]
    p1 = NeighbourQueryPredictor(tiny_encoder, m=2, threshold=0.0)
    p2 = NeighbourQueryPredictor(tiny_encoder, m=2, threshold=0.0)
    p1.predict(texts, cold, keys[:1])
    p1.predict(texts, cold, keys[:3])
    a, b = p1.predict(texts, cold, keys), p2.predict(texts, cold, keys)
    assert a.keys() == b.keys() and a
    for k in a:
        assert a[k][0].tolist() == b[k][0].tolist() and np.allclose(a[k][1], b[k][1], atol=1e-6)
    assert sum(len(v[0]) for v in a.values()) == 2 * len(DOCS)     # m per entity
    cold[0] = False
    assert all(0 not in v[0] for v in p1.predict(texts, cold, keys).values())


def test_state_round_trip_through_json(tiny_encoder):
    arm = make_predicted_arm(tiny_encoder, max_per_key=50)
    arm.observe(q(KEY), ["b", "a"], ["b"])
    arm.observe(q("love"), ["a", "c"], ["c"])
    clone = MemoryArm(DOCS, half_life=None)                          # no predictor needed to serve the state
    clone.load_state_dict(json.loads(json.dumps(arm.state_dict())))
    for text in (KEY, "love", "nothing"):
        assert clone.retrieve(q(text), 5).candidates == arm.retrieve(q(text), 5).candidates
    assert not clone.is_cold("c") and clone.is_cold("f")
    arm.reset(0)
    assert len(arm) == 0 and ids(arm.retrieve(q(KEY), 5)) == []


def test_legacy_state_loads():
    arm = MemoryArm(DOCS)
    arm.load_state_dict({"table": {"tayler love": {"a": 2.0, "gone": 1.0}}})
    assert ids(arm.retrieve(q("Tayler Love"), 5)) == ["a"] and not arm.is_cold("a")


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="half_life"):
        MemoryArm(DOCS, half_life=0)
    with pytest.raises(ValueError, match="prior_strength"):
        MemoryArm(DOCS, prior_strength=0)


@pytest.fixture(scope="module")
def tiny_seq2seq(tmp_path_factory):
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    from ltrr.encoders.dense import resolve_model_path

    tok = AutoTokenizer.from_pretrained(resolve_model_path("packaged:all-MiniLM-L6-v2"))
    cfg = T5Config(vocab_size=tok.vocab_size, d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
                   decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                   eos_token_id=tok.sep_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_t5")
    T5ForConditionalGeneration(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_seq2seq_predictor_plumbing(tiny_seq2seq):
    texts, cold = [d.full_text for d in DOCS], np.array([True, False, True, True, True, True])
    before = torch.random.get_rng_state()
    make = lambda: Seq2SeqQueryPredictor(tiny_seq2seq, n_queries=3, weight=0.6, max_new_tokens=4, seed=1)
    pred = make().predict(texts, cold, [])
    assert torch.equal(before, torch.random.get_rng_state())       # the global torch generator is untouched
    assert pred and all(k and k == " ".join(k.split()) for k in pred)
    assert all(1 not in pos for pos, _ in pred.values())           # warm entity b gets no predictions
    assert all(0 < s <= 0.6 for _, sc in pred.values() for s in sc)
    again = make().predict(texts, cold, [])
    assert {k: v[0].tolist() for k, v in pred.items()} == {k: v[0].tolist() for k, v in again.items()}
    arm = MemoryArm(DOCS, predictor=make())
    key, (pos, sc) = next(iter(pred.items()))
    assert DOCS[int(pos[0])].id in ids(arm.retrieve(q(key), 10))   # predicted before any click


def test_documented_predictor_override_composes(tiny_world):
    from ltrr.tasks.build import build_arms
    from tests.conftest import CONFIGS, compose_cfg

    line = next(x for x in (CONFIGS / "arm" / "memory.yaml").read_text().splitlines() if "Neighbour" in x)
    override = line.strip("# '")
    cfg = compose_cfg("train", ["experiment=smoke", override])
    arm = build_arms(cfg, tiny_world.docs)["memory"]
    assert isinstance(arm.predictor, NeighbourQueryPredictor) and arm.predictor.threshold == 0.7
    assert compose_cfg("train", ["experiment=smoke"]).arms.memory.predictor is None
