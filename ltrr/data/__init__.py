"""Datasets: the BEIR-layout loader and the embedded synthetic music world."""
