"""Cross-encoder: one logit per pair, order-independent batched scoring, truncation, save/load (ours and
sentence-transformers'), and a fresh head on the packaged bi-encoder checkpoint."""

import numpy as np
import pytest
import torch

from ltrr.encoders.cross import SETTINGS_FILE, CrossEncoder
from ltrr.encoders.dense import PACKAGED

QUERIES = ["sad love song", "upbeat workout mix", "", "jazz", "word " * 100, "rock"]
DOCS = ["a sad love song about rain", "", "podcast episode on history", "x " * 300, "short", "rock anthem live"]


@pytest.fixture(scope="module")
def ce():
    return CrossEncoder.tiny(device="cpu", max_length=48, batch_size=2)


def test_forward_gives_one_logit_per_pair_with_gradients(ce):
    batch = ce.tokenize(QUERIES[:3], DOCS[:3])
    ce.train()
    logits = ce(**batch)
    assert logits.shape == (3,) and logits.requires_grad
    logits.sum().backward()
    grads = [p.grad for p in ce.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    ce.zero_grad()


def test_scores_do_not_depend_on_batching_or_order_and_mode_is_restored(ce):
    ce.train()
    together = ce.score_pairs(QUERIES, DOCS)
    assert ce.training  # scoring switches to eval mode only while it runs
    alone = np.array([ce.score_pairs([q], [d])[0] for q, d in zip(QUERIES, DOCS)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    rev = ce.score_pairs(QUERIES[::-1], DOCS[::-1])[::-1]
    np.testing.assert_allclose(together, rev, atol=1e-5)
    assert together.dtype == np.float32 and together.shape == (len(DOCS),)
    np.testing.assert_allclose(ce.score("rock", DOCS), ce.score_pairs(["rock"] * len(DOCS), DOCS), atol=1e-6)
    assert ce.score("q", []).shape == (0,) and ce.score_pairs([], []).shape == (0,)
    with pytest.raises(ValueError, match="queries but"):
        ce.score_pairs(["a"], [])


def test_truncation_cuts_the_document_unless_the_query_alone_is_too_long(ce):
    batch = ce.tokenize(["sad love song", "word " * 100], ["doc " * 200, "short doc"])
    assert batch["input_ids"].shape == (2, ce.max_length)
    first = ce.tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    assert first.startswith("sad love song doc doc")       # query kept whole, document truncated
    second = ce.tokenizer.decode(batch["input_ids"][1], skip_special_tokens=True)
    assert second.startswith("word word") and second.endswith("short doc")  # longest_first keeps the short doc


def test_max_length_is_clamped_to_the_position_table(caplog):
    with caplog.at_level("WARNING"):
        ce = CrossEncoder.tiny(device="cpu", max_length=10_000)
    assert ce.max_length == 128 and "exceeds the model's 128 positions" in caplog.text


def test_save_and_load_round_trip(ce, tmp_path):
    ce.save_pretrained(tmp_path / "ce")
    assert (tmp_path / "ce" / SETTINGS_FILE).is_file()
    again = CrossEncoder.from_pretrained(str(tmp_path / "ce"), device="cpu")
    assert again.max_length == ce.max_length
    np.testing.assert_allclose(again.score_pairs(QUERIES, DOCS), ce.score_pairs(QUERIES, DOCS), atol=1e-6)


def test_sentence_transformers_loads_the_saved_folder_with_the_same_scores(ce, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    ce.save_pretrained(tmp_path / "ce")
    other = st.CrossEncoder(str(tmp_path / "ce"), device="cpu")
    pairs = [(q, d) for q, d in zip(QUERIES, DOCS) if len(q.split()) < 20]  # within only_second == longest_first
    ours = ce.score_pairs([q for q, _ in pairs], [d for _, d in pairs])
    raw = other.predict(pairs, activation_fn=torch.nn.Identity(), show_progress_bar=False)
    np.testing.assert_allclose(raw, ours, atol=1e-4)
    np.testing.assert_allclose(other.predict(pairs, show_progress_bar=False), ours, atol=1e-4)  # default: identity


def test_packaged_bi_encoder_gets_a_fresh_head(caplog):
    """Loads the 90 MB packaged MiniLM (a plain BertModel): the classifier head is created, and logged."""
    with caplog.at_level("INFO", logger="ltrr.encoders.cross"):
        ce = CrossEncoder.from_pretrained(PACKAGED, device="cpu", max_length=64)
    assert "no classifier head" in caplog.text and "classifier.weight" in caplog.text
    assert ce.model_id == PACKAGED and ce.model.config.num_labels == 1
    scores = ce.score("sad love song", ["a sad love song", "a podcast about taxes"])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_onnx_backends_score_like_torch_and_follow_new_weights(tmp_path):
    pytest.importorskip("onnxruntime")
    queries = ["red car", "blue sky at night", "x"] * 3
    docs = ["a red car drives", "night sky", "y z", "cars", "blue", "the sky is blue tonight", "x", "q", "car red"]
    ref = CrossEncoder.tiny(hidden_size=64, num_heads=2, device="cpu", seed=3)
    fp32 = CrossEncoder.tiny(hidden_size=64, num_heads=2, device="cpu", seed=3, backend="onnx",
                             onnx_cache=str(tmp_path))
    int8 = CrossEncoder.tiny(hidden_size=64, num_heads=2, device="cpu", seed=3, backend="onnx-int8",
                             onnx_cache=str(tmp_path))
    assert fp32.onnx is not None and int8.onnx is not None and int8.onnx.path.name.endswith(".int8.onnx")
    want = ref.score_pairs(queries, docs)
    np.testing.assert_allclose(fp32.score_pairs(queries, docs), want, atol=1e-4)
    got8 = int8.score_pairs(queries, docs)
    assert got8.shape == want.shape and not np.array_equal(got8, fp32.score_pairs(queries, docs))  # another graph
    np.testing.assert_allclose(got8, want, atol=2e-3)  # int8 weights: close, not equal
    with torch.no_grad():  # changed weights: a refreshed backend exports them afresh, not the cached graph
        fp32.model.classifier.bias += 1.0
    fp32.refresh_backend()
    np.testing.assert_allclose(fp32.score_pairs(queries, docs), want + 1.0, atol=1e-4)
    assert len(list(tmp_path.glob("*.onnx"))) == 3  # two fp32 exports (old and new weights), one int8 copy
    with pytest.raises(ValueError, match="backend"):
        CrossEncoder.tiny(device="cpu", backend="tensorrt")


def test_cached_document_tokens_give_the_tokenizers_pairs_and_scores(ce):
    docs = ["a red car drives " * 30, "night sky", "y z", "cars and more cars"]
    for query in ("red car", "a much longer query " * 20):  # the second leaves no room: the slow path
        got = ce.score(query, docs)
        np.testing.assert_allclose(got, ce.score_pairs([query] * len(docs), docs), atol=1e-6)
    assert ce._layout_ok and docs[1] in ce._doc_ids
    rows = ce._encode_cached("red car", docs)
    assert rows == ce._encode(["red car"] * len(docs), docs)  # same ids, types, mask; truncated alike
    small = CrossEncoder.tiny(device="cpu", doc_cache=2)
    small.score("q", ["a", "b", "c"])
    assert list(small._doc_ids) == ["b", "c"]
