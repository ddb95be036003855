"""Label alignment and gradients of gathered in-batch negatives in a 2-process CPU DDP run (gloo).

Runs ``scripts/ddp_gather_check.py`` in a subprocess (DDP inside pytest would re-run pytest in the child ranks);
the script compares every rank's InfoNCE(gather=True) with the single-process reference over the global batch.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKS = {"loss", "grad_queries", "grad_docs", "argmax_alignment"}


def run_check(out: Path, *extra: str) -> tuple[int, dict, str]:
    cmd = [sys.executable, "scripts/ddp_gather_check.py", "--world-size", "2", "--batch", "4", "--group", "3",
           "--dim", "8", "--seed", "0", "--out", str(out), *extra]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)                  # own process group: killable with its ranks
    try:
        log, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, json.loads(out.read_text()), log


def test_gathered_negatives_match_single_process_reference(tmp_path):
    rc, report, log = run_check(tmp_path / "ok.json")
    assert rc == 0, log[-3000:]
    assert report["passed"] and set(report["checks"]) == CHECKS
    assert all(c["passed"] for c in report["checks"].values()), report["checks"]
    assert report["checks"]["argmax_alignment"]["targets"] == [[0, 3, 6, 9], [12, 15, 18, 21]]
    assert len(report["checks"]["loss"]["rank_losses"]) == 2


def test_check_fails_without_rank_offset(tmp_path):
    rc, report, log = run_check(tmp_path / "broken.json", "--break-alignment")
    assert rc == 1, log[-3000:]
    checks = report["checks"]
    assert not report["passed"] and set(checks) == CHECKS, report
    assert not checks["argmax_alignment"]["passed"] and not checks["loss"]["passed"]
    assert checks["argmax_alignment"]["targets"][1] == [0, 3, 6, 9]          # rank 1 points at rank 0's docs
    assert "check argmax_alignment: FAILED" in log
