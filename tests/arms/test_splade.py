import pytest

from ltrr.arms.splade import SpladeArm
from ltrr.encoders.bm25_weights import BM25TermWeights
from ltrr.encoders.sparse import SpladeEncoder
from ltrr.types import Doc, Query

DOCS = [
    Doc("a", "Love Story", "by Taylor Swift. pop", {}),
    Doc("b", "Midnight Rain", "by Taylor Swift. pop", {}),
    Doc("c", "Love Me Tender", "by Elvis. rock", {}),
    Doc("d", "Blue Monday", "by New Order. electronic", {}),
    Doc("e", "History Files", "podcast about the history of rome", {}),
]
IDS = {d.id for d in DOCS}


def q(text):
    return Query("q", text)


def assert_well_formed(res, name, k):
    assert res.arm == name and len(res.candidates) <= k
    assert [c.rank for c in res.candidates] == list(range(1, len(res.candidates) + 1))
    scores = [c.score for c in res.candidates]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert {c.doc_id for c in res.candidates} <= IDS and len({c.doc_id for c in res.candidates}) == len(scores)
    assert all(0 <= v <= 1 for v in res.features.values())


def test_tiny_splade_arm_returns_well_formed_results():
    enc = SpladeEncoder.tiny(device="cpu", max_length=32, doc_top_k=64, query_top_k=16)
    arm = SpladeArm(DOCS, enc, name="sp", progress=False)
    assert arm.index.nnz_per_doc == 64
    res = arm.retrieve(q("love story"), 3)
    assert_well_formed(res, "sp", 3)
    assert len(res.candidates) == 3 and res.latency_ms > 0
    batch = arm.retrieve_batch([q("love story"), q("blue monday")], 5)
    assert [c.doc_id for c in batch[0].candidates][:3] == [c.doc_id for c in res.candidates]
    assert len(batch[1].candidates) == 5


def test_bm25_weights_arm_fits_on_the_catalogue_and_finds_own_text():
    enc = BM25TermWeights()
    arm = SpladeArm(DOCS, enc, batch_size=2, progress=False)
    assert enc.fitted and enc.n_docs == len(DOCS)
    for d in DOCS:
        res = arm.retrieve(q(d.full_text), len(DOCS))
        assert_well_formed(res, "splade", len(DOCS))
        assert res.candidates[0].doc_id == d.id
    assert arm.retrieve(q("zzzzqqqq"), 3).candidates == ()
    top = arm.retrieve_batch([q("rome history podcast"), q("midnight"), q("taylor swift"), q("xyzzyq")], 2)
    assert [r.candidates[0].doc_id if r.candidates else None for r in top] == ["e", "b", "a", None]
    assert {c.doc_id for c in top[2].candidates} == {"a", "b"}


def test_a_fitted_encoder_is_reused_and_pruning_applies():
    enc = BM25TermWeights().fit([d.full_text for d in DOCS[:2]])
    arm = SpladeArm(DOCS, enc, doc_top_k=2, progress=False)
    assert enc.n_docs == 2  # not refitted on the arm's catalogue
    assert arm.index.docs.getnnz(axis=1).max() == 2
    with pytest.raises(ValueError, match="doc_top_k"):
        SpladeArm(DOCS, enc, doc_top_k=0, progress=False)
