"""Corpus encoding with Lightning ``predict``: one process per device, each writing its own embedding shard.

Each rank writes ``DIR/emb-rank{r:03d}.npy`` (float32 ``(m_r, dim)``) and ``DIR/ids-rank{r:03d}.npy`` (int64
global row indices, so rows a DistributedSampler repeats can be dropped); :func:`merge_shards` puts the rows back
in corpus order. The forward pass is :meth:`DenseEncoder.encode` itself (same tokenisation, mean pooling and L2
norm). CUDA runs in bf16 autocast, CPU in fp32. Multi-device runs must be launched as a script (Lightning's
``ddp`` re-runs ``sys.argv`` for the other ranks), and every rank must build identical weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset

from ltrr.encoders.dense import DenseEncoder

log = logging.getLogger(__name__)


class IndexedTexts(Dataset):
    """Items ``(row index, text)``."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[int, str]:
        return i, self.texts[i]


class EncoderModule(L.LightningModule):
    """Predict-only wrapper of a :class:`DenseEncoder`; ``predict_step`` returns ``(row ids, unit embeddings)``."""

    def __init__(self, encoder: DenseEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.model = encoder.model          # registered, so Lightning moves it to this rank's device

    def on_predict_start(self) -> None:
        self.encoder.device = self.device   # encode() sends token tensors to the encoder's device

    def predict_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> tuple[np.ndarray, np.ndarray]:
        ids, texts = batch
        return ids.cpu().numpy().astype(np.int64), self.encoder.encode(list(texts))


def _save(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)


class ShardWriter(BasePredictionWriter):
    """Collects this rank's batches and writes ``emb-rank{r:03d}.npy`` / ``ids-rank{r:03d}.npy`` at epoch end."""

    def __init__(self, out_dir: str | Path) -> None:
        super().__init__(write_interval="batch")
        self.out_dir = Path(out_dir)
        self._ids: list[np.ndarray] = []
        self._emb: list[np.ndarray] = []

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx,
                           dataloader_idx) -> None:
        self._ids.append(prediction[0])
        self._emb.append(prediction[1])

    def on_predict_epoch_end(self, trainer, pl_module) -> None:
        r, dim = trainer.global_rank, pl_module.encoder.dim
        self.out_dir.mkdir(parents=True, exist_ok=True)
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        emb = np.concatenate(self._emb) if self._emb else np.zeros((0, dim), np.float32)
        _save(self.out_dir / f"emb-rank{r:03d}.npy", emb)
        _save(self.out_dir / f"ids-rank{r:03d}.npy", ids)
        log.info("rank %d wrote %d embeddings to %s", r, len(ids), self.out_dir)
        self._ids, self._emb = [], []
        trainer.strategy.barrier("shards-written")   # every shard exists once predict() returns


def merge_shards(out_dir: str | Path, n: int, world_size: int | None = None) -> np.ndarray:
    """Gather the rank shards into corpus order.

    Parameters
    ----------
    out_dir : path-like
        Folder with ``emb-rank*.npy`` and ``ids-rank*.npy``.
    n : int
        Corpus size.
    world_size : int, optional
        Read ranks ``0 .. world_size-1`` only (ignores stale shards of an earlier, wider run); default: all found.

    Returns
    -------
    numpy.ndarray
        Float32 ``(n, dim)``; rows repeated across ranks are written once. Missing or out-of-range rows raise.
    """
    out_dir = Path(out_dir)
    if world_size is None:
        emb_files = sorted(out_dir.glob("emb-rank*.npy"))
    else:
        emb_files = [out_dir / f"emb-rank{r:03d}.npy" for r in range(world_size)]
    missing_files = [str(f) for f in emb_files
                     if not f.is_file() or not f.with_name(f.name.replace("emb-", "ids-")).is_file()]
    if not emb_files or missing_files:
        raise FileNotFoundError(f"{out_dir}: missing embedding shards {missing_files or 'emb-rank*.npy'}")
    out, seen = None, np.zeros(n, bool)
    for ef in emb_files:
        emb, ids = np.load(ef), np.load(ef.with_name(ef.name.replace("emb-", "ids-")))
        if len(emb) != len(ids) or (len(ids) and (ids.min() < 0 or ids.max() >= n)):
            raise ValueError(f"{ef}: {len(emb)} rows for {len(ids)} ids, ids must lie in [0, {n})")
        out = np.zeros((n, emb.shape[1]), np.float32) if out is None else out
        out[ids], seen[ids] = emb, True
    if not seen.all():
        missing = np.flatnonzero(~seen)
        raise ValueError(f"{out_dir}: {len(missing)} of {n} rows missing from the shards, e.g. {missing[:5].tolist()}")
    return out


def encode_corpus(texts: Sequence[str], encoder: DenseEncoder, out_dir: str | Path, devices: int = 1,
                  batch_size: int = 128, accelerator: str = "auto", num_workers: int = 0,
                  progress: bool = False) -> tuple[np.ndarray | None, dict]:
    """Encode ``texts`` with Lightning predict on ``devices`` processes and merge the shards.

    Parameters
    ----------
    texts : sequence of str, length ``n``
    encoder : DenseEncoder
    out_dir : path-like
        Where the rank shards go.
    devices : int
        Processes (GPUs, or CPU processes over gloo); more than one uses DDP.
    batch_size : int
        Texts per predict step.
    accelerator : {"auto", "cpu", "gpu"}
        ``auto``: CUDA with bf16 autocast when available, else CPU fp32.
    num_workers : int
        DataLoader workers.
    progress : bool
        Lightning progress bar.

    Returns
    -------
    embeddings : numpy.ndarray or None
        Float32 ``(n, dim)`` on global rank 0, ``None`` on the other ranks.
    info : dict
        ``accelerator``, ``precision``, ``devices``, ``rank``, ``world_size``.
    """
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    precision = "bf16-mixed" if accelerator == "gpu" and torch.cuda.is_bf16_supported() else "32-true"
    trainer = L.Trainer(accelerator=accelerator, devices=devices, precision=precision,
                        strategy="ddp" if devices > 1 else "auto", callbacks=[ShardWriter(out_dir)], logger=False,
                        enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=progress)
    if trainer.is_global_zero:
        log.info("encoding %d texts on %s x%d (%s)", len(texts), accelerator, devices, precision)
    loader = DataLoader(IndexedTexts(texts), batch_size=batch_size, shuffle=False, num_workers=num_workers)
    trainer.predict(EncoderModule(encoder), loader, return_predictions=False)
    info = {"accelerator": accelerator, "precision": precision, "devices": devices,
            "rank": trainer.global_rank, "world_size": trainer.world_size}
    merged = merge_shards(out_dir, len(texts), trainer.world_size) if trainer.is_global_zero else None
    return merged, info
