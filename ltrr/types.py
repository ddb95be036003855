"""Plain data types shared by every layer.

Nothing here imports anything from ``ltrr``; every other package may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple

Allocation = tuple[int, ...]
"""Candidates drawn from each arm, in the policy's arm order (``0`` = arm not used)."""


@dataclass(frozen=True)
class Doc:
    """One retrievable entity (a track, artist, album, playlist, podcast, episode or passage).

    Parameters
    ----------
    id : str
        Unique identifier.
    title : str
        Short name; may be empty.
    text : str
        Body text used by full-text and dense arms.
    metadata : Mapping[str, Any]
        Every extra field of the source record (type, genre, popularity, ...), kept verbatim.
    """

    id: str
    title: str = ""
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """Title and text joined with a space (what lexical and dense arms index)."""
        return f"{self.title} {self.text}".strip()


@dataclass(frozen=True)
class Query:
    """A search request.

    Parameters
    ----------
    id : str
        Identifier (unique per request in a simulation).
    text : str
        What the user typed.
    user_id : str or None
        The searching user, when known.
    metadata : Mapping[str, Any]
        Extra fields (time of day, slots from query understanding, ...).
    """

    id: str
    text: str
    user_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Candidate(NamedTuple):
    """A document proposed by one arm (a named tuple: arms build hundreds per query, so it must be cheap).

    Parameters
    ----------
    doc_id : str
        The document.
    score : float
        The arm's own score (scales differ between arms).
    rank : int
        1-based rank inside the arm's list.
    arm : str
        Name of the arm that produced it.
    norm_score : float
        ``score`` min-max normalised within the arm's list (1 = the list's best, 0 = its worst).
    """

    doc_id: str
    score: float
    rank: int
    arm: str
    norm_score: float = 0.0


@dataclass(frozen=True)
class ArmResult:
    """What one arm returned for one query.

    Parameters
    ----------
    arm : str
        Arm name.
    candidates : tuple[Candidate, ...]
        Ranked best first.
    features : Mapping[str, float]
        Cheap per-arm statistics (score summary, result count, latency), each roughly in ``[0, 1]``.
    latency_ms : float
        Wall time the arm took for this query, in milliseconds (batch time / batch size for batches).
    """

    arm: str
    candidates: tuple[Candidate, ...]
    features: Mapping[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0

    def top(self, k: int) -> tuple[Candidate, ...]:
        """The first ``k`` candidates."""
        return self.candidates[:k]

    def rank_of(self, doc_id: str) -> int | None:
        """1-based rank of ``doc_id`` in this list, or ``None`` when absent."""
        for c in self.candidates:
            if c.doc_id == doc_id:
                return c.rank
        return None


@dataclass(frozen=True)
class Decision:
    """A policy's choice for one query.

    Parameters
    ----------
    allocation : Allocation
        Depth per arm, in the policy's arm order; sums to at most the budget.
    propensity : float
        Probability that the policy, in this context, plays exactly this allocation.
    policy : str
        Name of the policy.
    info : Mapping[str, Any]
        Policy-specific diagnostics (sampled hit probabilities, exploration flag, ...).
    """

    allocation: Allocation
    propensity: float
    policy: str
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FusedItem:
    """One document of the candidate union, with its provenance.

    Parameters
    ----------
    doc_id : str
        The document.
    score : float
        Fused score (higher is better).
    arms : tuple[str, ...]
        Arms that proposed it.
    arm_ranks : tuple[int, ...]
        Its rank in each of those arms, aligned with ``arms``.
    """

    doc_id: str
    score: float
    arms: tuple[str, ...]
    arm_ranks: tuple[int, ...]


@dataclass(frozen=True)
class Interaction:
    """One logged round: what was shown, why, with which propensity, and what was clicked.

    Parameters
    ----------
    round : int
        Round index within the run.
    query_id, query_text, user_id : str
        The request.
    policy : str
        Policy that decided.
    allocation : dict[str, int]
        Depth per arm.
    propensity : float
        Logging propensity of ``allocation``.
    context : list[float]
        The context vector the policy saw, shape ``(n_features,)``.
    shown : list[str]
        Ranked documents shown to the user.
    clicked : list[str]
        Clicked documents, in click order.
    union_size : int
        Size of the de-duplicated candidate union.
    extra : dict
        Simulation ground truth (intent, targets, hit, oracle hit) when known.
    """

    round: int
    query_id: str
    query_text: str
    user_id: str | None
    policy: str
    allocation: dict[str, int]
    propensity: float
    context: list[float]
    shown: list[str]
    clicked: list[str]
    union_size: int
    extra: dict[str, Any] = field(default_factory=dict)
