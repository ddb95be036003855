"""Build objects from a composed config: world, arms, featurizer, policies, reranker, pipelines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from ltrr.arms.base import Arm
from ltrr.bandit.base import Policy
from ltrr.bandit.features import ALL_ARM_STATS, ARM_STATS, ContextFeaturizer
from ltrr.data.music import MusicWorld
from ltrr.encoders.dense import DenseEncoder
from ltrr.pipeline.pipeline import RetrievePipeline
from ltrr.rerank.cross import CrossEncoderReranker
from ltrr.rerank.features import CrossScorer, RankFeaturizer
from ltrr.rerank.learned import LearnedReranker
from ltrr.types import Doc
from ltrr.utils.seed import make_rng

if TYPE_CHECKING:
    from ltrr.qu.tagger import QueryUnderstanding

log = logging.getLogger(__name__)
RESERVED = {"meta", "comparison", "intent_arm_recall", "allocation_share"}
# config 'context': optional context-feature blocks; these defaults (all off) give the plain featurizer
CONTEXT_DEFAULTS: dict[str, Any] = {"embed_dim": 0, "embed_pca": 0, "embed_seed": 0, "qu_slots": False,
                                    "language": False, "arm_hit_rate": False, "hit_depth": 20, "hit_halflife": 100.0}


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


def build_arms(cfg: DictConfig, docs: Sequence[Doc],
               histories: Mapping[str, Sequence[str]] | None = None) -> dict[str, Arm]:
    """Every arm under ``cfg.arms``, named by its key, in config order; arms that learn from users' listening
    histories (``fit_histories``, e.g. the personalized arm) are trained on ``histories``."""
    arms = {}
    for name, arm_cfg in cfg.arms.items():
        arms[name] = _named(f"arms.{name}", lambda: instantiate(arm_cfg)(docs=docs, name=name))
        fit = getattr(arms[name], "fit_histories", None)
        if fit is not None:
            if histories:
                fit(histories)
            else:
                log.warning("arm %s: no user histories given; every user is cold (popularity fallback)", name)
        log.info("arm %s: %s", name, type(arms[name]).__name__)
    return arms


def user_histories(world: MusicWorld) -> dict[str, list[str]]:
    """Each user's listening history before the simulation (doc ids)."""
    return {u.id: list(u.history) for u in world.users}


def facet_words(docs: Sequence[Doc]) -> set[str]:
    """Values of the catalogue's facet fields, for query understanding features."""
    return {str(d.metadata[f]) for d in docs for f in ("genre", "mood", "activity", "topic") if d.metadata.get(f)}


def build_featurizer(arms: dict[str, Arm], docs: Sequence[Doc], arm_stats: Sequence[str] | None = None,
                     context: Mapping[str, Any] | None = None) -> ContextFeaturizer:
    """Context featurizer over the given arms.

    Parameters
    ----------
    arms : dict of name to Arm
    docs : sequence of Doc
    arm_stats : sequence of str, optional
        Per-arm features (config ``arm_stats``); default n/top/gap.
    context : mapping, optional
        Config ``context``, keys of :data:`CONTEXT_DEFAULTS` (missing keys take those defaults, all blocks off):
        ``embed_dim`` (> 0: projected query embedding from the first dense arm's encoder, no second model is
        loaded), ``embed_pca`` (> 0: fit the projection by PCA on that many catalogue titles, a seeded sample;
        0: random projection), ``embed_seed``, ``qu_slots`` (slot indicators; the structured arm's tagger is
        reused when there is one), ``language`` (non-ASCII share), ``arm_hit_rate`` (per-arm recent hit rate
        per intent class), ``hit_depth``, ``hit_halflife``.
    """
    stats = tuple(arm_stats) if arm_stats else ARM_STATS
    unknown = set(stats) - set(ALL_ARM_STATS)
    if unknown:
        raise ValueError(f"config 'arm_stats': unknown {sorted(unknown)}; choose from {ALL_ARM_STATS}")
    opts = _context_options(context)
    kwargs: dict[str, Any] = {"language": bool(opts["language"]), "arm_hit_rate": bool(opts["arm_hit_rate"]),
                              "hit_depth": int(opts["hit_depth"]), "hit_halflife": float(opts["hit_halflife"])}
    if int(opts["embed_dim"]) > 0:
        kwargs.update(embedder=_named("context.embed_dim", lambda: _dense_encoder(arms)).encode,
                      embed_dim=int(opts["embed_dim"]), embed_seed=int(opts["embed_seed"]))
    elif int(opts["embed_pca"]) > 0:
        raise ValueError("config 'context.embed_pca': needs context.embed_dim > 0")
    if opts["qu_slots"] or opts["arm_hit_rate"]:  # the hit rates are kept per intent class, read off the slots
        kwargs.update(qu=_query_understanding(arms, docs), slot_features=bool(opts["qu_slots"]))
    feat = _named("context", lambda: ContextFeaturizer(list(arms), facet_words(docs), stats, **kwargs))
    if int(opts["embed_pca"]) > 0:
        texts = sorted({d.title for d in docs})
        n = min(int(opts["embed_pca"]), len(texts))
        pick = make_rng(int(opts["embed_seed"]), "context-pca").choice(len(texts), size=n, replace=False)
        _named("context.embed_pca", lambda: feat.fit_projection([texts[i] for i in sorted(pick)]))
    blocks = [k for k in ("embed_dim", "qu_slots", "language", "arm_hit_rate") if opts[k]]
    log.info("context features: %d (base%s)", feat.dim, "".join(f" + {k}" for k in blocks))
    return feat


def _context_options(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """``context`` over :data:`CONTEXT_DEFAULTS`; an unknown key is an error naming it."""
    given = dict(context or {})
    for key in given:
        if key not in CONTEXT_DEFAULTS:
            raise ValueError(f"config 'context.{key}': unknown key; choose from {sorted(CONTEXT_DEFAULTS)}")
    opts = {**CONTEXT_DEFAULTS, **given}
    for key, default in CONTEXT_DEFAULTS.items():
        value = opts[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"config 'context.{key}': expected true or false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ValueError(f"config 'context.{key}': expected a number >= 0, got {value!r}")
    return opts


def _dense_encoder(arms: Mapping[str, Arm]) -> DenseEncoder:
    """The encoder of the first arm that holds a :class:`DenseEncoder` (the main job's dense model)."""
    for arm in arms.values():
        enc = getattr(arm, "encoder", None)
        if isinstance(enc, DenseEncoder):
            return enc
    raise ValueError(f"the query embedding reuses a dense arm's encoder, and none of the arms {list(arms)} has one")


def _query_understanding(arms: Mapping[str, Arm], docs: Sequence[Doc]) -> QueryUnderstanding:
    """The tagger of an arm that already built one over ``docs`` (the structured arm), else a new one."""
    from ltrr.qu.tagger import QueryUnderstanding  # noqa: F811  (symspellpy loads only when the tagger is wanted)

    for arm in arms.values():
        qu = getattr(arm, "qu", None)
        if isinstance(qu, QueryUnderstanding):
            return qu
    return QueryUnderstanding(docs)


def build_policy(cfg: DictConfig, name: str, arms: Sequence[str], n_features: int, seed: int,
                 feature_names: Sequence[str] | None = None) -> Policy:
    """The policy ``cfg.policies[name]`` over ``arms``.

    A policy key ``warm_by`` (a feature-name prefix, e.g. ``slot.``) becomes the policy's ``warm_strata``: the
    indices of the context columns whose names start with it (``feature_names``, the featurizer's ``names``).
    """
    node: Any = cfg.policies[name]
    extra: dict[str, Any] = {}
    if "warm_by" in node:
        node = OmegaConf.to_container(node, resolve=True)
        prefix = node.pop("warm_by")
        if prefix is not None:
            extra["warm_strata"] = _columns(f"policies.{name}.warm_by", str(prefix), feature_names)
    return _named(f"policies.{name}", lambda: instantiate(node)(
        arms=list(arms), budget=int(cfg.budget), depths=list(cfg.depths), n_features=n_features, seed=seed,
        name=name, **extra))


def _columns(key: str, prefix: str, names: Sequence[str] | None) -> list[int]:
    """Indices of the context columns whose names start with ``prefix``; an error naming ``key`` when none do."""
    if names is None:
        raise ValueError(f"config '{key}': this context has no column names (the synthetic env's has none)")
    cols = [i for i, n in enumerate(names) if n.startswith(prefix)]
    if not cols:
        groups = sorted({n.split(".")[0] + "." for n in names if "." in n})
        raise ValueError(f"config '{key}': no context column starts with {prefix!r}; prefixes: {groups}")
    return cols


def _named(key: str, make):
    """Call ``make()``; a bad argument becomes an error naming the config key."""
    try:
        return make()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config '{key}': {exc}") from exc


def build_reranker(cfg: DictConfig, docs: Sequence[Doc], arms: Mapping[str, Arm] | None = None,
                   histories: Mapping[str, Sequence[str]] | None = None
                   ) -> CrossEncoderReranker | LearnedReranker | None:
    """The rank stage of ``cfg.rerank``, or ``None`` when that is empty or absent (no rerank stage).

    ``rerank.encoder``: a cross-encoder reranker; ``rerank.ranker`` (with ``rerank.learned``): a learned ranker
    over the ranking features of ``arms`` (in order; a structured arm's tagger is reused for the slot matches),
    with the users' ``histories`` for the affinity features. Build it once per job: it holds the model, shared by every
    policy and seed (a learned one is reset with each pipeline).
    """
    rcfg = cfg.get("rerank")
    if not rcfg:
        return None
    if "ranker" in rcfg:
        return _learned_reranker(rcfg, docs, arms, histories)

    def encoder():
        try:
            return instantiate(rcfg.encoder)
        except (InstantiationException, MissingMandatoryValue) as exc:
            raise ValueError(str(exc)) from exc

    enc = _named("rerank.encoder", encoder)
    def reranker() -> CrossEncoderReranker:
        return CrossEncoderReranker(enc, docs, top_n=int(rcfg.top_n),
                                    first_stage_weight=float(rcfg.get("first_stage_weight", 0.0)))

    return _named("rerank", reranker)


def rank_featurizer(arms: Mapping[str, Arm], docs: Sequence[Doc], histories: Mapping[str, Sequence[str]] | None,
                    cross: CrossScorer | None = None) -> RankFeaturizer:
    """Ranking features over ``arms`` (in order): the slot matches reuse an arm's tagger (see
    :func:`_query_understanding`), the user-item affinity a personalized arm's embeddings when one is configured."""
    personal = next((a for a in arms.values() if hasattr(a, "affinity")), None)
    return RankFeaturizer(list(arms), docs, histories, qu=_query_understanding(arms, docs), cross=cross,
                          affinity=personal.affinity if personal is not None else None)


def _learned_reranker(rcfg: DictConfig, docs: Sequence[Doc], arms: Mapping[str, Arm] | None,
                      histories: Mapping[str, Sequence[str]] | None) -> LearnedReranker:
    if arms is None:
        raise ValueError("config 'rerank.ranker': a learned rank stage needs the arms (pass arms=)")
    ranker = _named("rerank.ranker", lambda: instantiate(rcfg.ranker))
    feat = rank_featurizer(arms, docs, histories)
    opts = dict(rcfg.get("learned") or {})
    return _named("rerank.learned", lambda: LearnedReranker(feat, ranker, **opts))


def build_pipeline(cfg: DictConfig, arms: dict[str, Arm], featurizer: ContextFeaturizer, policy: Policy,
                   reranker: CrossEncoderReranker | LearnedReranker | None = None) -> RetrievePipeline:
    """A pipeline for one policy (arms and reranker are shared, so pipelines run one after the other)."""
    return RetrievePipeline(arms, policy, featurizer, instantiate(cfg.fusion), show_k=int(cfg.show_k),
                            no_click_weight=float(cfg.no_click_weight), label_scope=str(cfg.label_scope),
                            reranker=reranker, parallel_arms=list(cfg.get("parallel_arms") or []))
