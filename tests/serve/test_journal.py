"""Durability of served feedback: snapshot + journal replay applies every acknowledged event again (the learned
state matches the live one, the learned rank stage's training buffer included: the journal carries its features),
idempotency survives a restart, a torn last line is cut, corruption is named.

Replay re-applies feedback, not searches: the policy's decision counter and RNG (advanced by the searches after
the snapshot) are not part of the comparison, and the neural policy's network (retrained on a schedule of
decisions) is compared through its label buffer."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ltrr.serve.app import ServeSettings, create_app
from ltrr.serve.journal import FeedbackJournal
from ltrr.tasks.serve import load_pipeline

QUERIES = ["love", "rock", "night drive", "love", "summer", "rain", "dance"]


def assert_same(a, b, path="state"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=path)
    else:
        assert a == b, path


def learned(state, policy):
    """The part of a pipeline state that feedback alone determines."""
    pol = state["policy"]
    pol = {"buffer": pol["buffer"]} if policy == "neural_linear_ts" else {k: v for k, v in pol.items() if k != "t"}
    rank = {k: v for k, v in state["reranker"].items() if k in ("X", "clicks", "sizes", "swaps")}
    return {"policy": pol, "arms": state["arms"], "featurizer": state["featurizer"], "reranker": rank}


def serve_some(run_dir, state_dir, policy):
    pipeline, docs = load_pipeline(run_dir, policy)
    journal = FeedbackJournal(state_dir)
    journal.recover(pipeline)
    client = TestClient(create_app(pipeline, docs, ServeSettings(snapshot_every=0), journal))
    impressions = []
    for i, q in enumerate(QUERIES):
        body = client.post("/search", json={"query": q, "k": 5}).json()
        clicked = [body["results"][i % len(body["results"])]["doc_id"]] if body["results"] and i % 3 else []
        r = client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": clicked})
        assert r.status_code == 200 and r.json()["seq"] == i + 1
        impressions.append(body["impression_id"])
        if i == 2:
            assert client.post("/admin/snapshot").json() == {"seq": 3}
    journal.close()  # then the process "dies": no snapshot at the end
    return pipeline, impressions


@pytest.mark.parametrize("policy", ["lints", "neural_linear_ts"])
def test_snapshot_plus_replay_restores_the_live_state(run, tmp_path, policy):
    live, impressions = serve_some(run[0], tmp_path, policy)
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert len(lines) == len(QUERIES) - 3  # the snapshot emptied the journal
    assert len(live.state_dict()["reranker"]["sizes"]) >= 3  # the learned rank stage buffered clicked impressions
    restored, docs = load_pipeline(run[0], policy)
    journal = FeedbackJournal(tmp_path)
    rec = journal.recover(restored)
    assert (rec.snapshot_seq, rec.replayed, rec.torn_tail) == (3, 4, False)
    assert_same(learned(live.state_dict(), policy), learned(restored.state_dict(), policy))
    with pytest.raises(AssertionError):  # the served feedback did change the trained state
        assert_same(learned(load_pipeline(run[0], policy)[0].state_dict(), policy),
                    learned(restored.state_dict(), policy))
    client = TestClient(create_app(restored, docs, ServeSettings(), journal))
    r = client.post("/feedback", json={"impression_id": impressions[1], "clicked": []})  # before the snapshot
    assert r.status_code == 200 and r.json()["duplicate"] and r.json()["seq"] == 2
    r = client.post("/feedback", json={"impression_id": impressions[-1], "clicked": []})  # replayed from the journal
    assert r.json()["duplicate"] and r.json()["seq"] == len(QUERIES)


def test_torn_tail_is_cut_and_corruption_is_named(run, tmp_path):
    live, _ = serve_some(run[0], tmp_path, "lints")
    path = tmp_path / "journal.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + b'{"seq": 8, "impression_id": "x", "ev')  # killed mid-write: never acknowledged
    restored, _ = load_pipeline(run[0], "lints")
    rec = FeedbackJournal(tmp_path).recover(restored)
    assert rec.torn_tail and rec.replayed == 4 and path.read_bytes() == good
    assert_same(learned(live.state_dict(), "lints"), learned(restored.state_dict(), "lints"))
    lines = good.split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b"{oops", *lines[1:]]))
    with pytest.raises(ValueError, match=r"journal.jsonl:2: corrupt"):
        FeedbackJournal(tmp_path).recover(load_pipeline(run[0], "lints")[0])


class _Counting:
    """A stand-in pipeline: counts applied events."""

    def __init__(self):
        self.applied = []

    def apply(self, fb):
        self.applied.append(fb.clicked)


def _event(i):
    from ltrr.pipeline.pipeline import Feedback
    from ltrr.types import Decision, Query

    return Feedback(Query(f"q{i}", "text"), np.zeros(3), Decision((10, 0), 0.5, "p"), {"a": 1.0, "b": np.inf},
                    ["d1", "d2"], [f"d{i}"])


def test_a_failed_write_leaves_no_partial_line(tmp_path, monkeypatch):
    import os

    journal = FeedbackJournal(tmp_path)
    journal.append("i1", _event(1))
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        journal.append("i2", _event(2))
    monkeypatch.setattr(os, "fsync", real)
    assert journal.seq == 1 and "i2" not in journal.applied
    journal.append("i3", _event(3))
    pipe = _Counting()
    rec = FeedbackJournal(tmp_path).recover(pipe)
    assert (rec.replayed, rec.torn_tail) == (2, False) and pipe.applied == [["d1"], ["d3"]]


class _Stateful(_Counting):
    """A stand-in pipeline with a state dict (what a snapshot saves)."""

    def state_dict(self):
        return {"n": np.array(len(self.applied))}

    def load_state_dict(self, state):
        self.applied = [None] * int(state["n"])


def test_a_snapshot_rotates_the_journal_and_drops_it_only_once_written(tmp_path):
    journal = FeedbackJournal(tmp_path)
    live = _Stateful()
    for i in range(1, 4):
        journal.append(f"i{i}", _event(i))
        live.apply(_event(i))
    write = journal.begin_snapshot(live)  # under the lock: copy + rotate
    assert not (tmp_path / "journal.jsonl").exists() and (tmp_path / "journal.000000000003.jsonl").exists()
    live.apply(_event(99))  # a change after the copy is not in this snapshot
    journal.append("i4", _event(4))  # later events go to a fresh journal
    # killed before the write: the rotated segment and the new journal are both replayed
    pipe = _Stateful()
    rec = FeedbackJournal(tmp_path).recover(pipe)
    assert (rec.snapshot_seq, rec.replayed) == (0, 4) and pipe.applied == [["d1"], ["d2"], ["d3"], ["d4"]]
    assert write() == 3  # the write, off the lock: snapshot first, then the segments it covers go
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.jsonl", "snapshot.npz"]
    pipe = _Stateful()
    rec = FeedbackJournal(tmp_path).recover(pipe)
    assert (rec.snapshot_seq, rec.replayed) == (3, 1) and len(pipe.applied) == 4 and pipe.applied[-1] == ["d4"]


def test_automatic_snapshots_are_written_off_the_lock(run, tmp_path):
    pipeline, docs = load_pipeline(run[0], "lints")
    journal = FeedbackJournal(tmp_path)
    journal.recover(pipeline)
    app = create_app(pipeline, docs, ServeSettings(snapshot_every=3), journal)
    client = TestClient(app)
    for i, q in enumerate(QUERIES):
        body = client.post("/search", json={"query": q, "k": 5}).json()
        clicked = [body["results"][0]["doc_id"]] if body["results"] and i % 2 else []
        assert client.post("/feedback", json={"impression_id": body["impression_id"],
                                              "clicked": clicked}).status_code == 200
        app.state.snapshots.wait(30)
    assert app.state.snapshots.completed == 2 and app.state.snapshots.failed == 0
    journal.close()
    restored, _ = load_pipeline(run[0], "lints")
    rec = FeedbackJournal(tmp_path).recover(restored)
    assert (rec.snapshot_seq, rec.replayed) == (6, len(QUERIES) - 6)
    assert_same(learned(pipeline.state_dict(), "lints"), learned(restored.state_dict(), "lints"))
