"""Merging and ranking the candidate union."""
