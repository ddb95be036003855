"""RetrievePipeline: featurise -> policy picks depths -> arms retrieve -> union -> rank -> learn from clicks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ltrr.arms.base import Arm
from ltrr.bandit.base import DepthLabels, Policy, depth_labels
from ltrr.bandit.features import ContextFeaturizer
from ltrr.rerank.fusion import RRFFusion
from ltrr.types import ArmResult, Decision, FusedItem, Query

if TYPE_CHECKING:
    from ltrr.rerank.cross import CrossEncoderReranker


@dataclass
class SearchResult:
    """Everything decided for one query.

    Attributes
    ----------
    query : Query
    context : numpy.ndarray, shape ``(n_features,)``
    decision : Decision
    arm_results : dict[str, ArmResult]
        Each arm's list at the maximum depth (the allocation decides how much of it enters the union).
    ranking : list[FusedItem]
        The ranked union.
    """

    query: Query
    context: np.ndarray
    decision: Decision
    arm_results: dict[str, ArmResult]
    ranking: list[FusedItem]

    @property
    def allocation(self) -> dict[str, int]:
        """Depth per arm name."""
        return dict(zip(self.arm_results, self.decision.allocation))

    def shown(self, k: int) -> list[str]:
        """The first ``k`` document ids of the ranking."""
        return [it.doc_id for it in self.ranking[:k]]


class RetrievePipeline:
    """The learning-to-retrieve loop for one policy.

    Parameters
    ----------
    arms : mapping of name to Arm
        Order must match ``policy.arms``.
    policy : Policy
    featurizer : ContextFeaturizer
    fusion : RRFFusion
    show_k : int
        Results shown to the user.
    no_click_weight : float
        Weight of a no-click round in the policy's update.
    label_scope : {"allocated", "retrieved"}
        Which (arm, depth) cells a click labels. ``allocated`` (semi-bandit, the default): selected arms up to
        their allocated depth, as when arms are only asked for ``n_k`` candidates. ``retrieved``: every arm up to
        the maximum depth, since this pipeline retrieves every list in full anyway (rounds without any click
        still label only the allocated cells).
    reranker : CrossEncoderReranker, optional
        Second stage applied to the fused ranking (its head reordered by a cross-encoder); ``None``: fused order.
    """

    def __init__(self, arms: Mapping[str, Arm], policy: Policy, featurizer: ContextFeaturizer, fusion: RRFFusion,
                 show_k: int = 10, no_click_weight: float = 1.0, label_scope: str = "allocated",
                 reranker: CrossEncoderReranker | None = None) -> None:
        if label_scope not in ("allocated", "retrieved"):
            raise ValueError(f"label_scope must be 'allocated' or 'retrieved', got {label_scope!r}")
        self.label_scope = label_scope
        if list(arms) != policy.arms or list(arms) != featurizer.arms:
            raise ValueError(f"arm order differs: pipeline {list(arms)}, policy {policy.arms}, "
                             f"featurizer {featurizer.arms}")
        self.arms, self.policy, self.featurizer, self.fusion = dict(arms), policy, featurizer, fusion
        self.show_k, self.no_click_weight, self.reranker = show_k, no_click_weight, reranker
        self.max_depth = policy.space.depths[-1]

    def retrieve_all(self, query: Query, cached: Mapping[str, ArmResult] | None = None) -> dict[str, ArmResult]:
        """Every arm's list at the maximum depth; ``cached`` results (static arms) are reused."""
        cached = cached or {}
        return {n: cached[n] if n in cached else a.retrieve(query, self.max_depth) for n, a in self.arms.items()}

    def search(self, query: Query, cached: Mapping[str, ArmResult] | None = None) -> SearchResult:
        """Run one query through the pipeline (no learning yet)."""
        results = self.retrieve_all(query, cached)
        context = self.featurizer(query, results)
        decision: Decision = self.policy.select(context)
        ranking = self.fusion.fuse(results, dict(zip(results, decision.allocation)))
        if self.reranker is not None:
            ranking = self.reranker.rerank(query, ranking)
        return SearchResult(query, context, decision, results, ranking)

    def feedback(self, result: SearchResult, clicked: Sequence[str]) -> DepthLabels:
        """Teach the policy, the learning arms and the featurizer's dynamic features from the clicks on ``result``."""
        ranks = np.array([min((r.rank_of(d) or np.inf for d in clicked), default=np.inf)
                          for r in result.arm_results.values()], dtype=float)
        alloc = result.decision.allocation
        if clicked and self.label_scope == "retrieved":
            alloc = (self.max_depth,) * len(alloc)
        labels = depth_labels(self.policy.space, alloc, ranks, bool(clicked), self.no_click_weight)
        self.policy.update(result.context, result.decision, labels)
        shown = result.shown(self.show_k)
        for arm in self.arms.values():
            arm.observe(result.query, shown, clicked)
        observe = getattr(self.featurizer, "observe", None)
        if observe is not None:  # dynamic context features (e.g. recent hit rate per intent)
            observe(result.query, result.arm_results, clicked)
        return labels

    def reset(self, seed: int) -> None:
        """Forget learned state (policy, arms, dynamic context features) and reseed: an independent run starts."""
        self.policy.reset(seed)
        for arm in self.arms.values():
            arm.reset(seed)
        reset = getattr(self.featurizer, "reset", None)
        if reset is not None:
            reset()
