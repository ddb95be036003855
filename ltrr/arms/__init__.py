"""Candidate generators ("arms"). Each wraps one index and knows nothing of the bandit."""

from ltrr.arms.base import Arm

__all__ = ["Arm"]
