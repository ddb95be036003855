"""Dense encoder: longest-first batching keeps input order; max_length is clamped to the model's positions."""

import numpy as np
import pytest

from ltrr.encoders.dense import DenseEncoder

TEXTS = ["a", "a much longer text with many more words than the others in this list", "mid length text", "",
         "another one", "x " * 200]


def test_batched_encoding_equals_one_at_a_time_in_input_order():
    enc = DenseEncoder.tiny(device="cpu", max_length=32, batch_size=2)
    together = enc.encode(TEXTS)
    alone = np.vstack([enc.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert enc.encode([]).shape == (0, enc.dim)


def test_max_length_beyond_the_position_table_is_clamped(caplog):
    with caplog.at_level("WARNING"):
        enc = DenseEncoder.tiny(device="cpu", max_length=10_000)
    assert enc.max_length == 128 and "exceeds the model's 128 positions" in caplog.text
    assert enc.encode(["word " * 500]).shape == (1, enc.dim)
    assert "len128" in enc.model_id


def test_onnx_backend_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    torch_enc = DenseEncoder.tiny(device="cpu", max_length=32)
    onnx_enc = DenseEncoder.tiny(device="cpu", max_length=32, backend="onnx", onnx_cache=str(tmp_path))
    assert onnx_enc.onnx is not None and list(tmp_path.glob("*.onnx"))
    np.testing.assert_allclose(onnx_enc.encode(TEXTS), torch_enc.encode(TEXTS), atol=1e-5)
    with pytest.raises(ValueError, match="backend"):
        DenseEncoder.tiny(device="cpu", backend="tensorrt")
    int8 = DenseEncoder.tiny(device="cpu", max_length=32, backend="onnx-int8", onnx_cache=str(tmp_path))
    assert int8.onnx.path.name.endswith(".int8.onnx") and int8.model_id.endswith("|int8")  # its own cache key
    got, want = int8.encode(TEXTS), torch_enc.encode(TEXTS)
    assert not np.allclose(got, want, atol=1e-6)  # another graph ran
    assert np.min(np.sum(got * want, axis=1)) > 0.95  # unit vectors pointing (nearly) the same way


def test_single_text_encodes_are_remembered():
    enc = DenseEncoder.tiny(single_cache=2)
    calls = []
    enc.model.register_forward_hook(lambda *a: calls.append(1))
    first = enc.encode(["red car"])
    again = enc.encode(["red car"])
    assert len(calls) == 1 and np.array_equal(first, again)
    again[0, 0] = 9.0  # callers get copies
    assert np.array_equal(enc.encode(["red car"]), first)
    enc.encode(["a"]), enc.encode(["b"])  # the LRU keeps 2: "red car" is evicted
    enc.encode(["red car"])
    assert len(calls) == 4
    enc.encode(["a", "b"])  # batches are never served from it
    assert len(calls) == 5
