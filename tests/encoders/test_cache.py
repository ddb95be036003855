"""EmbeddingCache: hit/miss by model and content, mmap on hit, atomic files, corrupt entries re-encoded."""

import json
import logging

import numpy as np
import pytest

from ltrr.encoders.cache import EmbeddingCache, texts_digest

TEXTS = ["red guitar solo", "quiet piano", "late night jazz", "drum and bass"]


class Counting:
    """Wraps an encoder and counts encode calls."""

    def __init__(self, enc, model_id=None):
        self.enc, self.calls = enc, 0
        self.model_id = model_id or enc.model_id

    def encode(self, texts, progress=False):
        self.calls += 1
        return self.enc.encode(texts, progress=progress)


@pytest.fixture()
def enc(tiny_encoder):
    return Counting(tiny_encoder)


def test_second_lookup_is_a_memory_mapped_hit(tmp_path, enc, caplog):
    cache = EmbeddingCache(tmp_path / "c")
    with caplog.at_level(logging.INFO, logger="ltrr.encoders.cache"):
        first = cache.get_or_encode(enc, TEXTS, progress=False)
        second = cache.get_or_encode(enc, TEXTS, progress=False)
    assert enc.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    assert "cache miss" in caplog.text and "cache hit" in caplog.text
    assert isinstance(second, np.memmap) and second.dtype == np.float32 and second.shape == (4, 32)
    np.testing.assert_allclose(second, enc.enc.encode(TEXTS), atol=1e-6)
    np.testing.assert_array_equal(first, second)
    files = sorted(p.suffix for p in (tmp_path / "c").iterdir())
    assert files == [".json", ".npy"]                       # no temporary files left behind
    meta = json.loads(next((tmp_path / "c").glob("*.json")).read_text())
    assert meta["model_id"] == enc.model_id and (meta["n"], meta["dim"]) == (4, 32) and "created" in meta


def test_key_depends_on_model_and_on_text_order(tmp_path, enc):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_encode(enc, TEXTS, progress=False)
    cache.get_or_encode(enc, TEXTS[::-1], progress=False)
    cache.get_or_encode(Counting(enc.enc, model_id="other-model"), TEXTS, progress=False)
    assert cache.misses == 3 and cache.hits == 0 and len(list(tmp_path.glob("*.npy"))) == 3
    assert texts_digest(["ab", "c"]) != texts_digest(["a", "bc"])


@pytest.mark.parametrize("damage", ["truncate_npy", "garbage_json", "wrong_model", "wrong_shape", "no_sidecar"])
def test_damaged_entry_warns_and_is_encoded_again(tmp_path, enc, caplog, damage):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_encode(enc, TEXTS, progress=False)
    npy, side = next(tmp_path.glob("*.npy")), next(tmp_path.glob("*.json"))
    meta = json.loads(side.read_text())
    if damage == "truncate_npy":
        npy.write_bytes(npy.read_bytes()[:100])
    elif damage == "garbage_json":
        side.write_text("{not json")
    elif damage == "wrong_model":
        side.write_text(json.dumps({**meta, "model_id": "someone-else"}))
    elif damage == "wrong_shape":
        np.save(npy, np.zeros((3, 32), np.float32))
    else:
        side.unlink()
    with caplog.at_level(logging.WARNING):
        out = cache.get_or_encode(enc, TEXTS, progress=False)
    assert enc.calls == 2 and cache.hits == 0
    assert (damage == "no_sidecar") or "unusable" in caplog.text
    np.testing.assert_allclose(out, enc.enc.encode(TEXTS), atol=1e-6)
    again = cache.get_or_encode(enc, TEXTS, progress=False)       # repaired on disk
    assert enc.calls == 2 and cache.hits == 1 and again.shape == (4, 32)


def test_encoder_returning_wrong_rows_is_an_error(tmp_path):
    class Bad:
        model_id = "bad"

        def encode(self, texts, progress=False):
            return np.zeros((len(texts) - 1, 8), np.float32)

    with pytest.raises(ValueError, match=r"expected \(4, dim\)"):
        EmbeddingCache(tmp_path).get_or_encode(Bad(), TEXTS)
    assert not list(tmp_path.iterdir())
