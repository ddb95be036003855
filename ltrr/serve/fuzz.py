"""Schema-driven fuzzing of the app: schemathesis generates valid and invalid requests from the published OpenAPI
schema and sends them in process (ASGI); every status code is counted, 5xx responses are kept as examples."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

log = logging.getLogger(__name__)


def fuzz_app(app: Any, examples_per_case: int = 100, seed: int = 0, headers: dict[str, str] | None = None) -> dict:
    """Send ``examples_per_case`` generated requests per (operation, positive/negative mode).

    Parameters
    ----------
    app : fastapi.FastAPI
    examples_per_case : int
        Hypothesis examples per operation and generation mode.
    seed : int
        Hypothesis seed (the run is reproducible).
    headers : dict, optional
        Sent with every request (e.g. the bearer token).

    Returns
    -------
    dict
        ``requests``, ``status_5xx``, ``by_status`` (code -> count), ``by_operation`` and up to 10 ``failures``
        (method, path, status, body excerpt).
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    by_status: Counter = Counter()
    by_op: Counter = Counter()
    failures: list[dict] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = op.as_strategy(generation_mode=mode)
            except Exception as err:  # an operation without parameters has no negative cases
                log.debug("%s %s: no %s strategy (%s)", op.method, op.path, mode.value, err)
                continue

            @hseed(seed)
            @settings(max_examples=examples_per_case, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def send(case):
                resp = case.call(headers=headers)
                by_status[resp.status_code] += 1
                by_op[f"{op.method.upper()} {op.path}"] += 1
                if resp.status_code >= 500 and len(failures) < 10:
                    failures.append({"method": op.method.upper(), "path": op.path, "status": resp.status_code,
                                     "body": resp.text[:300]})

            try:
                send()
            except Unsatisfiable:  # e.g. negative cases of an operation that takes no input
                log.debug("%s %s: no %s cases", op.method, op.path, mode.value)
    n = sum(by_status.values())
    n5 = sum(c for s, c in by_status.items() if s >= 500)
    log.info("fuzz: %d requests, %d 5xx", n, n5)
    return {"requests": n, "status_5xx": n5, "by_status": {str(k): v for k, v in sorted(by_status.items())},
            "by_operation": dict(by_op), "failures": failures}
