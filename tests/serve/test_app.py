"""The API over a finished (smoke) run folder."""

import pytest
from fastapi.testclient import TestClient

from ltrr.serve.app import create_app
from ltrr.tasks.serve import load_pipeline


def test_api_search_and_feedback(run):
    run_dir, _, _ = run
    pipeline, docs = load_pipeline(run_dir, "lints")
    client = TestClient(create_app(pipeline, docs))
    assert client.get("/health").json()["status"] == "ok"
    r = client.post("/search", json={"query": 'love AND title:"x" (', "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) <= 5 and 0 < body["propensity"] <= 1
    clicked = [body["results"][0]["doc_id"]] if body["results"] else []
    fb = client.post("/feedback", json={"search_id": body["search_id"], "clicked": clicked})
    assert fb.status_code == 200 and fb.json()["labels_observed"] > 0
    assert client.post("/feedback", json={"search_id": body["search_id"], "clicked": []}).status_code == 404
    assert client.post("/search", json={"query": ""}).status_code == 422
    assert client.post("/search", json={"query": "x", "k": 1000}).status_code == 422
    r2 = client.post("/search", json={"query": "love"}).json()
    assert client.post("/feedback", json={"search_id": r2["search_id"], "clicked": ["nope"]}).status_code == 422


def test_unknown_policy_is_named(run):
    with pytest.raises(ValueError, match="'policy'"):
        load_pipeline(run[0], "nope")


def test_missing_run_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        load_pipeline(tmp_path, "lints")
