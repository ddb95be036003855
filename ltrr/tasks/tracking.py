"""Experiment tracking with wandb: offline by default, files kept inside the run folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def wandb_env(run_dir: Path) -> Path:
    """Keep wandb's cache, data and config folders (and its output) under ``run_dir / "wandb"``."""
    base = Path(run_dir) / "wandb"
    for var, sub in (("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data"), ("WANDB_CONFIG_DIR", "config")):
        os.environ.setdefault(var, str(base / sub))
    os.environ.setdefault("WANDB_SILENT", "true")
    base.mkdir(parents=True, exist_ok=True)
    return base


class Tracker:
    """A wandb run, or nothing when ``mode == "disabled"``.

    Parameters
    ----------
    mode : {"offline", "online", "disabled"}
    project, entity : str
    run_dir : Path
        wandb files (and its cache/data/config folders) go under ``run_dir / "wandb"``.
    config : dict
        Resolved config to record.
    """

    def __init__(self, mode: str, project: str, entity: str | None, run_dir: Path, config: dict,
                 tags: list[str] | None = None) -> None:
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"config 'logger.mode': expected offline, online or disabled, got {mode!r}")
        self.run = None
        if mode == "disabled":
            return
        import wandb

        wandb_env(run_dir)
        self.run = wandb.init(project=project, entity=entity, dir=str(run_dir), config=config, mode=mode,
                              tags=tags or [])
        log.info("wandb %s run in %s", mode, self.run.dir)

    def log(self, data: dict[str, Any], step: int | None = None) -> None:
        """Log scalars (ignored when disabled)."""
        if self.run is not None:
            self.run.log(data, step=step)

    def image(self, key: str, path: Path) -> None:
        """Log a PNG."""
        if self.run is not None:
            import wandb

            self.run.log({key: wandb.Image(str(path))})

    def summary(self, data: dict[str, Any]) -> None:
        """Set summary values."""
        if self.run is not None:
            self.run.summary.update(data)

    def finish(self) -> None:
        """Close the run."""
        if self.run is not None:
            self.run.finish()
