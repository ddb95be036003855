"""GPU check of the reranking paths: what runs where, and how fast, on the card this runs on.

    python scripts/gpu_check.py --model-config DIR --out gpu_check.json

``--model-config`` is a folder with a BERT cross-encoder's ``config.json`` and tokenizer (e.g. a trained
reranker's folder); the weights are drawn at random from that config, so only shapes, not quality, are checked
(timings do not depend on the values). It needs only torch and transformers, so it runs on a bare GPU image.

1. **Fallback**: asking a CUDA cross-encoder for the ONNX int8 backend falls back to PyTorch (logged).
2. **Rerank latency**: scoring 20 (query, track) pairs, p50/p99 over ``--calls`` calls, in float32 and bfloat16.
3. **Distillation** (:mod:`ltrr.training.distill_cross`): a 128-wide 2-layer student trained on ``--lists`` lists
   of 30 pairs scored by the teacher on the card; pairs per second for teacher scoring and for training.

Without a GPU it runs the same steps on the CPU with a tenth of the work and says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

log = logging.getLogger("gpu_check")


def texts(tokenizer, n: int, words: tuple[int, int], rng: np.random.Generator) -> list[str]:
    vocab = [t for t in tokenizer.get_vocab() if t.isalpha() and len(t) > 2]
    return [" ".join(rng.choice(vocab, size=int(rng.integers(*words)))) for _ in range(n)]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-config", type=Path, required=True)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--lists", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from ltrr.encoders.cross import CrossEncoder
    from ltrr.training.distill_cross import ScoredList, distill_cross_encoder, student_from_teacher

    cuda = torch.cuda.is_available()
    scale = 1 if cuda else 10
    report: dict = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
                    "cuda": torch.version.cuda}
    log.info("running on %s", report["device"])
    cfg = AutoConfig.from_pretrained(args.model_config)
    cfg.num_labels = 1
    tok = AutoTokenizer.from_pretrained(args.model_config)
    torch.manual_seed(0)
    teacher = CrossEncoder(AutoModelForSequenceClassification.from_config(cfg), tok, max_length=64, device="auto",
                           model_id="random-" + cfg.model_type, backend="onnx-int8" if cuda else "torch")
    report["onnx_on_gpu_falls_back"] = bool(cuda and teacher.onnx is None)
    rng = np.random.default_rng(0)
    queries, docs = texts(tok, 64, (1, 5), rng), texts(tok, 4096, (8, 30), rng)

    def latency(ce: CrossEncoder, calls: int) -> dict:
        ms = []
        for i in range(calls):
            head = [docs[j] for j in rng.integers(len(docs), size=20)]
            t = time.perf_counter()
            ce.score(queries[i % len(queries)], head)
            if cuda:
                torch.cuda.synchronize()
            ms.append((time.perf_counter() - t) * 1e3)
        ms = ms[min(10, len(ms) // 2):]
        return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}

    report["rerank_20_pairs"] = {"float32": latency(teacher, args.calls // scale)}
    if cuda:
        teacher.model.to(torch.bfloat16)
        report["rerank_20_pairs"]["bfloat16"] = latency(teacher, args.calls)
        teacher.model.to(torch.float32)

    n_lists = args.lists // scale
    t = time.perf_counter()
    lists = []
    for i in range(n_lists):
        head = [docs[j] for j in rng.integers(len(docs), size=30)]
        q = queries[i % len(queries)]
        lists.append(ScoredList(q, head, teacher.score(q, head)))
    dt = time.perf_counter() - t
    report["teacher_scoring_pairs_per_s"] = round(30 * n_lists / dt, 1)
    student = student_from_teacher(teacher, 128, 2, 2, max_length=64)
    t = time.perf_counter()
    losses = distill_cross_encoder(student, lists, epochs=2, lists_per_batch=32, device="auto", progress=False)
    dt = time.perf_counter() - t
    report["distill"] = {"lists": n_lists, "epochs": 2, "train_pairs_per_s": round(2 * 30 * n_lists / dt, 1),
                         "epoch_loss": [round(x, 5) for x in losses], "student_device_after": str(student.device)}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
