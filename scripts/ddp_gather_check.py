"""Check label alignment and gradients of gathered in-batch negatives in a real multi-process CPU DDP run (gloo).

Usage::

    .venv/bin/python scripts/ddp_gather_check.py --out runs/ddp_gather.json \\
        [--world-size 2] [--batch 4] [--group 3] [--dim 8] [--seed 0] [--break-alignment]

A fixed, seeded global batch (queries ``(W*B, D)``, documents ``(W*B*G, D)``) is split over ``W`` ranks; each rank
computes ``InfoNCE(gather=True)`` on its slice and backprops through the all-gather. The single-process reference is
``InfoNCE(gather=False)`` over the whole batch. Checks:

* ``loss``: the mean of the rank losses equals the reference loss;
* ``grad_queries`` / ``grad_docs``: each rank's gradient divided by ``W`` equals its rows of the reference gradient
  (the all-gather backward sums every rank's contribution; DDP's averaging supplies the ``1/W``);
* ``argmax_alignment``: with queries equal to their positives, every rank's targets equal the argmax of its scores.

``--break-alignment`` drops the rank offset from the targets (a negative control: the checks must then fail).
Writes a JSON report to ``--out``; exits 0 only when every check passes.

It is a standalone script, run by the tests in a subprocess, because multi-process DDP started from inside pytest
misbehaves: Lightning's DDP launcher re-executes ``sys.argv`` (i.e. pytest itself) for the other ranks, and spawned
children re-import the parent's ``__main__``; a fresh interpreter with its own process group is also killable as a
whole if a collective hangs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ltrr.losses.contrastive import InfoNCE, contrastive_scores  # noqa: E402

log = logging.getLogger("ddp_gather_check")
TEMPERATURE = 0.05
ATOL = 1e-5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world-size", type=int, default=2)
    p.add_argument("--batch", type=int, default=4, help="queries per rank (B)")
    p.add_argument("--group", type=int, default=3, help="documents per query (G): 1 positive + G-1 negatives")
    p.add_argument("--dim", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="JSON report path")
    p.add_argument("--break-alignment", action="store_true", help="use targets without the rank offset")
    return p.parse_args(argv)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def global_batch(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded unit-norm queries ``(W*B, D)`` and documents ``(W*B*G, D)``, float32."""
    g = torch.Generator().manual_seed(args.seed)
    n = args.world_size * args.batch
    q = F.normalize(torch.randn(n, args.dim, generator=g), dim=-1)
    d = F.normalize(torch.randn(n * args.group, args.dim, generator=g), dim=-1)
    return q, d


def rank_loss(q: torch.Tensor, d: torch.Tensor, group: int, broken: bool) -> tuple[torch.Tensor, torch.Tensor,
                                                                                  torch.Tensor]:
    """Loss, targets and scores of one rank's slice against the gathered documents."""
    scores, targets = contrastive_scores(q, d, group, gather=True)
    if broken:
        targets = torch.arange(q.shape[0]) * group                  # the bug under test: no rank offset
        return InfoNCE.from_scores(scores, targets, TEMPERATURE), targets, scores
    return InfoNCE(temperature=TEMPERATURE, gather=True)(q, d, group), targets, scores


def worker(rank: int, args: argparse.Namespace, port: int, tmp: str) -> None:
    """One DDP rank: loss and gradients on its slice, and the argmax-alignment case; saved to ``tmp/rank{r}.pt``."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=args.world_size, timeout=timedelta(seconds=120))
    try:
        b, g = args.batch, args.group
        q_all, d_all = global_batch(args)
        q = q_all[rank * b:(rank + 1) * b].clone().requires_grad_()
        d = d_all[rank * b * g:(rank + 1) * b * g].clone().requires_grad_()
        loss, targets, _ = rank_loss(q, d, g, args.break_alignment)
        loss.backward()
        with torch.no_grad():                                          # queries equal to their positives
            _, align_targets, align_scores = rank_loss(d_all[::g][rank * b:(rank + 1) * b], d, g,
                                                       args.break_alignment)
        torch.save({"loss": loss.item(), "grad_q": q.grad, "grad_d": d.grad, "targets": targets,
                    "align_targets": align_targets, "align_argmax": align_scores.argmax(dim=1)},
                   Path(tmp) / f"rank{rank}.pt")
        dist.barrier()                                                 # no rank tears down while another still talks
    finally:
        dist.destroy_process_group()


def reference(args: argparse.Namespace) -> dict[str, torch.Tensor | float]:
    """Single-process InfoNCE over the whole global batch."""
    q, d = (t.clone().requires_grad_() for t in global_batch(args))
    loss = InfoNCE(temperature=TEMPERATURE, gather=False)(q, d, args.group)
    loss.backward()
    return {"loss": loss.item(), "grad_q": q.grad, "grad_d": d.grad}


def compare(args: argparse.Namespace, ref: dict, ranks: list[dict]) -> dict[str, dict]:
    """The four checks, each with ``passed`` and its error."""
    w, b, g = args.world_size, args.batch, args.group
    mean_loss = sum(r["loss"] for r in ranks) / w
    err_q = max((r["grad_q"] / w - ref["grad_q"][i * b:(i + 1) * b]).abs().max().item() for i, r in enumerate(ranks))
    err_d = max((r["grad_d"] / w - ref["grad_d"][i * b * g:(i + 1) * b * g]).abs().max().item()
                for i, r in enumerate(ranks))
    aligned = all(torch.equal(r["align_targets"], r["align_argmax"]) for r in ranks)
    return {
        "loss": {"passed": abs(mean_loss - ref["loss"]) <= ATOL, "abs_err": abs(mean_loss - ref["loss"]),
                 "reference": ref["loss"], "mean_rank_loss": mean_loss, "rank_losses": [r["loss"] for r in ranks]},
        "grad_queries": {"passed": err_q <= ATOL, "max_abs_err": err_q},
        "grad_docs": {"passed": err_d <= ATOL, "max_abs_err": err_d},
        "argmax_alignment": {"passed": aligned, "targets": [r["align_targets"].tolist() for r in ranks],
                             "argmax": [r["align_argmax"].tolist() for r in ranks]},
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    report: dict = {"config": {k: v for k, v in vars(args).items() if k != "out"}, "temperature": TEMPERATURE,
                    "atol": ATOL}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            log.info("spawning %d gloo ranks on 127.0.0.1:%d", args.world_size, port)
            try:
                mp.spawn(worker, args=(args, port, tmp), nprocs=args.world_size, join=True)
            except mp.ProcessExitedException:
                # gloo occasionally aborts in process-group teardown ("terminate called without an active
                # exception") after every rank has saved its results; only a missing result is a failure
                if not all((Path(tmp) / f"rank{r}.pt").exists() for r in range(args.world_size)):
                    raise
                log.warning("a rank aborted during teardown after saving its results; comparing them")
            ranks = [torch.load(Path(tmp) / f"rank{r}.pt") for r in range(args.world_size)]
        report["checks"] = compare(args, reference(args), ranks)
        report["passed"] = all(c["passed"] for c in report["checks"].values())
    except Exception as exc:                                           # a rank crashed: report it, exit 1
        log.exception("DDP run failed")
        report.update(checks={}, passed=False, error=f"{type(exc).__name__}: {exc}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    for name, check in report["checks"].items():
        (log.info if check["passed"] else log.error)("check %s: %s", name, "passed" if check["passed"] else
                                                      f"FAILED {json.dumps(check)}")
    (log.info if report["passed"] else log.error)("%s; report in %s", "all checks passed" if report["passed"]
                                                  else "some checks FAILED", out)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
