"""Simulated users: click models and the online loop over a query stream."""
