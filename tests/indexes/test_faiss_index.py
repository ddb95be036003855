"""FaissIndex / ShardedFaissIndex: GPU gate (with fake faiss modules), factories, params, training sample, I/O."""

import logging

import faiss
import numpy as np
import pytest

import ltrr.indexes.faiss_index as fi
from ltrr.indexes.faiss_index import FaissIndex, gpu_count, train_sample
from ltrr.indexes.sharded import ShardedFaissIndex

DIM = 16


@pytest.fixture(autouse=True, scope="module")
def one_omp_thread():
    """Tiny data: one faiss thread avoids OpenMP barrier spinning, which is slow on a loaded shared machine."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def clustered(n, seed=0, centers=20):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, DIM))
    x = c[rng.integers(centers, size=n)] + 0.3 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


X, Q = clustered(3000), clustered(50, seed=1)


class FakeFaiss:
    """Real faiss underneath; ``n_gpu`` GPUs reported; GPU API present or not; every GPU call recorded."""

    def __init__(self, n_gpu: int, gpu_api: bool = True):
        self.n_gpu, self.gpu_api, self.calls = n_gpu, gpu_api, []
        if gpu_api:
            self.StandardGpuResources = lambda: self.calls.append("res") or "RES"
            self.GpuMultipleClonerOptions = lambda: type("Opts", (), {})()
            self.GpuParameterSpace = lambda: self.calls.append("gpu-params") or faiss.ParameterSpace()
            self.index_cpu_to_gpu = lambda res, dev, idx: self.calls.append(("to_gpu", res, dev)) or idx
            self.index_cpu_to_all_gpus = lambda idx, co, ngpu: self.calls.append(("to_all", co.shard, ngpu)) or idx
            self.index_gpu_to_cpu = lambda idx: self.calls.append("to_cpu") or idx

    def get_num_gpus(self):
        return self.n_gpu

    def __getattr__(self, name):
        return getattr(faiss, name)


def use(monkeypatch, fake):
    monkeypatch.setattr(fi, "load_faiss", lambda: fake)
    return fake


def recall(ids, ref):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(ids, ref)])


def test_gpu_gate_counts_only_usable_gpus():
    assert gpu_count(FakeFaiss(2, gpu_api=False)) == 0      # faiss-cpu: no StandardGpuResources
    assert gpu_count(FakeFaiss(0)) == 0                     # GPU build, no device visible
    assert gpu_count(FakeFaiss(3)) == 3


@pytest.mark.parametrize("fake", [FakeFaiss(2, gpu_api=False), FakeFaiss(0)], ids=["no-gpu-api", "zero-gpus"])
def test_cpu_path_runs_and_logs_when_gpu_unusable(monkeypatch, caplog, fake):
    use(monkeypatch, fake)
    with caplog.at_level(logging.INFO, logger="ltrr.indexes.faiss_index"):
        idx = FaissIndex(DIM, "Flat", use_gpu=True)
    assert not idx.on_gpu and "faiss Flat on CPU" in caplog.text and "GPU requested but none visible" in caplog.text
    assert fake.calls == []
    idx.add(X)
    assert idx.search(Q[:2], 3)[1][0, 0] >= 0


def test_single_gpu_branch_clones_to_device_0(monkeypatch, caplog):
    fake = use(monkeypatch, FakeFaiss(1))
    with caplog.at_level(logging.INFO, logger="ltrr.indexes.faiss_index"):
        idx = FaissIndex(DIM, "IVF16,Flat", params={"nprobe": 4})
        assert fake.calls == []                              # untrained: placed only after training
        idx.add(X)
    assert idx.on_gpu and fake.calls[:2] == ["res", ("to_gpu", "RES", 0)] and "gpu-params" in fake.calls
    assert "on GPU (n=1)" in caplog.text
    _ = idx.nbytes
    assert fake.calls[-1] == "to_cpu"                        # copied back before serializing


@pytest.mark.parametrize("shard", [True, False])
def test_multi_gpu_branch_shards_or_replicates(monkeypatch, caplog, shard):
    fake = use(monkeypatch, FakeFaiss(2))
    with caplog.at_level(logging.INFO, logger="ltrr.indexes.faiss_index"):
        FaissIndex(DIM, "Flat", shard=shard)
    assert fake.calls == [("to_all", shard, 2)]
    assert ("sharded" if shard else "replicated") in caplog.text


def test_hnsw_stays_on_cpu_even_with_gpus(monkeypatch, caplog):
    fake = use(monkeypatch, FakeFaiss(1))
    with caplog.at_level(logging.WARNING):
        idx = FaissIndex(DIM, "HNSW32")
    assert not idx.on_gpu and fake.calls == [] and "no GPU version" in caplog.text


@pytest.mark.parametrize("factory,params,min_recall", [
    ("HNSW32", {"efSearch": 128}, 0.8), ("IVF16,Flat", {"nprobe": 16}, 1.0), ("IVF16,PQ4x4", {"nprobe": 16}, 0.2),
    ("OPQ4,IVF16,PQ4x4", {"nprobe": 16}, 0.2)])
def test_factories_against_exact(factory, params, min_recall):
    exact = FaissIndex(DIM, "Flat")
    exact.add(X)
    idx = FaissIndex(DIM, factory, train_size=1000)
    idx.add(X)
    idx.set_params(**params)
    assert len(idx) == len(X) and recall(idx.search(Q, 10)[1], exact.search(Q, 10)[1]) >= min_recall


def test_pq_training_skips_slow_polysemous_step():
    idx = FaissIndex(DIM, "OPQ4,IVF16,PQ4x4", train_size=1000)
    idx.add(X[:1000])
    inner = faiss.downcast_index(idx.index)
    inner = faiss.downcast_index(inner.index) if isinstance(inner, faiss.IndexPreTransform) else inner
    assert inner.do_polysemous_training is False            # index_factory sets it True


def test_nprobe_changes_results_and_wrong_param_is_rejected():
    idx = FaissIndex(DIM, "IVF64,Flat", train_size=2000)
    idx.add(X)
    exact = FaissIndex(DIM, "Flat")
    exact.add(X)
    idx.set_params(nprobe=1)
    low = recall(idx.search(Q, 10)[1], exact.search(Q, 10)[1])
    idx.set_params(nprobe=64)
    assert low < 1.0 and recall(idx.search(Q, 10)[1], exact.search(Q, 10)[1]) == 1.0
    with pytest.raises(ValueError, match="efSearch"):
        idx.set_params(efSearch=10)


def test_training_uses_a_seeded_sample(caplog):
    a, b = train_sample(X, 500, seed=1), train_sample(X, 500, seed=1)
    assert a.shape == (500, DIM) and np.array_equal(a, b) and not np.array_equal(a, train_sample(X, 500, seed=2))
    assert train_sample(X, 10**6, seed=1) is X
    with caplog.at_level(logging.INFO, logger="ltrr.indexes.faiss_index"):
        FaissIndex(DIM, "IVF16,Flat", train_size=700).add(X)
    assert "training on 700 of 3000 vectors" in caplog.text


def test_too_few_training_points_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="nlist"):
        FaissIndex(DIM, "IVF64,Flat").add(X[:10])
    with pytest.raises(ValueError, match=r"expected shape \(n, 16\)"):
        FaissIndex(DIM).add(X[:, :4])


def test_save_load_round_trip_and_nbytes(tmp_path):
    idx = FaissIndex(DIM, "IVF16,PQ4x4", train_size=1000, params={"nprobe": 8})
    idx.add(X)
    idx.save(tmp_path / "a.faiss")
    back = FaissIndex.load(tmp_path / "a.faiss", use_gpu=False)
    assert back.factory == "IVF16,PQ4x4" and back.params == {"nprobe": 8}
    assert np.array_equal(back.search(Q, 5)[1], idx.search(Q, 5)[1])
    assert idx.nbytes == (tmp_path / "a.faiss").stat().st_size
    flat = FaissIndex(DIM)
    flat.add(X)
    assert flat.nbytes >= X.nbytes > 3 * idx.nbytes     # 2-byte codes + 8-byte ids vs 64-byte rows
    with pytest.raises(FileNotFoundError, match="nope.faiss"):
        FaissIndex.load(tmp_path / "nope.faiss")


@pytest.mark.parametrize("factory", ["Flat", "IVF16,Flat"])   # IDMap-wrapped shards / native IVF ids
def test_sharded_equals_exact_over_several_adds(factory):
    one, many = FaissIndex(DIM, "Flat"), ShardedFaissIndex(DIM, factory, n_shards=3, params={"nprobe": 16}
                                                           if factory != "Flat" else None)
    for part in np.array_split(X, 2):
        one.add(part)
        many.add(part)
    assert len(many) == len(X) and [s.ntotal for s in many.shards] == [1000] * 3
    s1, i1 = one.search(Q, 10)
    s2, i2 = many.search(Q, 10)
    assert recall(i2, i1) == 1.0
    np.testing.assert_allclose(s2, s1, atol=1e-5)


def test_sharded_ivfpq_from_template_matches_and_round_trips(tmp_path):
    one = FaissIndex(DIM, "IVF16,PQ4x4", train_size=1000)
    one.add(X)
    many = ShardedFaissIndex(DIM, "IVF16,PQ4x4", n_shards=4, template=one.cpu_index())
    many.add(X)
    one.set_params(nprobe=6)
    many.set_params(nprobe=6)
    (s1, i1), (s2, i2) = one.search(Q, 10), many.search(Q, 10)
    np.testing.assert_allclose(s2, s1, atol=1e-5)             # same top-10 scores (4-bit PQ has ties in ids)
    assert recall(i2, i1) > 0.9
    many.save(tmp_path / "sh")
    back = ShardedFaissIndex.load(tmp_path / "sh")
    assert back.params == {"nprobe": 6} and np.array_equal(back.search(Q, 10)[1], many.search(Q, 10)[1])
    empty = faiss.clone_index(one.cpu_index())
    empty.reset()                                           # each shard carries its own centroids and codebooks
    assert many.nbytes == pytest.approx(one.nbytes + 3 * faiss.serialize_index(empty).nbytes, rel=0.01)
