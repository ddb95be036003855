"""Build objects from a composed config: world, arms, featurizer, policies, reranker, pipelines."""

from __future__ import annotations

import logging
from typing import Sequence

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from ltrr.arms.base import Arm
from ltrr.bandit.base import Policy
from ltrr.bandit.features import ARM_STATS, ContextFeaturizer
from ltrr.data.music import MusicWorld
from ltrr.pipeline.pipeline import RetrievePipeline
from ltrr.rerank.cross import CrossEncoderReranker
from ltrr.types import Doc

log = logging.getLogger(__name__)
RESERVED = {"meta", "comparison", "intent_arm_recall", "allocation_share"}


def check_config(cfg: DictConfig) -> None:
    """Reject values the objects would only fail on later, naming the key."""
    if not cfg.arms:
        raise ValueError("config 'arms': at least one arm is needed")
    if not cfg.policies:
        raise ValueError("config 'policies': at least one policy is needed")
    bad = RESERVED & set(cfg.policies)
    if bad:
        raise ValueError(f"config 'policies': names {sorted(bad)} are reserved in metrics.json")
    if not cfg.seeds:
        raise ValueError("config 'seeds': give at least one seed")
    if int(cfg.rounds) < 1:
        raise ValueError(f"config 'rounds': must be >= 1, got {cfg.rounds}")


def build_world(cfg: DictConfig) -> MusicWorld:
    """The music world from ``cfg.data.world``."""
    return instantiate(cfg.data.world)


def build_arms(cfg: DictConfig, docs: Sequence[Doc]) -> dict[str, Arm]:
    """Every arm under ``cfg.arms``, named by its key, in config order."""
    arms = {}
    for name, arm_cfg in cfg.arms.items():
        arms[name] = _named(f"arms.{name}", lambda: instantiate(arm_cfg)(docs=docs, name=name))
        log.info("arm %s: %s", name, type(arms[name]).__name__)
    return arms


def facet_words(docs: Sequence[Doc]) -> set[str]:
    """Values of the catalogue's facet fields, for query understanding features."""
    return {str(d.metadata[f]) for d in docs for f in ("genre", "mood", "activity", "topic") if d.metadata.get(f)}


def build_featurizer(arms: dict[str, Arm], docs: Sequence[Doc], arm_stats: Sequence[str] | None = None) -> ContextFeaturizer:
    """Context featurizer over the given arms (``arm_stats``: per-arm features, default n/top/gap)."""
    stats = tuple(arm_stats) if arm_stats else ARM_STATS
    return _named("arm_stats", lambda: ContextFeaturizer(list(arms), facet_words(docs), stats))


def build_policy(cfg: DictConfig, name: str, arms: Sequence[str], n_features: int, seed: int) -> Policy:
    """The policy ``cfg.policies[name]`` over ``arms``."""
    return _named(f"policies.{name}", lambda: instantiate(cfg.policies[name])(
        arms=list(arms), budget=int(cfg.budget), depths=list(cfg.depths), n_features=n_features, seed=seed,
        name=name))


def _named(key: str, make):
    """Call ``make()``; a bad argument becomes an error naming the config key."""
    try:
        return make()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config '{key}': {exc}") from exc


def build_reranker(cfg: DictConfig, docs: Sequence[Doc]) -> CrossEncoderReranker | None:
    """The cross-encoder reranker of ``cfg.rerank``, or ``None`` when that is empty or absent (no rerank stage).

    Build it once per job: it holds the model, shared by every policy and seed.
    """
    rcfg = cfg.get("rerank")
    if not rcfg:
        return None

    def encoder():
        try:
            return instantiate(rcfg.encoder)
        except (InstantiationException, MissingMandatoryValue) as exc:
            raise ValueError(str(exc)) from exc

    enc = _named("rerank.encoder", encoder)
    return _named("rerank", lambda: CrossEncoderReranker(enc, docs, top_n=int(rcfg.top_n),
                                                          first_stage_weight=float(rcfg.get("first_stage_weight", 0.0))))


def build_pipeline(cfg: DictConfig, arms: dict[str, Arm], featurizer: ContextFeaturizer, policy: Policy,
                   reranker: CrossEncoderReranker | None = None) -> RetrievePipeline:
    """A pipeline for one policy (arms and reranker are shared, so pipelines run one after the other)."""
    return RetrievePipeline(arms, policy, featurizer, instantiate(cfg.fusion), show_k=int(cfg.show_k),
                            no_click_weight=float(cfg.no_click_weight), label_scope=str(cfg.label_scope),
                            reranker=reranker)
