"""scripts/report.py: paired differences against a baseline run."""

import json
import runpy

import pytest

from tests.conftest import ROOT

NS = runpy.run_path(str(ROOT / "scripts" / "report.py"), run_name="not_main")
METRICS = ("recall_at_budget", "hit_at_budget", "ndcg@10", "cumulative_regret", "mean_union_size")


def metrics(ndcg):
    return {"uniform": {"per_seed": {str(s): {k: (v if k == "ndcg@10" else 1.0) for k in METRICS}
                                     for s, v in enumerate(ndcg)}}, "meta": {}}


def test_baseline_table_gives_paired_differences():
    rows = NS["baseline_table"](metrics([0.7, 0.72, 0.71]), metrics([0.5, 0.5, 0.52]))
    cells = rows[2].split(" | ")
    assert cells[0] == "| uniform" and cells[3].startswith("+0.2033 ± ")
    assert float(cells[3].split("± ")[1]) == pytest.approx(4.303 * 0.015275 / 3 ** 0.5, abs=1e-3)
    assert cells[1] == "+0.0000 ± 0.0000"
