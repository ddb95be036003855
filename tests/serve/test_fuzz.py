"""Schema-driven fuzzing of the API (schemathesis over the published OpenAPI schema, valid and invalid inputs):
no response is a 5xx. The benchmark (scripts/bench/serve.py) runs >= 10,000 such requests."""

from ltrr.serve.app import ServeSettings, create_app
from ltrr.serve.fuzz import fuzz_app
from ltrr.tasks.serve import load_pipeline


def test_no_5xx_on_generated_requests(run):
    pipeline, docs = load_pipeline(run[0], "lints")
    app = create_app(pipeline, docs, ServeSettings(feedback_rate=1e6, feedback_burst=1e6, token="t"))
    out = fuzz_app(app, examples_per_case=40, seed=1, headers={"authorization": "Bearer t"})
    assert out["status_5xx"] == 0, out["failures"]
    assert out["requests"] >= 150 and {"POST /search", "POST /feedback"} <= set(out["by_operation"])
    assert "200" in out["by_status"] and "422" in out["by_status"]  # both valid and invalid requests were sent
