"""Metrics, run summaries and plots (leaf package)."""
