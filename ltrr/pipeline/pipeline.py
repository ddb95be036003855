"""RetrievePipeline: featurise -> policy picks depths -> arms retrieve -> union -> rank -> learn from clicks."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ltrr.arms.base import Arm
from ltrr.bandit.base import DepthLabels, Policy, depth_labels
from ltrr.bandit.features import ContextFeaturizer
from ltrr.rerank.fusion import RRFFusion
from ltrr.types import ArmResult, Decision, FusedItem, Query

if TYPE_CHECKING:
    from ltrr.rerank.cross import CrossEncoderReranker
    from ltrr.rerank.learned import LearnedReranker


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

    def impression(self, k: int) -> Impression:
        """What feedback on the first ``k`` results needs, without the arms' full lists (see :class:`Impression`)."""
        shown = tuple(self.shown(k))
        ranks = np.full((len(shown), len(self.arm_results)), np.inf)
        row = {d: i for i, d in enumerate(shown)}
        for j, res in enumerate(self.arm_results.values()):
            for c in res.candidates:
                i = row.get(c.doc_id)
                if i is not None and c.rank < ranks[i, j]:
                    ranks[i, j] = c.rank
        return Impression(self.query, self.context, self.decision, tuple(self.arm_results), shown, ranks)


@dataclass(frozen=True)
class Impression:
    """A search awaiting clicks, kept compact: a server may hold thousands, and a :class:`SearchResult` with every
    arm's full list is about a thousand objects for the garbage collector to walk.

    Attributes
    ----------
    query : Query
    context : numpy.ndarray, shape ``(n_features,)``
    decision : Decision
    arms : tuple of str
        Arm names, the columns of ``ranks``.
    shown : tuple of str
        Document ids shown, in order.
    ranks : numpy.ndarray, shape ``(len(shown), len(arms))``
        1-based rank of each shown document in each arm's full list, ``inf`` where absent.
    """

    query: Query
    context: np.ndarray
    decision: Decision
    arms: tuple[str, ...]
    shown: tuple[str, ...]
    ranks: np.ndarray


@dataclass
class Feedback:
    """Everything one round of feedback teaches, independent of the arms' lists, so it can be logged (JSON) and
    replayed onto a restored pipeline.

    Attributes
    ----------
    query : Query
    context : numpy.ndarray, shape ``(n_features,)``
    decision : Decision
    click_ranks : dict[str, float]
        Best 1-based rank of a clicked document in each arm's full list (``inf``: absent or no click).
    shown : list[str]
        Document ids shown to the user.
    clicked : list[str]
        Clicked document ids (distinct, in click order).
    rank_features : numpy.ndarray, shape ``(k, n_rank_features)``, optional
        What a learned rank stage saw of the first ``k`` shown documents (its features, in shown order), so that a
        replay teaches it as the live feedback did; ``None`` without such a stage.
    rank_top : int
        The position the rank stage's swap intervention moved to the top (1: none).
    """

    query: Query
    context: np.ndarray
    decision: Decision
    click_ranks: dict[str, float]
    shown: list[str]
    clicked: list[str]
    rank_features: np.ndarray | None = None
    rank_top: int = 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (non-finite ranks as ``null``; decision info kept where JSON-able scalars)."""
        info = {k: v.item() if isinstance(v, np.generic) else v for k, v in self.decision.info.items()
                if isinstance(v, (bool, int, float, str, np.generic)) and np.ndim(v) == 0}
        meta = {k: v for k, v in self.query.metadata.items() if isinstance(v, (bool, int, float, str))}
        return {"query": {"id": self.query.id, "text": self.query.text, "user_id": self.query.user_id,
                          "metadata": meta},
                "context": [float(v) for v in self.context],
                "decision": {"allocation": list(self.decision.allocation), "propensity": self.decision.propensity,
                             "policy": self.decision.policy, "info": info},
                "click_ranks": {k: (float(v) if np.isfinite(v) else None) for k, v in self.click_ranks.items()},
                "shown": list(self.shown), "clicked": list(self.clicked),
                **({} if self.rank_features is None else
                   {"rank": {"X": np.asarray(self.rank_features, dtype=float).tolist(), "top": int(self.rank_top)}})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Feedback":
        """Inverse of :meth:`to_json`."""
        q, dec = d["query"], d["decision"]
        return cls(Query(str(q["id"]), str(q["text"]), q.get("user_id"), dict(q.get("metadata") or {})),
                   np.asarray(d["context"], dtype=float),
                   Decision(tuple(int(n) for n in dec["allocation"]), float(dec["propensity"]), str(dec["policy"]),
                            dict(dec.get("info") or {})),
                   {k: (np.inf if v is None else float(v)) for k, v in d["click_ranks"].items()},
                   [str(x) for x in d["shown"]], [str(x) for x in d["clicked"]],
                   np.asarray(d["rank"]["X"], dtype=np.float32) if d.get("rank") else None,
                   int(d["rank"]["top"]) if d.get("rank") else 1)


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
    reranker : CrossEncoderReranker or LearnedReranker, optional
        Rank stage applied to the fused ranking: its head reordered by a cross-encoder, or by a learned ranker that
        learns from the clicks (see :meth:`apply`); ``None``: fused order.
    parallel_arms : sequence of str
        Arms retrieved, one after the other, on a worker thread while the others run on the caller's; results are
        the same. The worker's share should be the arms that are cheap or spend their time outside the GIL: on a
        lightly loaded virtual machine a sleeping thread takes a millisecond or two to wake, so the slowest arm
        (e.g. the dense one's query encoder) is better left on the caller's thread, which is already running.
    """

    def __init__(self, arms: Mapping[str, Arm], policy: Policy, featurizer: ContextFeaturizer, fusion: RRFFusion,
                 show_k: int = 10, no_click_weight: float = 1.0, label_scope: str = "allocated",
                 reranker: CrossEncoderReranker | LearnedReranker | None = None,
                 parallel_arms: Sequence[str] = ()) -> None:
        if label_scope not in ("allocated", "retrieved"):
            raise ValueError(f"label_scope must be 'allocated' or 'retrieved', got {label_scope!r}")
        self.label_scope = label_scope
        if list(arms) != policy.arms or list(arms) != featurizer.arms:
            raise ValueError(f"arm order differs: pipeline {list(arms)}, policy {policy.arms}, "
                             f"featurizer {featurizer.arms}")
        self.arms, self.policy, self.featurizer, self.fusion = dict(arms), policy, featurizer, fusion
        self.show_k, self.no_click_weight, self.reranker = show_k, no_click_weight, reranker
        self.max_depth = policy.space.depths[-1]
        unknown = sorted(set(parallel_arms) - set(arms))
        if unknown:
            raise ValueError(f"parallel_arms: unknown arm(s) {unknown}; arms are {list(arms)}")
        self.parallel_arms = tuple(dict.fromkeys(parallel_arms))
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ltrr-arm") if self.parallel_arms else None

    def retrieve_all(self, query: Query, cached: Mapping[str, ArmResult] | None = None) -> dict[str, ArmResult]:
        """Every arm's list at the maximum depth; ``cached`` results (static arms) are reused."""
        cached = cached or {}
        aside = [n for n in self.parallel_arms if n not in cached] if self._pool is not None else []
        future = (self._pool.submit(lambda: {n: self.arms[n].retrieve(query, self.max_depth) for n in aside})
                  if aside else None)
        out = {n: cached[n] if n in cached else a.retrieve(query, self.max_depth)
               for n, a in self.arms.items() if n not in aside}
        if future is not None:
            out.update(future.result())
        return {n: out[n] for n in self.arms}

    def search(self, query: Query, cached: Mapping[str, ArmResult] | None = None,
               timings: dict[str, float] | None = None) -> SearchResult:
        """Run one query through the pipeline (no learning yet); ``timings`` receives seconds per stage
        (``retrieve``, ``featurize``, ``policy``, ``fuse``, ``rerank``)."""
        t0 = time.perf_counter()
        results = self.retrieve_all(query, cached)
        t1 = time.perf_counter()
        context = self.featurizer(query, results)
        t2 = time.perf_counter()
        decision: Decision = self.policy.select(context)
        t3 = time.perf_counter()
        ranking = self.fusion.fuse(results, dict(zip(results, decision.allocation)))
        t4 = time.perf_counter()
        if self.reranker is not None:
            ranking = self.reranker.rerank(query, ranking, results)
        if timings is not None:
            timings.update(retrieve=t1 - t0, featurize=t2 - t1, policy=t3 - t2, fuse=t4 - t3,
                           rerank=time.perf_counter() - t4)
        return SearchResult(query, context, decision, results, ranking)

    def feedback_event(self, result: SearchResult | Impression, clicked: Sequence[str],
                       shown_k: int | None = None) -> Feedback:
        """What the clicks on ``result`` teach, as a self-contained record (see :class:`Feedback`); the first
        ``shown_k`` results (default ``show_k``) count as shown. An :class:`Impression` brings its own shown list,
        and its clicks must be among it."""
        clicked = list(dict.fromkeys(str(c) for c in clicked))
        if isinstance(result, Impression):
            row = {d: i for i, d in enumerate(result.shown)}
            missing = [d for d in clicked if d not in row]
            if missing:
                raise ValueError(f"clicked ids not among the impression's shown results: {missing[:5]}")
            best = result.ranks[[row[d] for d in clicked]].min(axis=0) if clicked else np.full(len(result.arms),
                                                                                               np.inf)
            ranks, shown = {n: float(r) for n, r in zip(result.arms, best)}, list(result.shown)
        else:
            ranks = {n: float(min((r.rank_of(d) or np.inf for d in clicked), default=np.inf))
                     for n, r in result.arm_results.items()}
            shown = result.shown(self.show_k if shown_k is None else shown_k)
        fb = Feedback(result.query, np.asarray(result.context, dtype=float), result.decision, ranks, shown, clicked)
        seen = getattr(self.reranker, "impression_features", None)  # what a learned rank stage saw of them
        got = seen(fb.query.id, fb.shown) if seen is not None else None
        if got is not None:
            fb.rank_features, fb.rank_top = got
        return fb

    def apply(self, fb: Feedback) -> DepthLabels:
        """Teach the policy, the learning arms and the featurizer's dynamic features from one :class:`Feedback`."""
        ranks = np.array([fb.click_ranks.get(n, np.inf) for n in self.arms], dtype=float)
        alloc = fb.decision.allocation
        if fb.clicked and self.label_scope == "retrieved":
            alloc = (self.max_depth,) * len(alloc)
        labels = depth_labels(self.policy.space, alloc, ranks, bool(fb.clicked), self.no_click_weight)
        self.policy.update(fb.context, fb.decision, labels)
        for arm in self.arms.values():
            arm.observe(fb.query, fb.shown, fb.clicked)
        observe = getattr(self.featurizer, "observe_ranks", None)
        if observe is not None:  # dynamic context features (e.g. recent hit rate per intent)
            observe(fb.query, fb.click_ranks, bool(fb.clicked))
        learn = getattr(self.reranker, "observe", None)
        if learn is not None:  # a learned rank stage: its impressions and clicks (retrained on its schedule)
            learn(fb.query, fb.shown, fb.clicked,
                  None if fb.rank_features is None else (fb.rank_features, fb.rank_top))
        return labels

    def feedback(self, result: SearchResult, clicked: Sequence[str]) -> DepthLabels:
        """Teach the policy, the learning arms and the featurizer's dynamic features from the clicks on ``result``."""
        return self.apply(self.feedback_event(result, clicked))

    def state_dict(self) -> dict[str, Any]:
        """Learned state: the policy's (and its RNG's), the arms', the featurizer's dynamic features."""
        feat = getattr(self.featurizer, "state_dict", None)
        rank = getattr(self.reranker, "state_dict", None)
        return {"policy": self.policy.state_dict(), "arms": {n: a.state_dict() for n, a in self.arms.items()},
                "featurizer": feat() if feat is not None else {}, "reranker": rank() if rank is not None else {},
                "policy_rng": json.dumps(self.policy.rng.bit_generator.state)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` onto a pipeline built from the same configuration."""
        if state.get("policy"):
            self.policy.load_state_dict(dict(state["policy"]))
        for name, arm in self.arms.items():
            arm.load_state_dict(state.get("arms", {}).get(name, {}))
        load = getattr(self.featurizer, "load_state_dict", None)
        if load is not None and state.get("featurizer"):
            load(state["featurizer"])
        load_rank = getattr(self.reranker, "load_state_dict", None)
        if load_rank is not None and state.get("reranker"):
            load_rank(state["reranker"])
        if state.get("policy_rng"):
            self.policy.rng.bit_generator.state = json.loads(state["policy_rng"])

    def reset(self, seed: int) -> None:
        """Forget learned state (policy, arms, dynamic context features, a learned rank stage) and reseed: an
        independent run starts."""
        self.policy.reset(seed)
        reset_rank = getattr(self.reranker, "reset", None)
        if reset_rank is not None:
            reset_rank(seed)
        for arm in self.arms.values():
            arm.reset(seed)
        reset = getattr(self.featurizer, "reset", None)
        if reset is not None:
            reset()
