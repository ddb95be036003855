"""Live allocation statistics per intent class, for ``GET /arms`` and the demo page's panel."""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np


class ArmStats:
    """Mean candidates per arm and recent reward (click rate) per intent class, over the last ``window`` events.

    Parameters
    ----------
    arms : sequence of str
    window : int
        Searches (and feedback events) remembered per intent class and overall.
    """

    def __init__(self, arms: Sequence[str], window: int = 200) -> None:
        self.arms, self.window = list(arms), int(window)
        self.alloc: dict[str, deque] = {}
        self.reward: dict[str, deque] = {}
        self.total = 0

    def searched(self, intent: str, allocation: Sequence[int]) -> None:
        for key in (intent, "all"):
            self.alloc.setdefault(key, deque(maxlen=self.window)).append(np.asarray(allocation, dtype=float))
        self.total += 1

    def clicked(self, intent: str, clicked: bool) -> None:
        for key in (intent, "all"):
            self.reward.setdefault(key, deque(maxlen=self.window)).append(float(clicked))

    def report(self) -> dict:
        """``{"searches": n, "intents": {intent: {"searches", "mean_depth", "share", "reward_rate", "feedback"}}}``
        over the recent window (``all`` pools every intent)."""
        out = {}
        for key in sorted(self.alloc):
            a = np.stack(self.alloc[key])
            mean = a.mean(axis=0)
            share = mean / mean.sum() if mean.sum() > 0 else mean
            r = self.reward.get(key)
            out[key] = {"searches": len(a), "mean_depth": dict(zip(self.arms, np.round(mean, 2).tolist())),
                        "share": dict(zip(self.arms, np.round(share, 4).tolist())),
                        "feedback": len(r) if r else 0,
                        "reward_rate": round(float(np.mean(r)), 4) if r else None}
        return {"searches": self.total, "window": self.window, "arms": self.arms, "intents": out}
