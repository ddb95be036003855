"""HTTP API over a pipeline (FastAPI); no module-level state."""
