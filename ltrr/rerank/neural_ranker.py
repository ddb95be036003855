"""A neural listwise ranker: an MLP over the ranking features, trained with the (IPS-)weighted softmax
cross-entropy of :func:`ltrr.losses.ltr.listwise_softmax_loss`."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch

from ltrr.losses.ltr import listwise_softmax_loss
from ltrr.rerank.ranker import ListData, Ranker

log = logging.getLogger(__name__)


class NeuralListwiseRanker(Ranker):
    """MLP scorer (standardised features -> hidden layers -> 1) trained listwise.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    epochs, batch_lists, lr, weight_decay : int, int, float, float
        Adam over shuffled mini-batches of lists.
    min_steps : int
        Least number of optimiser steps: small training sets get more epochs than ``epochs``.
    seed : int
        Seed of the initialisation and of the batch order.
    name : str
    """

    def __init__(self, hidden: tuple[int, ...] = (64, 32), epochs: int = 10, batch_lists: int = 256,
                 lr: float = 3e-3, weight_decay: float = 1e-5, min_steps: int = 1000, seed: int = 0,
                 name: str = "neural_listwise") -> None:
        self.hidden, self.epochs, self.batch, self.lr = tuple(int(h) for h in hidden), int(epochs), int(batch_lists), lr
        self.weight_decay, self.min_steps, self.seed, self.name = float(weight_decay), int(min_steps), int(seed), name
        self.net: torch.nn.Module | None = None
        self.mean = self.std = None

    def _build(self, n_in: int) -> torch.nn.Module:
        layers, d = [], n_in
        for h in self.hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.ReLU()]
            d = h
        layers.append(torch.nn.Linear(d, 1))
        return torch.nn.Sequential(*layers)

    def _padded(self, data: ListData) -> tuple[ListData, dict[str, torch.Tensor]]:
        """Standardise the features (statistics kept for scoring), build a fresh network and pad the lists with a
        positive gain: ``X`` ``(Q, L, F)``; ``g``, ``w``, the mask ``m`` and each slot's row of the kept lists ``idx``,
        ``(Q, L)``. Returns the kept lists and those tensors."""
        torch.manual_seed(self.seed)
        self.mean = data.X.mean(axis=0)
        std = data.X.std(axis=0)
        self.std = np.where(std > 1e-6, std, 1.0)  # a feature constant in training must not explode elsewhere
        self.net = self._build(data.X.shape[1])
        keep = np.flatnonzero(np.add.reduceat(data.gains * data.weights, data.offsets[:-1])
                              * (np.diff(data.offsets) > 0) > 0) if data.n_lists else np.zeros(0, int)
        if len(keep) == 0:
            raise ValueError("no list with a positive gain to learn from")
        sub = data.subset(keep)
        idx, mask = sub.padded_index()
        safe = np.maximum(idx, 0)
        X = torch.from_numpy(((sub.X - self.mean) / self.std).astype(np.float32))
        return sub, {"X": X[torch.from_numpy(safe)],
                     "g": torch.from_numpy(np.where(mask, sub.gains[safe], 0.0).astype(np.float32)),
                     "w": torch.from_numpy(np.where(mask, sub.weights[safe], 0.0).astype(np.float32)),
                     "m": torch.from_numpy(mask), "idx": torch.from_numpy(safe)}

    def _epochs(self, n_lists: int) -> int:
        """Epochs so that training takes at least ``min_steps`` optimiser steps."""
        return max(self.epochs, -(-self.min_steps // -(-n_lists // self.batch)))

    def fit(self, data: ListData) -> "NeuralListwiseRanker":
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(self.seed)
        _, t = self._padded(data)
        Xp, g, w, m = t["X"], t["g"], t["w"], t["m"]
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        epochs = self._epochs(len(Xp))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        for _ in range(epochs):
            for b in torch.randperm(len(Xp), generator=gen).split(self.batch):
                s = self.net(Xp[b]).squeeze(-1)
                loss = listwise_softmax_loss(s, g[b], w[b], m[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
        self.net.eval()
        log.info("%s: %d epochs on %d lists in %.1f s (last batch loss %.4f)", self.name, epochs, len(Xp),
                 time.perf_counter() - t0, float(loss.detach()))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise RuntimeError(f"{self.name}: score() before fit()")
        with torch.no_grad():
            x = torch.from_numpy(((np.asarray(X, dtype=np.float32) - self.mean) / self.std).astype(np.float32))
            return self.net(x).squeeze(-1).double().numpy()

    @property
    def fitted(self) -> bool:
        return self.net is not None

    def state_dict(self) -> dict[str, Any]:
        if self.net is None:
            return {}
        return {"mean": self.mean, "std": self.std, "hidden": list(self.hidden),
                "weights": {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            self.net = None
            return
        self.mean, self.std = np.asarray(state["mean"]), np.asarray(state["std"])
        self.hidden = tuple(int(h) for h in state["hidden"])
        self.net = self._build(len(self.mean))
        self.net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state["weights"].items()})
        self.net.eval()
