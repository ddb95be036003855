"""Shared fixtures: a tiny world, a tiny encoder, composed configs."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before faiss loads: busy-waiting OpenMP threads stall a shared CI box
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from ltrr.data.music import build_world
from ltrr.encoders.dense import DenseEncoder

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SHARED = ROOT.parent / "shared" / "data"
TINY_WORLD = dict(n_artists=20, n_playlists=15, n_podcasts=6, n_users=30, fresh_share=0.15)


@pytest.fixture(scope="session")
def tiny_world():
    return build_world(seed=0, **TINY_WORLD)


@pytest.fixture(scope="session")
def tiny_encoder():
    return DenseEncoder.tiny(hidden_size=32, num_layers=2, num_heads=2, device="cpu", max_length=32)


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """The main job on the smoke config (2 seeds, 60 queries) with its composed config saved as Hydra would."""
    from omegaconf import OmegaConf

    from ltrr.tasks.train import train

    run_dir = tmp_path_factory.mktemp("smoke") / "runs" / "smoke"
    cfg = compose_cfg("train", ["experiment=smoke", "seeds=[0,1]", "rounds=60"])
    out = train(cfg, run_dir)
    (run_dir / ".hydra").mkdir()
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    return run_dir, out, cfg


def compose_cfg(name: str = "train", overrides: list[str] | None = None):
    """Compose a config from configs/ with overrides."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIGS)):
        return compose(config_name=name, overrides=overrides or [])
