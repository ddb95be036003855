"""The online simulation: a query stream through a pipeline, clicks from a click model, everything logged."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Mapping, Sequence

from tqdm.auto import tqdm

from ltrr.arms.base import Arm
from ltrr.data.music.queries import SimQuery
from ltrr.pipeline.log import InteractionLog
from ltrr.pipeline.pipeline import RetrievePipeline
from ltrr.simulate.click_models import ClickModel
from ltrr.types import ArmResult, Interaction

log = logging.getLogger(__name__)


def precompute_static(arms: Mapping[str, Arm], stream: Sequence[SimQuery], k: int) -> list[dict[str, ArmResult]]:
    """Results of the static arms for every query of ``stream`` (batched, de-duplicated by text).

    Static arms depend on the query text only, so these results are shared by every policy run on the stream.
    """
    texts = list(dict.fromkeys(sq.query.text for sq in stream))
    first = {sq.query.text: sq.query for sq in reversed(stream)}
    by_text: dict[str, dict[str, ArmResult]] = defaultdict(dict)
    for name, arm in arms.items():
        if arm.static:
            for text, res in zip(texts, arm.retrieve_batch([first[t] for t in texts], k)):
                by_text[text][name] = res
    return [by_text[sq.query.text] for sq in stream]


def run_online(pipeline: RetrievePipeline, stream: Sequence[SimQuery], click_model: ClickModel,
               log_to: InteractionLog, seed: int, cache: Sequence[Mapping[str, ArmResult]] | None = None,
               progress: bool = True, desc: str = "") -> list[dict]:
    """Run one policy over a query stream from a fresh state.

    Parameters
    ----------
    pipeline : RetrievePipeline
        Reset with ``seed`` before the first round.
    stream : sequence of SimQuery
    click_model : ClickModel
        Reset with ``seed`` too, so that policies compared on one seed face the same users.
    log_to : InteractionLog
    seed : int
    cache : sequence of mapping, optional
        Output of :func:`precompute_static` for ``stream``.

    Returns
    -------
    list of dict
        The logged records; ``extra`` holds the ground truth: ``intent``, ``targets``, ``hit`` (a target is in the
        union), ``recall`` (share of targets in the union), ``oracle_hit`` (some feasible allocation would have
        hit), ``arm_ranks`` (rank of the best target in each arm's full list, ``None`` when absent) and ``decision``
        (the policy's ``Decision.info``: exploration flag, Monte-Carlo propensity parts, per-arm marginals, seed,
        round and generator state for Thompson samplers).
    """
    pipeline.reset(seed)
    click_model.reset(seed)
    if hasattr(pipeline.featurizer, "prime"):  # batch-encode the stream's texts once (query-embedding features)
        pipeline.featurizer.prime(list(dict.fromkeys(sq.query.text for sq in stream)))
    policy = pipeline.policy
    budget = policy.space.budget
    out = []
    for t, sq in enumerate(tqdm(stream, desc=desc or policy.name, disable=not progress, leave=False)):
        res = pipeline.search(sq.query, cache[t] if cache is not None else None)
        shown = res.shown(pipeline.show_k)
        clicked, converted = click_model.session(shown, sq.targets)
        pipeline.feedback(res, clicked + converted)
        union = {it.doc_id for it in res.ranking}
        found = sum(1 for d in sq.targets if d in union)
        arm_ranks = {a: min((r.rank_of(d) or 10**9 for d in sq.targets), default=10**9)
                     for a, r in res.arm_results.items()}
        extra = {"intent": sq.intent, "targets": sq.targets, "hit": found > 0, "recall": found / len(sq.targets),
                 "oracle_hit": any(r <= min(budget, pipeline.max_depth) for r in arm_ranks.values()),
                 "arm_ranks": {a: (r if r < 10**9 else None) for a, r in arm_ranks.items()}, "seed": seed,
                 "converted": converted, "decision": dict(res.decision.info)}
        inter = Interaction(t, sq.query.id, sq.query.text, sq.query.user_id, policy.name, res.allocation,
                            res.decision.propensity, [round(float(x), 5) for x in res.context], shown, clicked,
                            len(union), extra)
        out.append(log_to.append(inter))
    return out
