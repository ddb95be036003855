"""Append-only JSONL log of interactions (with propensities) for off-policy evaluation."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from ltrr.types import Interaction


class InteractionLog:
    """Keeps interactions in memory and, when ``path`` is given, appends each one as a JSON line.

    Parameters
    ----------
    path : path-like, optional
        JSONL file (appended to; parent folders are created).
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else None
        self.records: list[dict] = []
        self._fh = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")

    def append(self, interaction: Interaction) -> dict:
        """Record one interaction; returns it as a dict."""
        rec = asdict(interaction)
        self.records.append(rec)
        if self._fh:
            self._fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
        return rec

    def close(self) -> None:
        """Flush and close the file."""
        if self._fh:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "InteractionLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_log(path: Path | str) -> Iterator[dict]:
    """Stream the records of a JSONL interaction log; a malformed line raises naming file and line."""
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
