"""Training speed and memory: examples/s, seconds per epoch, peak memory (CUDA allocator or process RSS)."""

from __future__ import annotations

import logging
import resource
import sys
import time

import lightning as L
import torch

log = logging.getLogger(__name__)


def peak_memory_mb(device: torch.device | None = None) -> float:
    """Peak CUDA memory allocated on ``device`` when it is a GPU, else the process's peak resident set size."""
    if device is not None and device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


class SpeedMonitor(L.Callback):
    """Counts training examples (queries) per second, excluding validation time.

    Attributes
    ----------
    summary : dict
        ``examples_per_s``, ``seconds_per_epoch`` (list), ``peak_memory_mb``, ``examples``, ``train_seconds``,
        ``device``, filled at the end of fit.
    """

    def __init__(self) -> None:
        self.examples, self.train_s, self.epoch_s, self.summary = 0, 0.0, [], {}
        self._t = self._v = self._epoch_t = None
        self._val_in_epoch = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_t = time.perf_counter()
        self._val_in_epoch = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train_s += time.perf_counter() - self._t
        n = batch["q"]["input_ids"].shape[0] if "q" in batch else batch["pairs"]["input_ids"].shape[0] // int(batch["group_size"])
        self.examples += n * trainer.world_size

    def on_validation_start(self, trainer, pl_module) -> None:
        self._v = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._v is not None:
            self._val_in_epoch += time.perf_counter() - self._v

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._epoch_t is not None:
            self.epoch_s.append(time.perf_counter() - self._epoch_t - self._val_in_epoch)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.summary = {"examples": self.examples, "train_seconds": round(self.train_s, 2),
                        "examples_per_s": self.examples / max(self.train_s, 1e-9),
                        "seconds_per_epoch": [round(s, 2) for s in self.epoch_s],
                        "peak_memory_mb": peak_memory_mb(pl_module.device), "device": str(pl_module.device),
                        "epochs": trainer.current_epoch, "steps": trainer.global_step}
        log.info("training speed: %.1f examples/s, peak memory %.0f MB on %s", self.summary["examples_per_s"],
                 self.summary["peak_memory_mb"], pl_module.device)
