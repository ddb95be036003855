import importlib.util

import numpy as np
import pytest
import scipy.sparse as sp

from ltrr.indexes.sparse import SparseIndex, top_k_dense


def brute_force(q: np.ndarray, x: np.ndarray, k: int):
    """Reference: positive dot products, best first, ties by lower id, -1 / 0 padded."""
    s = q @ x.T
    ids = np.full((len(q), k), -1)
    top = np.zeros((len(q), k), np.float32)
    for i, row in enumerate(s):
        order = [j for j in np.lexsort((np.arange(len(row)), -row)) if row[j] > 0][:k]
        ids[i, :len(order)], top[i, :len(order)] = order, row[order]
    return top, ids


def random_sparse(rng, n, v, density, levels=None):
    x = sp.random(n, v, density=density, format="csr", random_state=rng, dtype=np.float32)
    if levels is not None:  # few distinct values: many tied scores
        x.data = rng.integers(1, levels + 1, size=x.nnz).astype(np.float32)
    return x


@pytest.mark.parametrize("levels", [None, 2])
@pytest.mark.parametrize("k", [1, 5, 200])
def test_exact_search_equals_brute_force(levels, k):
    rng = np.random.default_rng(k + (levels or 0))
    x = random_sparse(rng, 150, 60, 0.05, levels)
    q = random_sparse(rng, 40, 60, 0.08, levels)
    q = sp.vstack([q, sp.csr_matrix((1, 60), dtype=np.float32)], format="csr")  # plus an empty query
    index = SparseIndex(chunk_entries=1000)  # several chunks of queries
    index.add(x)
    scores, ids = index.search(q, k)
    ref_scores, ref_ids = brute_force(q.toarray(), x.toarray(), k)
    assert scores.shape == ids.shape == (41, k)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5)
    assert (ids[-1] == -1).all() and (scores[ids < 0] == 0).all() and (scores[ids >= 0] > 0).all()
    if k == 200:
        assert (ids == -1).any(axis=1).all()  # fewer than k positive scores everywhere


def test_no_overlap_short_lists_and_stats():
    x = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 1, 0, 0]], np.float32))
    index = SparseIndex()
    index.add(x)
    scores, ids = index.search(sp.csr_matrix(np.array([[0, 0, 0, 5], [0, 1, 0, 0]], np.float32)), 3)
    assert ids.tolist() == [[-1, -1, -1], [1, 2, -1]] and scores[1].tolist() == [2, 1, 0]
    assert index.nnz_per_doc == 1.0 and index.nbytes > 0 and len(index) == 3
    index.add(sp.csr_matrix(np.array([[0, 3, 0, 0]], np.float32)))  # appending keeps positions
    assert index.search(sp.csr_matrix(np.array([[0, 1, 0, 0]], np.float32)), 2)[1].tolist() == [[3, 1]]


def test_top_k_dense_handles_ties_and_nonpositive():
    s = np.array([[1.0, 2.0, 2.0, 2.0, 0.0], [-1.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
    top, ids = top_k_dense(s, 2)
    assert ids.tolist() == [[1, 2], [-1, -1]] and top.tolist() == [[2, 2], [0, 0]]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="backend"):
        SparseIndex("lucene")
    index = SparseIndex()
    with pytest.raises(RuntimeError, match="empty"):
        index.search(sp.csr_matrix((1, 4), dtype=np.float32), 1)
    with pytest.raises(ValueError, match="negative"):
        index.add(sp.csr_matrix(np.array([[-1.0, 0, 0, 0]], np.float32)))
    index.add(sp.csr_matrix(np.eye(4, dtype=np.float32)))
    with pytest.raises(ValueError, match="vocabulary"):
        index.search(sp.csr_matrix((1, 5), dtype=np.float32), 1)


def test_seismic_backend_missing_names_the_package(monkeypatch):
    import builtins

    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda name, *a, **kw: (_ for _ in ()).throw(ImportError(name)) if name == "seismic"
                        else real(name, *a, **kw))
    with pytest.raises(ImportError, match="pyseismic-lsr"):
        SparseIndex("seismic").add(sp.csr_matrix(np.eye(3, dtype=np.float32)))


@pytest.mark.skipif(importlib.util.find_spec("seismic") is None, reason="optional pyseismic-lsr not installed")
def test_seismic_backend_agrees_with_exact_on_easy_data():
    rng = np.random.default_rng(0)
    x = random_sparse(rng, 300, 200, 0.05)
    q = sp.vstack([x[:20] * 2, sp.csr_matrix((1, 200), dtype=np.float32)], format="csr")
    index = SparseIndex("seismic", seismic_build={"n_postings": 300, "num_threads": 1},
                        seismic_search={"query_cut": 20, "heap_factor": 1.0, "num_threads": 1})
    index.add(x)
    scores, ids = index.search(q, 5)
    assert ids.shape == (21, 5) and (ids[-1] == -1).all()
    exact = SparseIndex()
    exact.add(x)
    ref_scores, ref_ids = exact.search(q, 5)
    assert (ids[:20, 0] == ref_ids[:20, 0]).mean() >= 0.9  # approximate, so most (not all) top-1s agree
    np.testing.assert_allclose(scores[:20, 0], ref_scores[:20, 0], rtol=1e-2)  # seismic scores are f16-like
