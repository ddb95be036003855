import numpy as np
import pytest
import scipy.sparse as sp
import torch

from ltrr.encoders.bm25_weights import BM25TermWeights
from ltrr.encoders.sparse import SpladeEncoder, dense_to_csr, prune_rows, splade_pool


def test_splade_pool_is_max_of_log1p_relu_over_unmasked_tokens():
    logits = torch.tensor([[[1.0, -2.0, 0.5, 3.0],
                            [2.0, -1.0, -0.5, 0.0],
                            [9.0, 9.0, 9.0, 9.0]]])  # (B=1, L=3, V=4); the last token is padding
    mask = torch.tensor([[1, 1, 0]])
    w = splade_pool(logits, mask)
    expect = torch.log1p(torch.tensor([[2.0, 0.0, 0.5, 3.0]]))
    torch.testing.assert_close(w, expect)
    torch.testing.assert_close(splade_pool(logits, mask, zero_ids=[0, 3]), expect * torch.tensor([0.0, 1, 1, 0]))
    assert splade_pool(logits, torch.zeros(1, 3, dtype=torch.long)).abs().sum() == 0  # all padding -> zeros


def test_splade_pool_matches_the_literal_formula_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    literal = (torch.log1p(torch.relu(logits)) * mask.unsqueeze(-1)).amax(1)
    w = splade_pool(logits, mask)
    torch.testing.assert_close(w, literal)
    w.sum().backward()
    assert logits.grad[1, 2:].abs().sum() == 0 and logits.grad.abs().sum() > 0  # padding gets no gradient
    with pytest.raises(ValueError, match="attention_mask"):
        splade_pool(logits, mask[:, :3])


def test_dense_to_csr_and_prune_rows_keep_the_k_largest():
    w = torch.tensor([[0.0, 3.0, 1.0, 2.0, 5.0], [0.0, 0.0, 0.7, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0]])
    full = dense_to_csr(w)
    assert full.dtype == np.float32 and full.shape == (3, 5)
    np.testing.assert_allclose(full.toarray(), w.numpy())
    top2 = dense_to_csr(w, top_k=2)
    assert top2.getnnz(axis=1).tolist() == [2, 1, 2]  # the second row has a single positive weight
    assert sorted(top2[0].indices.tolist()) == [1, 4]
    pruned = prune_rows(full, 2)
    assert pruned.getnnz(axis=1).tolist() == [2, 1, 2]
    np.testing.assert_array_equal(pruned.toarray()[:2], top2.toarray()[:2])
    assert pruned[2].indices.tolist() == [0, 1]  # ties broken by lower column id
    assert prune_rows(full, None) is not None and prune_rows(full, None).nnz == full.nnz


@pytest.fixture(scope="module")
def tiny():
    return SpladeEncoder.tiny(device="cpu", max_length=32, doc_top_k=20, query_top_k=5)


def test_tiny_splade_encoder_shapes_pruning_and_special_tokens(tiny):
    docs = tiny.encode_docs(["the quick brown fox", "jumps over the lazy dog", "x"] * 3)
    assert isinstance(docs, sp.csr_matrix) and docs.shape == (9, tiny.vocab_size) and docs.dtype == np.float32
    assert docs.getnnz(axis=1).tolist() == [20] * 9  # a random MLM fires on much of the vocabulary
    assert tiny.encode_queries(["hello"]).getnnz() == 5
    unpruned = SpladeEncoder.tiny(device="cpu", max_length=32).encode_docs(["the quick brown fox"])
    assert unpruned.nnz > 20
    special = tiny.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[PAD]"])
    assert unpruned[:, special].nnz == 0
    assert (docs.data > 0).all()
    np.testing.assert_allclose(tiny.encode_docs(["x"]).toarray(), docs[2].toarray(), rtol=1e-5)  # batch-independent


def test_bm25_term_weights_formula_and_ranking():
    corpus = ["the cat sat on the mat", "dogs chase cats in the park", "stock markets fell sharply today",
              "the mat was red"]
    enc = BM25TermWeights(k1=1.2, b=0.75)
    assert not enc.fitted
    with pytest.raises(RuntimeError, match="fit"):
        enc.encode_docs(corpus)
    enc.fit(corpus)
    d = enc.encode_docs(corpus)
    q = enc.encode_queries(["stock markets", "mat mat"])
    scores = (q @ d.T).toarray()
    assert scores[0].argmax() == 2 and scores[0, [0, 1, 3]].max() == 0
    assert scores[1].argmax() == 3  # "mat" in a shorter doc (len 4 vs 6) wins
    mat = enc.tokenizer.convert_tokens_to_ids("mat")
    assert q[1, mat] == 2.0
    idf = np.log1p((4 - 2 + 0.5) / (2 + 0.5))
    length = len(enc.tokenizer.tokenize(corpus[3]))
    expect = idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * length / enc.avg_len))
    assert d[3, mat] == pytest.approx(expect, rel=1e-5)
    assert BM25TermWeights(query_weight="binary").encode_queries(["mat mat"]).data.tolist() == [1.0]
    with pytest.raises(ValueError, match="query_weight"):
        BM25TermWeights(query_weight="tf")


def test_fit_encode_docs_equals_fit_then_encode():
    corpus = ["alpha beta beta", "beta gamma", "delta"]
    one = BM25TermWeights().fit_encode_docs(corpus)
    two = BM25TermWeights().fit(corpus).encode_docs(corpus)
    assert (one != two).nnz == 0 and one.nnz == 5
    with pytest.raises(ValueError, match="no documents"):
        BM25TermWeights().fit([])


@pytest.mark.parametrize("option", ["bm25_weights", "tiny"])
def test_sparse_encoder_configs_instantiate(option):
    from hydra.utils import instantiate

    from tests.conftest import compose_cfg

    cfg = compose_cfg("train", ["experiment=smoke", "+arm@arms.sp=splade", f"sparse_encoder@arms.sp.encoder={option}"])
    enc = instantiate(cfg.arms.sp.encoder)
    x = enc.fit_encode_docs(["hello world", "good bye"])
    assert x.shape == (2, enc.vocab_size) and enc.encode_queries(["hello"]).shape == (1, enc.vocab_size)
