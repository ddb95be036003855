"""Lightning corpus encoding: in-process single device, shard merging, and a 2-process CPU DDP run of the script."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ltrr.encoders.dense import DenseEncoder
from ltrr.training.encode import encode_corpus, merge_shards

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [f"title {i} " + "word " * (i % 7 + 1) + f"doc {i}" for i in range(37)]


def tiny():
    return DenseEncoder.tiny(device="cpu", max_length=32)   # what `--model tiny` builds in every rank


def test_single_device_predict_equals_encode(tmp_path):
    ref = tiny().encode(TEXTS)
    emb, info = encode_corpus(TEXTS, tiny(), tmp_path, devices=1, batch_size=8, accelerator="cpu")
    assert info["accelerator"] == "cpu" and info["precision"] == "32-true" and info["world_size"] == 1
    assert emb.shape == (37, 32) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, ref, atol=1e-5)
    assert np.array_equal(np.load(tmp_path / "ids-rank000.npy"), np.arange(37))


def write_shard(d, r, ids, emb):
    np.save(d / f"ids-rank{r:03d}.npy", np.asarray(ids, np.int64))
    np.save(d / f"emb-rank{r:03d}.npy", np.asarray(emb, np.float32))


def test_merge_drops_padding_duplicates_and_ignores_stale_ranks(tmp_path):
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    write_shard(tmp_path, 0, [0, 2, 4], x[[0, 2, 4]])
    write_shard(tmp_path, 1, [1, 3, 0], x[[1, 3, 0]])           # row 0 repeated, as DistributedSampler pads
    write_shard(tmp_path, 2, [1], [[99, 99]])                   # stale shard of an earlier 3-rank run
    assert np.array_equal(merge_shards(tmp_path, 5, world_size=2), x)


def test_merge_reports_missing_rows_and_bad_ids(tmp_path):
    x = np.ones((4, 2), np.float32)
    write_shard(tmp_path, 0, [0, 1, 3], x[:3])
    with pytest.raises(ValueError, match=r"1 of 4 rows missing .*\[2\]"):
        merge_shards(tmp_path, 4)
    write_shard(tmp_path, 0, [0, 1, 9], x[:3])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
        merge_shards(tmp_path, 4)
    with pytest.raises(FileNotFoundError, match="emb-rank001"):
        merge_shards(tmp_path, 4, world_size=2)


def test_script_two_cpu_processes_ddp_matches_single_process(tmp_path):
    data = tmp_path / "beir"
    data.mkdir()
    with open(data / "corpus.jsonl", "w") as fh:
        for i, t in enumerate(TEXTS):
            fh.write(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n")
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "scripts" / "encode_corpus.py"), "--data", str(data), "--out", str(out),
           "--model", "tiny", "--devices", "2", "--batch-size", "8", "--accelerator", "cpu"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)              # own process group: killable with its DDP child
    try:
        log, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, log[-3000:]
    assert "GLOBAL_RANK: 1" in log and "gloo" in log
    ids = [np.load(out / f"ids-rank{r:03d}.npy") for r in range(2)]
    assert all(len(i) for i in ids) and np.array_equal(np.sort(np.concatenate(ids)), np.arange(len(TEXTS)))
    np.testing.assert_allclose(np.load(out / "embeddings.npy"), tiny().encode(TEXTS), atol=1e-5)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["n"] == len(TEXTS) and manifest["dim"] == 32
    assert json.loads((out / "doc_ids.json").read_text()) == [f"d{i}" for i in range(len(TEXTS))]
