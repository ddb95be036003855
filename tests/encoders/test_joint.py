"""Joint dense + SPLADE encoder: heads, tying, shared vs separate backbones, saving, loading elsewhere, MLM warm-up."""

import json

import numpy as np
import pytest
import torch

from ltrr.encoders.dense import DenseEncoder
from ltrr.encoders.joint import JointEncoder
from ltrr.encoders.mlm_warmup import head_parameters, warm_mlm_head
from ltrr.encoders.sparse import SpladeEncoder

TEXTS = ["the quick brown fox", "jumps over the lazy dog again and again", "x", "a podcast about jazz piano"]
MAXLEN = 16


def encode(model: JointEncoder, texts=TEXTS, heads=("dense", "sparse")) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {k: v.numpy() for k, v in model(**model.tokenize(texts, MAXLEN), heads=heads).items()}


@pytest.fixture(scope="module")
def shared():
    return JointEncoder.tiny(shared=True)


@pytest.fixture(scope="module")
def separate():
    return JointEncoder.tiny(shared=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, shared, separate):
    root = tmp_path_factory.mktemp("joint")
    return {"shared": shared.save_pretrained(root / "shared", max_seq_length=MAXLEN),
            "separate": separate.save_pretrained(root / "separate", max_seq_length=MAXLEN)}


def test_forward_computes_only_the_requested_heads_and_runs_a_shared_backbone_once(shared):
    calls = {"bert": 0, "cls": 0}
    hooks = [shared.mlm.bert.register_forward_hook(lambda *a: calls.__setitem__("bert", calls["bert"] + 1)),
             shared.mlm.cls.register_forward_hook(lambda *a: calls.__setitem__("cls", calls["cls"] + 1))]
    try:
        both = encode(shared)
        assert both["dense"].shape == (4, shared.dim) == (4, 32) and both["sparse"].shape == (4, shared.vocab_size)
        assert calls == {"bert": 1, "cls": 1}
        dense = encode(shared, heads=("dense",))
        assert set(dense) == {"dense"} and calls == {"bert": 2, "cls": 1}  # no (B, L, V) logits for dense only
        sparse = encode(shared, heads=["sparse"])
        assert set(sparse) == {"sparse"} and calls == {"bert": 3, "cls": 2}
    finally:
        for h in hooks:
            h.remove()
    np.testing.assert_allclose(dense["dense"], both["dense"], atol=1e-6)
    np.testing.assert_allclose(sparse["sparse"], both["sparse"], atol=1e-6)
    with pytest.raises(ValueError, match="unknown heads"):
        encode(shared, heads=("colbert",))


def test_sparse_is_nonnegative_with_special_tokens_zero_and_dense_is_unit_norm(shared):
    out = encode(shared)
    assert (out["sparse"] >= 0).all() and (out["sparse"] > 0).any()
    special = shared.tokenizer.all_special_ids
    assert sorted(shared.zero_ids.tolist()) == sorted(special) and (out["sparse"][:, special] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(out["dense"], axis=1), 1.0, atol=1e-5)


def test_decoder_is_tied_to_the_word_embeddings(shared, separate):
    for m in (shared, separate):
        dec, emb = m.mlm.cls.predictions.decoder.weight, m.mlm.bert.embeddings.word_embeddings.weight
        assert dec is emb and dec.data_ptr() == emb.data_ptr()
        assert m.mlm.cls.predictions.decoder.bias is m.mlm.cls.predictions.bias
        assert all(p is not emb for p in head_parameters(m))


def test_separate_backbones_start_equal_but_train_independently(shared, separate):
    assert shared.shared and not separate.shared
    ptrs = {p.data_ptr() for p in separate.mlm.parameters()}
    assert not ptrs & {p.data_ptr() for p in separate.dense_backbone.parameters()}
    before_shared, before_sep = encode(shared), encode(separate)
    np.testing.assert_allclose(before_sep["dense"], before_shared["dense"], atol=1e-6)  # same initial weights
    np.testing.assert_allclose(before_sep["sparse"], before_shared["sparse"], atol=1e-6)
    for model, before in ((JointEncoder.tiny(shared=False), before_sep), (JointEncoder.tiny(shared=True), before_shared)):
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        dense = model(**model.tokenize(TEXTS, MAXLEN), heads=("dense",))["dense"]
        (dense[:, 0].sum() - dense[:, 1].sum()).backward()
        opt.step()
        after = encode(model)
        assert not np.allclose(after["dense"], before["dense"], atol=1e-4)
        assert np.allclose(after["sparse"], before["sparse"], atol=1e-6) == (not model.shared)


@pytest.mark.parametrize("kind", ["shared", "separate"])
def test_save_and_load_round_trip_gives_the_same_model(request, saved, kind):
    model = request.getfixturevalue(kind)
    path = saved[kind]
    assert json.loads((path / "joint.json").read_text()) == {"shared": kind == "shared", "format": 1,
                                                              "max_seq_length": MAXLEN}
    back = JointEncoder.from_pretrained(str(path), mlm_bias_init=5.0)  # an existing head is never re-initialised
    assert back.shared == model.shared and not back.training
    assert back.mlm.cls.predictions.decoder.weight is back.mlm.bert.embeddings.word_embeddings.weight
    torch.testing.assert_close(back.mlm.cls.predictions.bias, model.mlm.cls.predictions.bias)
    ref, got = encode(model), encode(back)
    for head in ("dense", "sparse"):
        np.testing.assert_allclose(got[head], ref[head], atol=1e-6)


def test_a_shared_folder_can_be_loaded_with_separate_backbones(shared, saved):
    back = JointEncoder.from_pretrained(str(saved["shared"]), shared=False)
    assert not back.shared
    ref, got = encode(shared), encode(back)
    for head in ("dense", "sparse"):
        np.testing.assert_allclose(got[head], ref[head], atol=1e-6)


@pytest.mark.parametrize("kind", ["shared", "separate"])
def test_saved_heads_load_in_splade_dense_and_sentence_transformers(request, saved, kind):
    st = pytest.importorskip("sentence_transformers")
    model, path = request.getfixturevalue(kind), saved[kind]
    ref = encode(model)
    splade = SpladeEncoder.from_pretrained(str(path / "splade"), device="cpu", max_length=MAXLEN)
    np.testing.assert_allclose(splade.encode_docs(TEXTS).toarray(), ref["sparse"], atol=1e-5)
    dense = DenseEncoder.from_pretrained(str(path / "dense"), device="cpu", max_length=MAXLEN)
    np.testing.assert_allclose(dense.encode(TEXTS), ref["dense"], atol=1e-5)
    sbert = st.SentenceTransformer(str(path / "dense"), device="cpu")
    assert sbert.max_seq_length == MAXLEN
    np.testing.assert_allclose(sbert.encode(TEXTS), ref["dense"], atol=1e-5)


def test_warm_mlm_head_lowers_the_loss_and_touches_only_the_head(caplog):
    model = JointEncoder.tiny(shared=False)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("mlm.cls.")}
    frozen["emb"] = model.mlm.bert.embeddings.word_embeddings.weight.detach().clone()
    head = {n: p.detach().clone() for n, p in model.mlm.cls.predictions.named_parameters() if n != "decoder.weight"}
    model.dense_backbone.embeddings.word_embeddings.weight.requires_grad_(False)  # a flag the caller set: kept
    corpus = ["the cat sat on the mat", "jazz piano and bass", "the dog sat on the log"] * 4
    with caplog.at_level("INFO", logger="ltrr.encoders.mlm_warmup"):
        losses = warm_mlm_head(model, corpus, steps=20, batch_size=6, lr=1e-2, seed=0)
    assert len(losses) == 20 and np.mean(losses[-5:]) < np.mean(losses[:5])
    assert "MLM head warm-up" in caplog.text
    for name, p in model.named_parameters():
        if name in frozen:
            torch.testing.assert_close(p, frozen[name], rtol=0, atol=0)
    torch.testing.assert_close(model.mlm.bert.embeddings.word_embeddings.weight, frozen["emb"], rtol=0, atol=0)
    changed = [n for n, p in model.mlm.cls.predictions.named_parameters() if n in head and not torch.equal(p, head[n])]
    assert sorted(changed) == sorted(head)  # transform dense, LayerNorm and bias all trained
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    assert flags.pop("dense_backbone.embeddings.word_embeddings.weight") is False and all(flags.values())
    again = warm_mlm_head(JointEncoder.tiny(shared=False), corpus, steps=20, batch_size=6, lr=1e-2, seed=0)
    assert again == losses  # own RNGs: the same seed repeats exactly


def test_packaged_minilm_gets_a_fresh_biased_head_and_the_same_dense_vectors(caplog):
    with caplog.at_level("INFO", logger="ltrr.encoders.joint"):
        model = JointEncoder.from_pretrained()
    assert "has no MLM head" in caplog.text and model.shared and model.dim == 384
    assert torch.all(model.mlm.cls.predictions.bias == -2.0)
    assert model.mlm.cls.predictions.decoder.weight is model.mlm.bert.embeddings.word_embeddings.weight
    texts = TEXTS[:3]
    ref = DenseEncoder.from_pretrained(device="cpu", max_length=64).encode(texts)
    with torch.no_grad():
        out = model(**model.tokenize(texts, 64))
    np.testing.assert_allclose(out["dense"].numpy(), ref, atol=1e-5)
    assert (out["sparse"] >= 0).all()


def test_gradient_checkpointing_keeps_outputs_and_gradients(saved, separate):
    model = JointEncoder.from_pretrained(str(saved["separate"]), gradient_checkpointing=True)
    ref = encode(separate)
    np.testing.assert_allclose(encode(model)["dense"], ref["dense"], atol=1e-6)
    model.train()
    out = model(**model.tokenize(TEXTS, MAXLEN))
    (out["dense"].sum() + out["sparse"].sum()).backward()
    assert model.dense_backbone.encoder.layer[0].output.dense.weight.grad.abs().sum() > 0
    assert model.mlm.bert.encoder.layer[0].output.dense.weight.grad.abs().sum() > 0


@torch.no_grad()
def _own_token_rank(model: JointEncoder, texts: list[str]) -> float:
    """Mean rank of each real token among the head's logits at its own (uncorrupted) position (0 = top)."""
    batch = model.tokenize(texts, 32)
    hidden = model.mlm.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    logits = model.mlm_logits(hidden)
    own = logits.gather(-1, batch["input_ids"].unsqueeze(-1))
    ranks = (logits > own).sum(-1).float()
    keep = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], model.zero_ids)
    return float(ranks[keep].mean())


def test_identity_targets_teach_the_head_the_tokens_it_reads():
    corpus = ["the cat sat on the mat", "jazz piano and bass", "the dog sat on the log"] * 4
    ranks = {}
    for prob in (0.0, 0.5):
        torch.manual_seed(0)
        model = JointEncoder.tiny(shared=True)
        warm_mlm_head(model, corpus, steps=30, batch_size=6, lr=1e-2, seed=0, identity_prob=prob)
        ranks[prob] = _own_token_rank(model, corpus[:3])
    assert ranks[0.5] < ranks[0.0]


def test_head_lr_gives_the_splade_head_its_own_learning_rate():
    from ltrr.training.bi_module import BiEncoderModule
    from ltrr.training.optim import adamw_linear
    from ltrr.losses import JointContrastiveLoss

    model = JointEncoder.tiny(shared=True)
    module = BiEncoderModule(model, JointContrastiveLoss(), lr=1e-4, head_lr=1e-2)
    opt = adamw_linear(model, module.lr, 0.0, 0.0, 10, module.head_prefixes, module.head_lr)["optimizer"]
    by_lr: dict[float, set] = {}
    for g in opt.param_groups:
        by_lr.setdefault(g["lr"], set()).update(id(p) for p in g["params"])
    head = {id(p) for p in head_parameters(model)}
    assert by_lr[1e-2] == head
    assert id(model.mlm.bert.embeddings.word_embeddings.weight) in by_lr[1e-4]  # tied decoder: backbone rate
