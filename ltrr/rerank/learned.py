"""The learned rank stage: a :class:`~ltrr.rerank.ranker.Ranker` over :class:`RankFeaturizer` features, retrained
from the clicks it observes (inverse-propensity weighted), with optional swap interventions to estimate the
propensities online."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ltrr.rerank.features import RankFeaturizer
from ltrr.rerank.propensity import SwapInterventions, cascade_reached, ips_weights, pbm_examination
from ltrr.rerank.ranker import ListData, Ranker
from ltrr.types import ArmResult, FusedItem, Query
from ltrr.utils.lru import LRU

log = logging.getLogger(__name__)


class LearnedReranker:
    """Reorders the fused union's head by a learned ranker; learns from the impressions it is told about.

    Until the first fit (``min_lists`` impressions with a click) the fused order is kept. Then every
    ``retrain_every`` new clicked impressions the ranker is refitted from scratch on the latest ``max_lists``.

    Parameters
    ----------
    featurizer : RankFeaturizer
    ranker : Ranker
    top_n : int
        Fused items rescored (the rest keep their fused order after them).
    show_k : int
        Positions whose clicks are learned from (what the user sees).
    retrain_every, min_lists, max_lists : int
        Retraining schedule and buffer size, in clicked impressions.
    propensity_eta : float
        Examination ``(1 / k)^η`` assumed for IPS weights (``0``: no correction, the naive ranker); replaced by the
        swap-intervention estimate once one exists.
    examination : {"pbm", "cascade"}
        ``"pbm"``: the position-based propensities above. ``"cascade"``: the user stops at the first click, so
        position ``k`` is examined when nothing above it was clicked; the propensity of ``k`` is the share of all
        observed impressions (clicked or not) that reached it (the pooled estimate of
        :func:`~ltrr.rerank.propensity.cascade_propensities`; no intervention needed), ``(1 / k)^η`` until
        ``10 * show_k`` impressions are counted.
    swap_rate : float
        Share of impressions with position 1 swapped with a random position ``2..show_k`` (0: no interventions).
    clip : float, optional
        Largest IPS weight.
    seed : int
        Seed of the interventions.
    """

    defer_retrain = False  # True (a server): a due refit only sets retrain_due; see begin_retrain

    def __init__(self, featurizer: RankFeaturizer, ranker: Ranker, top_n: int = 50, show_k: int = 10,
                 retrain_every: int = 500, min_lists: int = 200, max_lists: int = 20_000,
                 propensity_eta: float = 1.0, swap_rate: float = 0.0, clip: float | None = 100.0,
                 seed: int = 0, examination: str = "pbm") -> None:
        if top_n < 1 or show_k < 2:
            raise ValueError(f"top_n must be >= 1 and show_k >= 2, got {top_n}, {show_k}")
        if retrain_every < 1 or min_lists < 1 or max_lists < min_lists:
            raise ValueError("need retrain_every >= 1, min_lists >= 1 and max_lists >= min_lists")
        if not 0 <= swap_rate < 1:
            raise ValueError(f"swap_rate must be in [0, 1), got {swap_rate}")
        if examination not in ("pbm", "cascade"):
            raise ValueError(f"examination must be 'pbm' or 'cascade', got {examination!r}")
        self.examination = examination
        self.featurizer, self.ranker, self.top_n, self.show_k = featurizer, ranker, int(top_n), int(show_k)
        self.retrain_every, self.min_lists, self.max_lists = int(retrain_every), int(min_lists), int(max_lists)
        self.eta, self.swap_rate, self.clip = float(propensity_eta), float(swap_rate), clip
        self.model_id = f"learned:{getattr(ranker, 'name', type(ranker).__name__)}"
        self.last_latency_ms = 0.0
        self.reset(seed)

    # ------------------------------------------------------------------ serving
    def rerank(self, query: Query, items: list[FusedItem],
               arm_results: Mapping[str, ArmResult] | None = None) -> list[FusedItem]:
        """The head reordered by the ranker (fused order before the first fit), then the tail unchanged.

        The features of the head are kept (per query id) for :meth:`observe`.
        """
        t0 = time.perf_counter()
        head, tail = items[:self.top_n], items[self.top_n:]
        X = self.featurizer(query, head, arm_results or {})
        if self.ranker.fitted and len(head) > 1:
            scores = self.ranker.score(X)
            order = np.argsort(-scores, kind="stable")
            head = [replace(head[i], score=float(scores[i])) for i in order]
            X = X[order]
        top = 1
        if self.swaps is not None:
            perm, top = self.swaps.intervene(list(range(min(self.show_k, len(head)))))
            head = [head[i] for i in perm] + head[len(perm):]
            X = np.concatenate([X[perm], X[len(perm):]])
        self._seen.put(query.id, ([it.doc_id for it in head], X, top))
        self.last_latency_ms = (time.perf_counter() - t0) * 1000.0
        return head + list(tail)

    # ------------------------------------------------------------------ learning
    @property
    def n_lists(self) -> int:
        """Clicked impressions buffered for training."""
        return len(self._buf)

    def propensities(self) -> np.ndarray:
        """``θ_1..θ_show_k`` used for the IPS weights now."""
        if self.examination == "cascade" and self.eta > 0 and self._imps[0] >= 10 * self.show_k:
            theta = self._reach / np.maximum(self._imps, 1.0)
            # a position never shown yet takes the one above it
            for k in range(1, self.show_k):
                if self._imps[k] == 0:
                    theta[k] = theta[k - 1]
            return np.clip(theta, 1e-3, 1.0)
        if self.swaps is not None and self.swaps.clicks[1] > 0 and self.swaps.shown[2:].sum() >= 10 * self.show_k:
            return self.swaps.estimate()
        return pbm_examination(self.show_k, self.eta)

    def impression_features(self, query_id: str, shown: Sequence[str]) -> tuple[np.ndarray, int] | None:
        """The features of the shown documents of an impression this reranker ordered, shape ``(k, d)`` with
        ``k = min(len(shown), show_k)``, and the position its swap intervention moved to the top; ``None`` for an
        impression it did not order (unknown query id, or another shown list)."""
        seen = self._seen.get(query_id)
        if seen is None:
            return None
        ids, X, top = seen
        k = min(len(shown), self.show_k, len(ids))
        if list(shown[:k]) != ids[:k]:
            return None
        return X[:k], int(top)  # never modified in place; observe copies what it keeps

    def observe(self, query: Query, shown: Sequence[str], clicked: Sequence[str],
                features: tuple[np.ndarray, int] | None = None) -> bool:
        """Learn from the clicks on an impression this reranker ordered; returns whether the ranker was refitted.

        ``features``: the impression's :meth:`impression_features`, when replayed from a journal; otherwise they
        are looked up. Impressions it did not order (unknown query id, or a different shown list) are ignored.
        """
        got = features if features is not None else self.impression_features(query.id, shown)
        if got is None:
            return False
        X, top = got
        k = len(X)
        chosen = set(clicked)
        clicks = np.array([d in chosen for d in shown[:k]], dtype=float)
        if self.swaps is not None:
            self.swaps.record(top, bool(clicks[top - 1]) if top <= k else False)
        self._imps[:k] += 1
        self._reach[:k] += cascade_reached(clicks)
        if not clicks.any():
            return False
        self._buf.append((X[:k].copy(), clicks))
        if len(self._buf) > self.max_lists:
            del self._buf[:len(self._buf) - self.max_lists]
        self._new += 1
        first = not self.ranker.fitted and not self._fitting
        if len(self._buf) >= self.min_lists and (self._new >= self.retrain_every or first):
            if self.defer_retrain:
                self.retrain_due = True  # a server refits off its lock, see begin_retrain
                return False
            self.retrain()
            return True
        return False

    def _training_lists(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """The buffered impressions (a new list of the same, never modified, arrays) and the propensities now."""
        if not self._buf:
            raise ValueError("no clicked impression to learn from yet")
        return list(self._buf), self.propensities()

    def _training_data(self, lists: list[tuple[np.ndarray, np.ndarray]], theta: np.ndarray) -> ListData:
        """The impressions as IPS-weighted lists."""
        table = ips_weights(np.arange(1, self.show_k + 1), theta, self.clip)  # weight per position, once
        return ListData.from_lists([x for x, _ in lists], [c for _, c in lists], [table[:len(c)] for _, c in lists],
                                   [np.arange(1, len(c) + 1) for _, c in lists])

    def retrain(self) -> None:
        """Refit the ranker on the buffered impressions (IPS-weighted with :meth:`propensities`)."""
        lists, theta = self._training_lists()
        self.ranker.fit(self._training_data(lists, theta))
        self._new, self.fits = 0, self.fits + 1
        log.info("%s: refit %d on %d clicked impressions (θ %s)", self.model_id, self.fits, len(self._buf),
                 np.round(theta, 3).tolist())

    def begin_retrain(self) -> Callable[[], Callable[[], None]]:
        """Refitting off a server's lock (``defer_retrain``), as
        :meth:`~ltrr.bandit.neural.NeuralLinearTSPolicy.begin_retrain`: under the lock, take the buffered
        impressions and copy the ranker; the returned job fits the copy without the lock and returns the
        ``install`` step (under the lock again) that puts it in place. Only the list of buffered impressions is
        copied under the lock; the training lists are built in the job. Searches meanwhile use the previous
        model."""
        self.retrain_due = False
        lists, theta = self._training_lists()
        fresh, n, self._new, self._fitting = copy.deepcopy(self.ranker), len(lists), 0, True

        def job() -> Callable[[], None]:
            try:
                fresh.fit(self._training_data(lists, theta))
            except Exception:
                self._fitting = False
                raise

            def install() -> None:
                self.ranker, self.fits, self._fitting = fresh, self.fits + 1, False
                log.info("%s: refit %d on %d clicked impressions, off the lock (θ %s)", self.model_id, self.fits,
                         n, np.round(theta, 3).tolist())
            return install
        return job

    def reset(self, seed: int) -> None:
        """Forget the buffer, the fitted model and the interventions' counts (a new run)."""
        self._buf: list[tuple[np.ndarray, np.ndarray]] = []
        self._seen = LRU(4096)
        self._new, self.fits, self.retrain_due, self._fitting = 0, 0, False, False
        self._imps, self._reach = np.zeros(self.show_k), np.zeros(self.show_k)  # per position: shown, reached
        self.swaps = SwapInterventions(self.show_k, self.swap_rate, seed) if self.swap_rate > 0 else None
        self.ranker.load_state_dict({})

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Fitted ranker, buffered impressions (stacked) and intervention counts."""
        sizes = np.array([len(c) for _, c in self._buf], dtype=np.int64)
        return {"ranker": self.ranker.state_dict(), "fits": self.fits, "new": self._new, "sizes": sizes,
                "X": (np.concatenate([x for x, _ in self._buf]) if self._buf
                      else np.zeros((0, self.featurizer.dim), np.float32)),
                "clicks": np.concatenate([c for _, c in self._buf]) if self._buf else np.zeros(0),
                "swaps": ({"shown": self.swaps.shown, "clicks": self.swaps.clicks} if self.swaps is not None else {}),
                "impressions": self._imps, "reached": self._reach}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.ranker.load_state_dict(dict(state.get("ranker") or {}))
        self.fits, self._new = int(state.get("fits", 0)), int(state.get("new", 0))
        sizes = np.asarray(state.get("sizes", np.zeros(0)), dtype=np.int64)
        X, c = np.asarray(state.get("X")), np.asarray(state.get("clicks"))
        cuts = np.cumsum(sizes)[:-1]
        self._buf = list(zip(np.split(X, cuts), np.split(c, cuts))) if len(sizes) else []
        if "impressions" in state:  # states saved before the counts existed keep fresh ones
            self._imps = np.asarray(state["impressions"], float).copy()
            self._reach = np.asarray(state["reached"], float).copy()
        sw = state.get("swaps") or {}
        if self.swaps is not None and sw:
            self.swaps.shown, self.swaps.clicks = np.asarray(sw["shown"], float), np.asarray(sw["clicks"], float)
