"""Request and response models of the search API (validation errors name the offending field)."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUERY_CHARS = 512


def _no_control(text: str, what: str) -> str:
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cs") and c not in "\t"]
    if bad:
        raise ValueError(f"{what} contains control characters (e.g. {bad[0]!r})")
    return text


class SearchRequest(BaseModel):
    """A search: free text (never parsed as query syntax), an optional user and request context."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    user_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    k: int = Field(default=10, ge=1, le=100)
    hour: int | None = Field(default=None, ge=0, le=23, description="local hour of the request (context)")

    @field_validator("query")
    @classmethod
    def _query_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query is blank")
        return _no_control(v, "query")


class ArmHit(BaseModel):
    """Where one arm ranked an item, and its score there (scales differ between arms)."""

    arm: str
    rank: int
    score: float


class Hit(BaseModel):
    """One ranked result with its provenance."""

    doc_id: str
    title: str
    type: str | None = None
    score: float
    arms: list[ArmHit]


class SearchResponse(BaseModel):
    """Results plus the decision that produced them (quote ``impression_id`` in feedback)."""

    impression_id: str
    results: list[Hit]
    allocation: dict[str, int]
    propensity: float
    policy: str
    intent: str
    stage_ms: dict[str, float] = Field(description="server time per pipeline stage (retrieve, featurize, policy, "
                                                   "fuse, rerank) in milliseconds")


class FeedbackRequest(BaseModel):
    """Clicks (possibly none) on the results of an earlier search."""

    model_config = ConfigDict(extra="forbid")

    impression_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    clicked: list[str] = Field(default_factory=list, max_length=100)
    dwell_ms: float | None = Field(default=None, ge=0, le=86_400_000)

    @field_validator("clicked")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for i, d in enumerate(v):
            if not d or len(d) > 256:
                raise ValueError(f"clicked[{i}]: ids have 1 to 256 characters")
            _no_control(d, f"clicked[{i}]")
        return v


class FeedbackResponse(BaseModel):
    """Acknowledgement: the event is durable (journaled and fsynced) when this arrives."""

    impression_id: str
    clicked: list[str]
    duplicate: bool
    seq: int
    labels_observed: int


class ErrorResponse(BaseModel):
    """A 4xx: what was wrong and where."""

    detail: str
    field: str | None = None
