"""The API over a finished (smoke) run folder: contract, validation errors naming the field, idempotent
feedback, the token gate, the rate limit, metrics and the per-intent arm panel."""

import pytest
from fastapi.testclient import TestClient

from ltrr.serve.app import ServeSettings, create_app
from ltrr.tasks.serve import load_pipeline, settings_from
from tests.conftest import compose_cfg


@pytest.fixture()
def app_of(run):
    def make(**settings):
        pipeline, docs = load_pipeline(run[0], "lints")
        return TestClient(create_app(pipeline, docs, ServeSettings(**settings))), pipeline
    return make


def search(client, query="love", k=5, **kw):
    r = client.post("/search", json={"query": query, "k": k, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_search_contract(app_of):
    client, pipeline = app_of()
    assert client.get("/health").json()["status"] == "ok"
    body = search(client, 'love AND title:"x" (', k=5, hour=21, user_id="u1")  # query syntax is plain text
    assert len(body["results"]) <= 5 and 0 < body["propensity"] <= 1 and body["intent"]
    assert list(body["allocation"]) == list(pipeline.arms) and body["policy"] == "lints"
    assert body["results"], "the smoke world finds something for 'love'"
    for hit in body["results"]:
        assert hit["arms"] and all(a["arm"] in pipeline.arms and a["rank"] >= 1 for a in hit["arms"])
        assert all(a["rank"] <= body["allocation"][a["arm"]] for a in hit["arms"])  # only allocated depths enter
    schema = client.get("/openapi.json").json()
    assert {"/search", "/feedback", "/health", "/metrics", "/arms"} <= set(schema["paths"])


def test_feedback_is_idempotent_and_checked(app_of):
    client, _ = app_of()
    body = search(client)
    doc = body["results"][0]["doc_id"]
    fb = client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": [doc], "dwell_ms": 1200})
    assert fb.status_code == 200 and fb.json()["labels_observed"] > 0 and not fb.json()["duplicate"]
    again = client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": []})
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["seq"] == fb.json()["seq"]
    r = client.post("/feedback", json={"impression_id": "nope", "clicked": []})
    assert r.status_code == 404 and r.json()["field"] == "impression_id"
    other = search(client)
    r = client.post("/feedback", json={"impression_id": other["impression_id"], "clicked": ["not-shown"]})
    assert r.status_code == 422 and r.json()["field"] == "clicked"


@pytest.mark.parametrize("payload, field", [
    ({"query": ""}, "query"),
    ({"query": "   "}, "query"),
    ({"query": "x" * 10_000}, "query"),
    ({"query": "a\x00b"}, "query"),
    ({"query": "a\x1b[31m"}, "query"),
    ({"query": "x", "k": 1000}, "k"),
    ({"query": "x", "k": "ten"}, "k"),
    ({"query": 5}, "query"),
    ({"query": "x", "hour": 25}, "hour"),
    ({"query": "x", "user_id": "../../etc/passwd"}, "user_id"),
    ({"query": "x", "surprise": 1}, "surprise"),
    ({}, "query"),
])
def test_bad_search_input_names_the_field(app_of, payload, field):
    client, _ = app_of()
    r = client.post("/search", json=payload)
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_bad_bodies_are_4xx(app_of):
    client, _ = app_of(max_body_bytes=4096)
    r = client.post("/search", content=b'{"query": "caf\xe9"}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "body"  # not UTF-8
    r = client.post("/search", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/search", content=b'{"query": "' + b"x" * 5000 + b'"}', headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"
    r = client.post("/feedback", json={"impression_id": "a/b", "clicked": []})
    assert r.status_code == 422 and r.json()["field"] == "impression_id"
    r = client.post("/feedback", json={"impression_id": "abc", "clicked": "doc"})
    assert r.status_code == 422 and r.json()["field"] == "clicked"
    r = client.post("/feedback", json={"impression_id": "abc", "clicked": [], "dwell_ms": -1})
    assert r.status_code == 422 and r.json()["field"] == "dwell_ms"


def test_token_gate(app_of):
    client, _ = app_of(token="s3cret")
    body = search(client)  # search stays open
    r = client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": []})
    assert r.status_code == 401 and r.json()["field"] == "authorization"
    r = client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": []},
                    headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": []},
                    headers={"authorization": "Bearer s3cret"})
    assert r.status_code == 200
    assert client.post("/admin/snapshot").status_code == 401


def test_non_loopback_needs_a_token(monkeypatch):
    monkeypatch.delenv("LTRR_TOKEN", raising=False)
    cfg = compose_cfg("serve", ["host=0.0.0.0"])
    with pytest.raises(ValueError, match="'host'"):
        settings_from(cfg)
    assert settings_from(compose_cfg("serve", ["host=0.0.0.0", "token=t"])).token == "t"
    assert settings_from(compose_cfg("serve")).token is None


def test_feedback_rate_limit(app_of):
    client, _ = app_of(feedback_rate=0.01, feedback_burst=2)
    codes = []
    for _ in range(4):
        body = search(client)
        codes.append(client.post("/feedback", json={"impression_id": body["impression_id"], "clicked": []}).status_code)
    assert codes[:2] == [200, 200] and codes[2:] == [429, 429]


def test_metrics_and_arm_panel(app_of):
    client, pipeline = app_of()
    for q in ("love", "rock", "love"):
        body = search(client, q)
        client.post("/feedback", json={"impression_id": body["impression_id"],
                                       "clicked": [body["results"][0]["doc_id"]] if body["results"] else []})
    text = client.get("/metrics").text
    assert 'ltrr_requests_total{endpoint="/search",status="200"} 3.0' in text
    assert 'ltrr_search_stage_seconds_count{stage="retrieve"} 3.0' in text
    assert "ltrr_arm_candidates_total" in text and "ltrr_feedback_events_total" in text
    arms = client.get("/arms").json()
    assert arms["searches"] == 3 and arms["arms"] == list(pipeline.arms)
    pooled = arms["intents"]["all"]
    assert pooled["searches"] == 3 and pooled["feedback"] == 3 and abs(sum(pooled["share"].values()) - 1) < 1e-3
    assert client.get("/").text.startswith("<!doctype html>")


def test_unknown_policy_is_named(run):
    with pytest.raises(ValueError, match="'policy'"):
        load_pipeline(run[0], "nope")


def test_missing_run_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        load_pipeline(tmp_path, "lints")


def test_the_trained_state_is_restored_without_pickle(run):
    import numpy as np

    from ltrr.utils.statefile import load_state

    state = run[0] / "state" / "lints_seed0" / "state.npz"
    assert state.is_file() and not list((run[0] / "state").rglob("*.pkl"))
    saved = load_state(state)
    pipeline, _ = load_pipeline(run[0], "lints")
    assert saved["policy"]["n"].sum() > 0 and pipeline.policy.t == saved["policy"]["t"] > 0
    np.testing.assert_array_equal(pipeline.policy.state_dict()["zz"], saved["policy"]["zz"])
    assert pipeline.state_dict()["arms"]["memory"] == saved["arms"]["memory"]


def test_serve_config_takes_run_or_run_dir():
    assert compose_cfg("serve", ["run=runs/x"]).run_dir == "runs/x"
    assert compose_cfg("serve", ["run_dir=runs/y"]).run_dir == "runs/y"
    assert compose_cfg("serve", ["run=runs/x", "policy_name=lints"]).state_dir == "runs/x/serve/lints"


def test_start_up_logs_the_faiss_path(run, caplog):
    """No GPU here: the dense arm's faiss index falls back to the CPU and says so (the GPU branches are tested in
    tests/indexes/test_faiss_index.py with a faked faiss)."""
    import logging

    with caplog.at_level(logging.INFO, logger="ltrr.indexes.faiss_index"):
        load_pipeline(run[0], "lints")
    assert any("on CPU" in r.getMessage() for r in caplog.records)
