"""Request and response models of the search API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchRequest(BaseModel):
    """A search: free text (any characters; it is never parsed as query syntax)."""

    query: str = Field(min_length=1, max_length=512)
    user_id: str | None = Field(default=None, max_length=128)
    k: int = Field(default=10, ge=1, le=100)


class Hit(BaseModel):
    """One ranked result with its provenance."""

    doc_id: str
    title: str
    type: str | None = None
    score: float
    arms: list[str]


class SearchResponse(BaseModel):
    """Results plus the decision that produced them (quote ``search_id`` in feedback)."""

    search_id: str
    results: list[Hit]
    allocation: dict[str, int]
    propensity: float
    policy: str


class FeedbackRequest(BaseModel):
    """Clicks on the results of an earlier search."""

    search_id: str = Field(min_length=1, max_length=64)
    clicked: list[str] = Field(default_factory=list, max_length=100)


class FeedbackResponse(BaseModel):
    """Acknowledgement with how many observations the policy received."""

    search_id: str
    clicked: list[str]
    labels_observed: int
