"""Composition root of the API: rebuild a finished run's pipeline and restore its learned state."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI
from omegaconf import DictConfig, OmegaConf

from ltrr.pipeline.pipeline import RetrievePipeline
from ltrr.serve.app import ServeSettings, create_app
from ltrr.serve.journal import FeedbackJournal
from ltrr.tasks import build
from ltrr.utils.statefile import load_state

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
    histories = build.user_histories(world)
    arms = build.build_arms(cfg, world.docs, histories)
    featurizer = build.build_featurizer(arms, world.docs, cfg.get("arm_stats"), cfg.get("context"))
    seed = int(cfg.seeds[0])
    pol = build.build_policy(cfg, policy, list(arms), featurizer.dim, seed, featurizer.names)
    pipeline = build.build_pipeline(cfg, arms, featurizer, pol,
                                    build.build_reranker(cfg, world.docs, arms, histories))
    pipeline.reset(seed)
    state = run_dir / "state" / f"{policy}_seed{seed}" / "state.npz"
    if state.is_file():
        pipeline.load_state_dict(load_state(state))
        log.info("restored the trained %s state from %s", policy, state)
    else:
        log.warning("no trained state at %s: serving a fresh %s", state, policy)
    return pipeline, world.by_id


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def settings_from(cfg: DictConfig) -> ServeSettings:
    """:class:`ServeSettings` from the serve config; a non-loopback ``host`` without a token is refused."""
    token = cfg.get("token") or os.environ.get("LTRR_TOKEN") or None
    if str(cfg.host) not in LOOPBACK and not token:
        raise ValueError(f"config 'host': {cfg.host!r} is not loopback, so feedback and admin endpoints need a "
                         "bearer token: set token=... or the LTRR_TOKEN environment variable")
    return ServeSettings(max_pending=int(cfg.max_pending), token=token, feedback_rate=float(cfg.feedback_rate),
                         feedback_burst=float(cfg.feedback_burst), snapshot_every=int(cfg.snapshot_every),
                         max_body_bytes=int(cfg.max_body_bytes), background_retrain=bool(cfg.background_retrain),
                         background_snapshot=bool(cfg.background_snapshot))


def make_app(cfg: DictConfig) -> FastAPI:
    """The FastAPI app for ``cfg.run_dir`` and ``cfg.policy_name``: the trained state, then the serving journal's
    snapshot and the feedback journaled after it (``cfg.state_dir``)."""
    settings = settings_from(cfg)
    pipeline, docs = load_pipeline(cfg.run_dir, cfg.policy_name)
    journal = FeedbackJournal(cfg.state_dir, fsync=bool(cfg.fsync))
    journal.recover(pipeline)
    return create_app(pipeline, docs, settings, journal)
