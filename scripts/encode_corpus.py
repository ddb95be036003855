"""Encode a BEIR corpus with Lightning predict on one or more devices; write shards, the merged matrix and a manifest.

Usage::

    .venv/bin/python scripts/encode_corpus.py --data /work/shared/data/beir/scifact --out runs/emb/scifact \\
        [--model packaged:all-MiniLM-L6-v2|tiny|HF_NAME_OR_DIR] [--devices N] [--batch-size B] [--limit N]

Writes ``OUT/emb-rank*.npy``, ``OUT/ids-rank*.npy``, ``OUT/embeddings.npy`` (float32, corpus order),
``OUT/doc_ids.json`` and ``OUT/manifest.json``. With ``--devices > 1`` Lightning runs DDP (NCCL on GPUs, gloo on
CPU) by starting this script again for the other ranks; rank 0 merges.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from ltrr.data.beir import iter_corpus
from ltrr.encoders.dense import PACKAGED, DenseEncoder
from ltrr.training.encode import encode_corpus

log = logging.getLogger("encode_corpus")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="BEIR folder with corpus.jsonl")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", default=PACKAGED, help="'tiny' (random small BERT, seed 0), packaged name, HF name/dir")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--limit", type=int, default=None, help="encode only the first N documents")
    p.add_argument("--max-length", type=int, default=None,
                   help="token limit (default: 32 for tiny, 64 otherwise, as in configs/encoder/*.yaml)")
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--progress", action="store_true")
    return p.parse_args(argv)


def build_encoder(name: str, max_length: int | None) -> DenseEncoder:
    """Encoder on CPU (Lightning moves it); ``tiny`` is deterministic, so every rank builds the same weights."""
    if name == "tiny":
        return DenseEncoder.tiny(device="cpu", max_length=max_length or 32)
    return DenseEncoder.from_pretrained(name, device="cpu", max_length=max_length or 64)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.devices > 1 and (args.accelerator == "cpu" or not torch.cuda.is_available()):
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.devices))   # ranks share the cores
    docs = list(itertools.islice(iter_corpus(Path(args.data) / "corpus.jsonl"), args.limit))
    encoder = build_encoder(args.model, args.max_length)
    out = Path(args.out)
    t0 = time.perf_counter()
    emb, info = encode_corpus([d.full_text for d in docs], encoder, out, devices=args.devices,
                              batch_size=args.batch_size, accelerator=args.accelerator,
                              num_workers=args.num_workers, progress=args.progress)
    if emb is None:         # not global rank 0
        return
    np.save(out / "embeddings.npy", emb)
    (out / "doc_ids.json").write_text(json.dumps([d.id for d in docs]))
    manifest = {"data": str(args.data), "model": args.model, "model_id": encoder.model_id, "n": len(docs),
                "dim": int(emb.shape[1]), "seconds": round(time.perf_counter() - t0, 2),
                "shards": [f"{kind}-rank{r:03d}.npy" for r in range(info["world_size"]) for kind in ("emb", "ids")],
                **info}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log.info("wrote %s: %d x %d in %.1f s on %s x%d", out / "embeddings.npy", *emb.shape, manifest["seconds"],
             info["accelerator"], info["devices"])


if __name__ == "__main__":
    main()
