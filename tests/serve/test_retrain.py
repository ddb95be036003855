"""The neural policy retrains off the request path in the server: ``/feedback`` only marks the retrain as due, a
worker thread fits a copy of the network, and the install step swaps it in and rebuilds the posterior from every
label buffered by then (including those that arrived during the fit)."""

import numpy as np
import torch
from fastapi.testclient import TestClient

from ltrr.serve.app import ServeSettings, create_app
from ltrr.tasks.serve import load_pipeline

QUERIES = ["love", "rock", "night drive", "summer", "rain", "dance", "love", "blue", "fire", "moon"]


def serve_clicks(client, n=len(QUERIES)):
    for i, q in enumerate(QUERIES[:n]):
        body = client.post("/search", json={"query": q, "k": 5}).json()
        clicked = [body["results"][0]["doc_id"]] if body["results"] and i % 2 == 0 else []
        assert client.post("/feedback", json={"impression_id": body["impression_id"],
                                              "clicked": clicked}).status_code == 200


def test_retrain_runs_off_the_request_and_installs(run, monkeypatch):
    pipeline, docs = load_pipeline(run[0], "neural_linear_ts")
    pol = pipeline.policy
    pol.train_every = 2
    before = pol.retrains
    weights = [p.detach().clone() for p in pol.net.parameters()]

    def in_request():
        raise AssertionError("retrained inside /feedback")
    monkeypatch.setattr(pol, "retrain", in_request)
    app = create_app(pipeline, docs, ServeSettings())
    retrainer = app.state.retrainer
    assert retrainer.enabled and pol.defer_retrain
    serve_clicks(TestClient(app))
    retrainer.wait(60)
    assert retrainer.completed >= 1 and retrainer.failed == 0
    assert pol.retrains == before + retrainer.completed
    assert any(not torch.equal(a, b.detach()) for a, b in zip(weights, pol.net.parameters()))
    # the installed posterior is the batch fit of the new network over the whole buffer
    live = {k: np.array(v, copy=True) for k, v in pol.post.state_dict().items()}
    pol._install_network()
    for k, v in pol.post.state_dict().items():
        np.testing.assert_allclose(live[k], v, rtol=1e-9, atol=1e-9, err_msg=k)


def test_foreground_retrain_when_switched_off(run):
    pipeline, docs = load_pipeline(run[0], "neural_linear_ts")
    pol = pipeline.policy
    pol.train_every = 2
    before = pol.retrains
    app = create_app(pipeline, docs, ServeSettings(background_retrain=False))
    assert app.state.retrainer is None and not pol.defer_retrain
    serve_clicks(TestClient(app))
    assert pol.retrains > before  # retrained inside the requests, nothing to wait for


def test_policies_without_a_network_are_left_alone(run):
    pipeline, docs = load_pipeline(run[0], "lints")
    app = create_app(pipeline, docs, ServeSettings())
    assert not app.state.retrainer.enabled
    serve_clicks(TestClient(app), 4)
