"""Composition root of the API: rebuild a finished run's pipeline and restore its learned state."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

from fastapi import FastAPI
from omegaconf import DictConfig, OmegaConf

from ltrr.pipeline.pipeline import RetrievePipeline
from ltrr.serve.app import create_app
from ltrr.tasks import build

log = logging.getLogger(__name__)


def load_pipeline(run_dir: Path | str, policy: str) -> tuple[RetrievePipeline, dict]:
    """Rebuild the pipeline of ``policy`` from ``run_dir`` (its ``.hydra/config.yaml`` and ``state/``).

    Returns
    -------
    pipeline : RetrievePipeline
    docs : dict of id to Doc
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / ".hydra" / "config.yaml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path}: not a finished train.py run folder (run train.py first)")
    cfg = OmegaConf.load(cfg_path)
    if policy not in cfg.policies:
        raise ValueError(f"config 'policy': {policy!r} is not in the run's policies {list(cfg.policies)}")
    world = build.build_world(cfg)
    arms = build.build_arms(cfg, world.docs)
    featurizer = build.build_featurizer(arms, world.docs, cfg.get("arm_stats"), cfg.get("context"))
    seed = int(cfg.seeds[0])
    pol = build.build_policy(cfg, policy, list(arms), featurizer.dim, seed)
    pipeline = build.build_pipeline(cfg, arms, featurizer, pol, build.build_reranker(cfg, world.docs))
    pipeline.reset(seed)
    state = run_dir / "state" / f"{policy}_seed{seed}"
    if state.is_dir():
        with open(state / "policy.pkl", "rb") as fh:
            pol.load_state_dict(pickle.load(fh))
        arm_state = json.loads((state / "arms.json").read_text())
        for name, arm in arms.items():
            arm.load_state_dict(arm_state.get(name, {}))
        log.info("restored %s state from %s", policy, state)
    else:
        log.warning("no learned state under %s: serving a fresh %s", state, policy)
    return pipeline, world.by_id


def make_app(cfg: DictConfig) -> FastAPI:
    """The FastAPI app for ``cfg.run_dir`` and ``cfg.policy``."""
    pipeline, docs = load_pipeline(cfg.run_dir, cfg.policy)
    return create_app(pipeline, docs, int(cfg.max_pending))
