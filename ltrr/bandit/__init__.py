"""Policies that allocate a candidate budget across arms, and their context features."""

from ltrr.bandit.base import Policy

__all__ = ["Policy"]
