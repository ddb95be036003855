"""The retrieve -> union -> rank -> feedback loop, and the interaction log."""

from ltrr.pipeline.log import InteractionLog
from ltrr.pipeline.pipeline import Feedback, RetrievePipeline, SearchResult

__all__ = ["Feedback", "InteractionLog", "RetrievePipeline", "SearchResult"]
