"""A two-tower model of listening histories: history -> user (session) embedding, item -> item embedding.

The item tower sums learned embeddings of the item's categorical metadata (type, genre, artist, album, mood,
language, popularity decile) and of its id, so that items nobody listened to still get a vector from their
content. The user tower mean-pools the item vectors of a history and applies a linear map. Training is a full
softmax over the catalogue: each step holds one history item out of a user's history and asks the tower of the
rest to score it above every other item (leave-one-out next-item prediction).
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np
import torch

from ltrr.types import Doc

log = logging.getLogger(__name__)
FIELDS = ("type", "genre", "artist_id", "album_id", "mood", "language")


class TwoTowerModel(torch.nn.Module):
    """Item and user towers over a fixed catalogue.

    Parameters
    ----------
    docs : sequence of Doc
    dim : int
        Embedding size.
    fields : sequence of str
        Metadata fields embedded by the item tower (missing values share one "unknown" entry per field).
    seed : int
        Seed of the initialisation.
    """

    def __init__(self, docs: Sequence[Doc], dim: int = 32, fields: Sequence[str] = FIELDS, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.dim, self.fields = int(dim), tuple(fields)
        codes = []
        for f in self.fields:
            vals = [str(d.metadata.get(f, "")) for d in docs]
            vocab = {v: i for i, v in enumerate(sorted(set(vals)))}
            codes.append([vocab[v] for v in vals])
        pop = np.array([float(d.metadata.get("popularity", 0.0) or 0.0) for d in docs])
        ranks = pop.argsort().argsort()
        codes.append((10 * ranks // max(len(docs), 1)).tolist())                 # popularity decile
        codes.append(list(range(len(docs))))                                   # the item's own id
        self.register_buffer("codes", torch.tensor(codes, dtype=torch.long).T)  # (N, n_fields + 2)
        sizes = [int(c.max()) + 1 for c in self.codes.T]
        self.tables = torch.nn.ModuleList(torch.nn.Embedding(n, self.dim) for n in sizes)
        for t in self.tables:
            torch.nn.init.normal_(t.weight, std=0.1)
        self.user = torch.nn.Linear(self.dim, self.dim)

    def items(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Item vectors, ``(len(idx), dim)`` (all items when ``idx`` is None)."""
        codes = self.codes if idx is None else self.codes[idx]
        return sum(t(codes[..., j]) for j, t in enumerate(self.tables))

    def users(self, hist: torch.Tensor, mask: torch.Tensor, item_vecs: torch.Tensor | None = None) -> torch.Tensor:
        """User vectors of padded histories ``hist`` (``(B, H)`` item indices, ``mask`` ``(B, H)``), ``(B, dim)``."""
        v = (item_vecs if item_vecs is not None else self.items())[hist]             # (B, H, dim)
        m = mask.unsqueeze(-1).float()
        pooled = (v * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.user(pooled)


def fit_two_tower(model: TwoTowerModel, histories: Sequence[Sequence[int]], steps: int = 300, batch: int = 256,
                  lr: float = 0.01, weight_decay: float = 1e-6, max_history: int = 100, seed: int = 0) -> list[float]:
    """Leave-one-out next-item training over ``histories`` (item indices), full softmax over the catalogue.

    Returns
    -------
    list of float
        The loss of every step.
    """
    usable = [list(h)[-max_history:] for h in histories if len(h) >= 2]
    if not usable:
        log.warning("two-tower: no history with two items or more; the model stays untrained")
        return []
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    H = max(len(h) for h in usable)
    pad = np.zeros((len(usable), H), dtype=np.int64)
    lens = np.array([len(h) for h in usable])
    for i, h in enumerate(usable):
        pad[i, :len(h)] = h
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    for _ in range(steps):
        rows = rng.integers(0, len(usable), batch)
        held = (rng.random(batch) * lens[rows]).astype(int)
        hist = torch.from_numpy(pad[rows])
        mask = torch.arange(H)[None, :] < torch.from_numpy(lens[rows])[:, None]
        mask[torch.arange(batch), torch.from_numpy(held)] = False
        target = hist[torch.arange(batch), torch.from_numpy(held)]
        items = model.items()
        logits = model.users(hist, mask, items) @ items.T
        loss = torch.nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    log.info("two-tower: %d steps on %d histories in %.1f s (loss %.3f -> %.3f)", steps, len(usable),
             time.perf_counter() - t0, losses[0], losses[-1])
    return losses
