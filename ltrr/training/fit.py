"""Run one Lightning training stage: checkpoints that resume exactly, early stopping on dev, best weights back.

A stage writes ``out_dir/last.ckpt`` every ``ckpt_every`` steps (and at the end) and ``out_dir/best.ckpt`` whenever
the dev metric improves. Calling :func:`fit_stage` again with ``resume=True`` continues from ``last.ckpt``: same
optimizer, scheduler, RNG-free data order (see :mod:`ltrr.training.data`), so the metrics equal those of an
uninterrupted run.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from ltrr.training.callbacks import SpeedMonitor

log = logging.getLogger(__name__)


def resolve_hardware(accelerator: str = "auto", precision: str = "auto") -> tuple[str, str]:
    """``auto`` -> CUDA with bf16 mixed precision when a GPU is visible, else CPU in fp32; logs the path taken."""
    acc = ("gpu" if torch.cuda.is_available() else "cpu") if accelerator == "auto" else accelerator
    if precision == "auto":
        precision = "bf16-mixed" if acc in ("gpu", "cuda") and torch.cuda.is_bf16_supported() else "32-true"
    log.info("training on %s with precision %s", acc, precision)
    return acc, precision


def one_item_loader() -> DataLoader:
    """A validation loader with one dummy item: the evaluator does all the work in ``validation_step``."""
    return DataLoader([0], batch_size=1)


def fit_stage(module: L.LightningModule, datamodule: L.LightningDataModule, out_dir: Path, *,
              trainer_kwargs: dict[str, Any], val_check_interval: int | None, patience: int | None,
              ckpt_every: int = 50, loggers: list | None = None, resume: bool = True,
              progress: bool = True) -> dict[str, Any]:
    """Fit ``module``, leave the best (or, without dev evaluation, the final) weights in it.

    Parameters
    ----------
    module, datamodule
    out_dir : Path
        Checkpoint folder of this stage.
    trainer_kwargs : dict
        ``lightning.Trainer`` arguments (accelerator, devices, strategy, num_nodes, precision, max_epochs,
        max_steps, accumulate_grad_batches, gradient_clip_val, ...). ``accelerator``/``precision`` may be ``auto``.
    val_check_interval : int, optional
        Dev evaluation every this many optimizer steps (``None``: no dev evaluation).
    patience : int, optional
        Early stopping after this many evaluations without improvement of ``dev/ndcg@10``.
    ckpt_every : int
        Steps between ``last.ckpt`` saves.
    loggers : list, optional
    resume : bool
        Continue from ``out_dir/last.ckpt`` when it exists.
    progress : bool
        Rich progress bar.

    Returns
    -------
    dict
        ``speed`` (SpeedMonitor summary), ``best_score``, ``best_path``, ``global_step``.
    """
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint, RichProgressBar

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kw = dict(trainer_kwargs)
    kw["accelerator"], kw["precision"] = resolve_hardware(kw.get("accelerator", "auto"), kw.get("precision", "auto"))
    speed = SpeedMonitor()
    callbacks: list = [speed, ModelCheckpoint(dirpath=out_dir, filename="step{step}", save_last=True, save_top_k=0,
                                              every_n_train_steps=ckpt_every, auto_insert_metric_name=False)]
    best = None
    if val_check_interval:
        best = ModelCheckpoint(dirpath=out_dir, filename="best", monitor="dev/ndcg@10", mode="max", save_top_k=1,
                               auto_insert_metric_name=False, enable_version_counter=False)
        callbacks.append(best)
        if patience:
            callbacks.append(EarlyStopping(monitor="dev/ndcg@10", mode="max", patience=patience,
                                           check_on_train_epoch_end=False))
    if loggers:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if progress:
        callbacks.append(RichProgressBar(leave=True))
    trainer = L.Trainer(callbacks=callbacks, logger=loggers or False, default_root_dir=str(out_dir),
                        enable_progress_bar=progress, use_distributed_sampler=False,
                        val_check_interval=val_check_interval or 1.0,
                        check_val_every_n_epoch=None if val_check_interval else 1,
                        limit_val_batches=1 if val_check_interval else 0, num_sanity_val_steps=0,
                        log_every_n_steps=1, **kw)
    last = out_dir / "last.ckpt"
    ckpt = str(last) if resume and last.exists() else None
    if ckpt:
        log.info("resuming from %s", ckpt)
    with warnings.catch_warnings():
        # The resume point lives in the data module's state (ltrr.training.data), not in a stateful DataLoader, and
        # modules start in eval mode on purpose (the modules set train/eval themselves): both warnings are noise.
        warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
        warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode at the start of training.*")
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt)
    trainer.save_checkpoint(last)
    out = {"speed": speed.summary, "global_step": int(trainer.global_step), "best_path": None, "best_score": None}
    if best is not None and best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
        out["best_path"], out["best_score"] = best.best_model_path, float(best.best_model_score)
        log.info("best dev nDCG@10 %.4f (%s)", out["best_score"], best.best_model_path)
    return out
