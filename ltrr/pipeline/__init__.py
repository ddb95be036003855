"""The retrieve -> union -> rank -> feedback loop, and the interaction log."""

from ltrr.pipeline.log import InteractionLog
from ltrr.pipeline.pipeline import RetrievePipeline, SearchResult

__all__ = ["InteractionLog", "RetrievePipeline", "SearchResult"]
