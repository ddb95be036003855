"""Context features: cheap query understanding, user and time signals, and per-arm result statistics.

The base vector (:attr:`ContextFeaturizer.QUERY_FEATURES` then the per-arm statistics) is always there. Four
opt-in blocks extend it; each is off by default, so a featurizer built with defaults gives exactly the base vector:

``qu`` (a :class:`~ltrr.qu.tagger.QueryUnderstanding`)
    One indicator per slot type the tagger emits (:data:`SLOT_ORDER`, then any further slot names of the
    tagger's dictionaries, sorted), the share of query words covered by some slot and whether spelling
    correction changed a word. Parses are cached per query text.
``language``
    Share of the query's letters that are not ASCII. That is all: the music world's catalogue does carry a
    ``language`` metadata field, but its names and titles are generated from ASCII word lists whatever that
    field says, so nothing in a query's text reveals it; a language identifier would only add noise here.
``embedder`` (a callable ``texts -> (n, d)`` array, e.g. the dense arm's ``DenseEncoder.encode``)
    The query embedding projected to ``embed_dim`` dimensions by a fixed Gaussian random projection (entries
    ``N(0, 1/embed_dim)``, so a unit-norm embedding keeps about unit norm), drawn from ``embed_seed``; or by
    PCA after :meth:`ContextFeaturizer.fit_projection`. Projected vectors are cached per query text (LRU).
``arm_hit_rate``
    For each arm, an exponentially decayed hit rate (a clicked document within the arm's first ``hit_depth``
    results) among recent clicked queries of the current query's predicted intent class (the first slot the
    tagger finds, ``"none"`` when it finds none, or ``"all"`` without a tagger). Learned online through
    :meth:`ContextFeaturizer.observe`; :meth:`ContextFeaturizer.reset` forgets it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

import numpy as np

from ltrr.types import ArmResult, Query
from ltrr.utils.lru import LRU
from ltrr.utils.seed import make_rng
from ltrr.utils.text import tokens

if TYPE_CHECKING:
    from ltrr.qu.tagger import QueryUnderstanding

log = logging.getLogger(__name__)

TYPE_WORDS = frozenset({"podcast", "podcasts", "episode", "album", "albums", "discography", "playlist", "artist"})
NEW_WORDS = frozenset({"new", "latest", "fresh", "recent", "release", "releases"})
ARM_STATS = ("n", "top", "gap")
ALL_ARM_STATS = ("n", "top", "gap", "mean", "std", "latency")
SLOT_ORDER = ("artist", "title", "album", "genre", "mood", "activity", "type", "new", "year", "decade")
NO_SLOT, NO_QU = "none", "all"

Embedder = Callable[[Sequence[str]], np.ndarray]


class ContextFeaturizer:
    """Build the context vector a policy sees.

    Parameters
    ----------
    arms : sequence of str
        Arm order; each contributes ``arm_stats`` from its :class:`ArmResult.features`.
    facet_words : iterable of str
        Words of the catalogue's facets (genres, moods, topics): a match signals a topical query.
    arm_stats : sequence of str
        Which :attr:`ArmResult.features` each arm contributes: any of ``n``, ``top``, ``gap``, ``mean``, ``std``,
        ``latency``. ``latency`` is wall time, so a policy that sees it is no longer reproducible from its seed.
    embedder : callable, optional
        ``texts -> array of shape (n, d)``, e.g. ``DenseEncoder.encode``; ``None`` (default): no embedding block.
    embed_dim : int
        Dimensions of the projected embedding (used only with ``embedder``).
    embed_seed : int
        Seed of the random projection. It is part of the featurizer's definition, not of a run: every policy
        and run seed sees the same projection.
    qu : QueryUnderstanding, optional
        Tagger for the slot block and the intent classes of the hit rates; ``None`` (default): no slot block.
    slot_features : bool
        With ``qu``: whether the slot block enters the vector (``False``: the tagger only names intent classes).
    language : bool
        Add the share of non-ASCII letters.
    arm_hit_rate : bool
        Add each arm's recent hit rate for the query's predicted intent class (learned by :meth:`observe`).
    hit_depth : int
        A clicked document counts as an arm's hit when within its first ``hit_depth`` results.
    hit_halflife : float
        Clicked queries of one intent class after which an observation's weight halves.
    cache_size : int
        Query texts whose embedding and parse are kept (LRU).
    """

    QUERY_FEATURES = ("bias", "len1", "len2", "len3", "len4+", "chars", "digit", "type_word", "new_word",
                      "facet_word", "hour_sin", "hour_cos", "history")

    def __init__(self, arms: Sequence[str], facet_words: Iterable[str] = (), arm_stats: Sequence[str] = ARM_STATS,
                 *, embedder: Embedder | None = None, embed_dim: int = 16, embed_seed: int = 0,
                 qu: QueryUnderstanding | None = None, slot_features: bool = True, language: bool = False,
                 arm_hit_rate: bool = False, hit_depth: int = 20, hit_halflife: float = 100.0,
                 cache_size: int = 4096) -> None:
        unknown = set(arm_stats) - set(ALL_ARM_STATS)
        if unknown:
            raise ValueError(f"arm_stats: unknown {sorted(unknown)}; choose from {ALL_ARM_STATS}")
        if embedder is not None and int(embed_dim) < 1:
            raise ValueError(f"embed_dim: must be >= 1 with an embedder, got {embed_dim}")
        if int(hit_depth) < 1:
            raise ValueError(f"hit_depth: must be >= 1, got {hit_depth}")
        if not float(hit_halflife) > 0:
            raise ValueError(f"hit_halflife: must be > 0, got {hit_halflife}")
        if qu is not None and not hasattr(qu, "parse"):
            raise TypeError(f"qu: expected a QueryUnderstanding, got {type(qu).__name__}")
        self.arm_stats = tuple(arm_stats)
        self.arms = list(arms)
        self.facet_words = frozenset(w for phrase in facet_words for w in tokens(phrase))
        self.embedder, self.embed_dim, self.embed_seed = embedder, int(embed_dim), int(embed_seed)
        self.qu, self.language, self.arm_hit_rate = qu, bool(language), bool(arm_hit_rate)
        self.hit_depth, self.hit_halflife = int(hit_depth), float(hit_halflife)
        self.decay = 0.5 ** (1.0 / self.hit_halflife)
        self.slots: tuple[str, ...] = ()
        self.slot_features = qu is not None and bool(slot_features)
        if qu is not None:
            extra = {s for hit in getattr(qu, "phrases", {}).values() for s in hit} - set(SLOT_ORDER)
            self.slots = SLOT_ORDER + tuple(sorted(extra))
        self._slot_index = {s: i for i, s in enumerate(self.slots)}
        self._proj: np.ndarray | None = None  # (d, embed_dim), drawn at the first embedding (d known then)
        self._mean: np.ndarray | None = None  # (d,), PCA only
        self._emb_cache, self._qu_cache = LRU(cache_size), LRU(cache_size)
        self._hit_sum: dict[str, np.ndarray] = {}  # intent class -> decayed hits per arm, shape (n_arms,)
        self._hit_weight: dict[str, float] = {}  # intent class -> decayed number of clicked queries

    @property
    def names(self) -> list[str]:
        """Feature names, aligned with :meth:`__call__`'s output."""
        out = list(self.QUERY_FEATURES)
        if self.slot_features:
            out += [f"slot.{s}" for s in self.slots] + ["slot_cover", "spell_fixed"]
        if self.language:
            out.append("non_ascii")
        if self.embedder is not None:
            out += [f"emb{i}" for i in range(self.embed_dim)]
        out += [f"{a}.{s}" for a in self.arms for s in self.arm_stats]
        if self.arm_hit_rate:
            out += [f"{a}.hit_rate" for a in self.arms]
        return out

    @property
    def dim(self) -> int:
        """Length of the context vector."""
        return len(self.names)

    # ---- query understanding -------------------------------------------------------------------------------
    def _parse(self, text: str) -> tuple[np.ndarray, str]:
        """Slot block (``(len(slots) + 2,)``: indicators, word cover, spelling fixed) and intent class of ``text``."""
        cached = self._qu_cache.get(text)
        if cached is not None:
            return cached
        if self.qu is None:
            out = (np.zeros(0), NO_QU)
        else:
            p = self.qu.parse(text)
            vec = np.zeros(len(self.slots) + 2)
            for s in p.slots:
                vec[self._slot_index[s.name]] = 1.0
            covered = {j for s in p.slots for j in range(s.start, s.end)}
            vec[-2] = len(covered) / len(p.words) if p.words else 0.0
            vec[-1] = float(any(w != c for w, c in zip(p.words, p.corrected)))
            vec.setflags(write=False)
            out = (vec, p.slots[0].name if p.slots else NO_SLOT)
        self._qu_cache.put(text, out)
        return out

    def intent_class(self, query: Query) -> str:
        """Predicted intent class of ``query``: its first slot's name, ``"none"``, or ``"all"`` without a tagger."""
        return self._parse(query.text)[1]

    # ---- embedding ---------------------------------------------------------------------------------------
    def _embed_raw(self, texts: Sequence[str]) -> np.ndarray:
        emb = np.asarray(self.embedder(list(texts)), dtype=float)
        if emb.ndim != 2 or emb.shape[0] != len(texts):
            raise ValueError(f"embedder: expected shape ({len(texts)}, d), got {emb.shape}")
        return emb

    def fit_projection(self, texts: Sequence[str]) -> "ContextFeaturizer":
        """Replace the random projection by PCA on the embeddings of ``texts`` (the top ``embed_dim`` components).

        Parameters
        ----------
        texts : sequence of str, length ``n >= embed_dim``
            A sample of query-like texts (e.g. training queries or catalogue titles).

        Returns
        -------
        ContextFeaturizer
            ``self``; the embedding cache is emptied.
        """
        if self.embedder is None:
            raise ValueError("fit_projection: no embedder")
        if len(texts) < self.embed_dim:
            raise ValueError(f"fit_projection: need at least embed_dim={self.embed_dim} texts, got {len(texts)}")
        emb = self._embed_raw(texts)
        self._mean = emb.mean(0)
        _, sing, vt = np.linalg.svd(emb - self._mean, full_matrices=False)
        k = min(self.embed_dim, vt.shape[0])
        self._proj = np.zeros((emb.shape[1], self.embed_dim))
        self._proj[:, :k] = vt[:k].T
        self._emb_cache.clear()
        share = float((sing[:k] ** 2).sum() / max((sing ** 2).sum(), 1e-12))
        log.info("context embedding: PCA on %d texts, %d -> %d dims, %.0f%% of variance",
                 len(texts), emb.shape[1], self.embed_dim, 100 * share)
        return self

    def _project(self, emb: np.ndarray) -> np.ndarray:
        """Project one raw embedding, shape ``(d,)`` -> ``(embed_dim,)`` (the random matrix is drawn on first use)."""
        if self._proj is None:
            rng = make_rng(self.embed_seed, "context-embedding", emb.shape[0])
            self._proj = rng.normal(0.0, 1.0 / np.sqrt(self.embed_dim), size=(emb.shape[0], self.embed_dim))
        if self._proj.shape[0] != emb.shape[0]:
            raise ValueError(f"embedder: dimension changed from {self._proj.shape[0]} to {emb.shape[0]}")
        out = (emb - self._mean if self._mean is not None else emb) @ self._proj
        out.setflags(write=False)
        return out

    def embed(self, text: str) -> np.ndarray:
        """The projected embedding of ``text``, shape ``(embed_dim,)`` (cached)."""
        cached = self._emb_cache.get(text)
        if cached is None:
            cached = self._project(self._embed_raw([text])[0])
            self._emb_cache.put(text, cached)
        return cached

    def prime(self, texts: Sequence[str], batch_size: int = 256) -> int:
        """Embed ``texts`` in batches ahead of time (one encoder call per batch instead of one per query).

        Only as many distinct texts as the cache holds are kept; a no-op without an embedder. A real encoder
        may give a batched text an embedding that differs from the one-at-a-time one in the last float bits, so
        prime in every run of a comparison or in none.

        Parameters
        ----------
        texts : sequence of str
            E.g. the texts of a simulated query stream.
        batch_size : int

        Returns
        -------
        int
            Texts newly embedded.
        """
        if self.embedder is None:
            return 0
        todo = [t for t in dict.fromkeys(texts) if t not in self._emb_cache.data][:self._emb_cache.maxsize]
        for s in range(0, len(todo), batch_size):
            chunk = todo[s:s + batch_size]
            for text, emb in zip(chunk, self._embed_raw(chunk)):
                self._emb_cache.put(text, self._project(emb))
        return len(todo)

    # ---- dynamic arm features ------------------------------------------------------------------------------
    def hit_rates(self, intent: str) -> np.ndarray:
        """Decayed hit rate of every arm for ``intent``, shape ``(n_arms,)``: hits / (clicked queries + 1)."""
        s = self._hit_sum.get(intent)
        return np.zeros(len(self.arms)) if s is None else s / (self._hit_weight[intent] + 1.0)

    def observe(self, query: Query, arm_results: Mapping[str, ArmResult], clicked: Sequence[str]) -> None:
        """Learn from the clicks on ``query``: update its intent class's per-arm hit rates.

        Rounds without a click are skipped (they say nothing about which arm finds what users want). A no-op
        unless ``arm_hit_rate`` is on.

        Parameters
        ----------
        query : Query
        arm_results : mapping of arm name to ArmResult
            The lists the query was served from (missing arms count as misses).
        clicked : sequence of str
            Clicked document ids.
        """
        if not self.arm_hit_rate or not clicked:
            return
        ranks = {a: min((r.rank_of(d) or np.inf for d in clicked), default=np.inf) for a, r in arm_results.items()}
        self.observe_ranks(query, ranks, True)

    def observe_ranks(self, query: Query, click_ranks: Mapping[str, float], clicked: bool) -> None:
        """:meth:`observe` from the best rank of a clicked document in each arm's list (``inf``: absent; missing
        arms count as misses), e.g. when replaying logged feedback."""
        if not self.arm_hit_rate or not clicked:
            return
        hits = np.array([float(click_ranks.get(a, np.inf) <= self.hit_depth) for a in self.arms])
        intent = self.intent_class(query)
        s = self._hit_sum.get(intent)
        self._hit_sum[intent] = hits if s is None else self.decay * s + hits
        self._hit_weight[intent] = self.decay * self._hit_weight.get(intent, 0.0) + 1.0

    def reset(self) -> None:
        """Forget the learned hit rates (caches of deterministic functions of the text are kept)."""
        self._hit_sum.clear()
        self._hit_weight.clear()

    def state_dict(self) -> dict:
        """The learned per-intent hit rates (the rest is a deterministic function of the configuration)."""
        return {"hit_sum": {k: v.copy() for k, v in self._hit_sum.items()}, "hit_weight": dict(self._hit_weight)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        self._hit_sum = {str(k): np.asarray(v, dtype=float) for k, v in state.get("hit_sum", {}).items()}
        self._hit_weight = {str(k): float(v) for k, v in state.get("hit_weight", {}).items()}

    # ---- the vector ----------------------------------------------------------------------------------------
    def __call__(self, query: Query, arm_results: Mapping[str, ArmResult]) -> np.ndarray:
        """Featurise one query.

        Parameters
        ----------
        query : Query
            ``metadata`` may hold ``hour`` (0-23) and ``history_len``.
        arm_results : mapping of arm name to ArmResult
            Results of every arm (missing arms contribute zeros).

        Returns
        -------
        numpy.ndarray, shape ``(dim,)``
            Laid out as :attr:`names`.
        """
        toks = tokens(query.text)
        n = len(toks)
        hour = float(query.metadata.get("hour", 12)) * 2 * np.pi / 24
        hist = float(query.metadata.get("history_len", 0))
        q = [1.0, n == 1, n == 2, n == 3, n >= 4, min(len(query.text) / 30, 2.0),
             any(t.isdigit() for t in toks), bool(TYPE_WORDS & set(toks)), bool(NEW_WORDS & set(toks)),
             bool(self.facet_words & set(toks)), np.sin(hour), np.cos(hour), np.log1p(hist) / 5]
        arm = [float(arm_results[a].features.get(s, 0.0)) if a in arm_results else 0.0
               for a in self.arms for s in self.arm_stats]
        if not (self.slot_features or self.language or self.embedder is not None or self.arm_hit_rate):
            return np.asarray(q + arm, dtype=float)
        parts = [np.asarray(q, dtype=float)]
        if self.slot_features:
            parts.append(self._parse(query.text)[0])
        if self.language:
            letters = [c for c in query.text if c.isalpha()]
            parts.append(np.array([sum(not c.isascii() for c in letters) / len(letters) if letters else 0.0]))
        if self.embedder is not None:
            parts.append(self.embed(query.text))
        parts.append(np.asarray(arm, dtype=float))
        if self.arm_hit_rate:
            parts.append(self.hit_rates(self.intent_class(query)))
        return np.concatenate(parts)
