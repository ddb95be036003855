"""Training groups (query, positive, negatives), a resumable DDP-aware batch sampler and the Lightning data module.

Resuming is exact: the order of an epoch is a function of ``(seed, epoch)`` only, the negatives drawn for an example
are a function of ``(seed, epoch, example)``, and the data module's state (saved in every Lightning checkpoint)
records how many batches of the current epoch were consumed, so a run killed mid-epoch continues with the very
next batch. Each rank takes every ``world_size``-th batch of the same global order, and every rank gets the same
number of equally sized batches (the last incomplete global batch is dropped), which gathered in-batch negatives
need.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, Sequence

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

log = logging.getLogger(__name__)


class GroupDataset(Dataset):
    """Examples ``(query, [positive, negative_1, ..., negative_{G-1}])`` as texts.

    Parameters
    ----------
    queries : sequence of str
        One query text per example.
    positives : sequence of sequence of str
        Positive document ids per example (one is drawn per epoch).
    negatives : sequence of sequence of str
        Candidate hard-negative ids per example (``group_size - 1`` are drawn per epoch).
    text : callable
        Document id to text.
    group_size : int
        1 positive + ``group_size - 1`` negatives.
    pool : sequence of str
        Fallback negatives (random corpus documents) when an example has too few mined ones.
    seed : int
    """

    def __init__(self, queries: Sequence[str], positives: Sequence[Sequence[str]], negatives: Sequence[Sequence[str]],
                 text: Callable[[str], str], group_size: int, pool: Sequence[str], seed: int = 0) -> None:
        if not len(queries) == len(positives) == len(negatives):
            raise ValueError("queries, positives and negatives must have the same length")
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        if any(len(p) == 0 for p in positives):
            raise ValueError("every example needs at least one positive")
        self.queries, self.positives, self.negatives = list(queries), positives, negatives
        self.text, self.group_size, self.pool, self.seed = text, group_size, list(pool), seed

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, key: tuple[int, int]) -> tuple[str, list[str], list[str]]:
        """``key = (epoch, index)`` -> (query text, [doc texts], [doc ids]) with the positive first."""
        epoch, i = key
        rng = np.random.default_rng((self.seed, epoch, i))
        pos = self.positives[i][int(rng.integers(len(self.positives[i])))]
        cand = [d for d in self.negatives[i]]
        k = self.group_size - 1
        if len(cand) >= k:
            negs = [cand[j] for j in rng.choice(len(cand), size=k, replace=False)] if k else []
        else:
            taken = set(cand) | set(self.positives[i])
            negs = list(cand)
            while len(negs) < k:
                d = self.pool[int(rng.integers(len(self.pool)))]
                if d not in taken:
                    negs.append(d)
                    taken.add(d)
        ids = [pos] + negs
        return self.queries[i], [self.text(d) for d in ids], ids


class ResumableBatchSampler(Sampler[list[tuple[int, int]]]):
    """Seeded per-epoch permutation, cut into global batches, sharded by rank, resumable mid-epoch.

    Parameters
    ----------
    n : int
        Examples.
    batch_size : int
        Examples per rank per step.
    rank, world_size : int
    seed : int
    epoch, start_batch : int
        Resume point: skip the first ``start_batch`` batches of ``epoch``.
    epoch_fn : callable, optional
        Returns the current epoch when an epoch's iteration starts (the trainer's ``current_epoch``; Lightning
        calls ``set_epoch`` only on samplers, not on batch samplers).
    """

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 epoch: int = 0, start_batch: int = 0, epoch_fn: Callable[[], int] | None = None) -> None:
        if n < batch_size * world_size:
            raise ValueError(f"{n} examples cannot fill one global batch of {batch_size} x {world_size} ranks")
        self.n, self.batch_size, self.rank, self.world_size, self.seed = n, batch_size, rank, world_size, seed
        self.epoch, self.resume_epoch, self.start_batch, self.epoch_fn = epoch, epoch, start_batch, epoch_fn

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at every epoch start."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        if self.epoch_fn is not None:
            self.epoch = int(self.epoch_fn())
        perm = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        start = self.start_batch if self.epoch == self.resume_epoch else 0
        for b in range(start, len(self)):
            g = (b * self.world_size + self.rank) * self.batch_size
            yield [(self.epoch, int(i)) for i in perm[g:g + self.batch_size]]


class GroupDataModule(L.LightningDataModule):
    """Train groups and a collate function (bi-encoder or cross-encoder tokenisation), with resumable order.

    Parameters
    ----------
    dataset : GroupDataset
    collate : callable
        Batch of ``GroupDataset`` items to model inputs.
    batch_size : int
        Queries per rank per step.
    seed : int
    val_dataloader_fn : callable, optional
        Returns the validation loader (dev retrieval metrics), or ``None``.
    num_workers : int
    """

    def __init__(self, dataset: GroupDataset, collate: Callable, batch_size: int, seed: int = 0,
                 val_dataloader_fn: Callable[[], Any] | None = None, num_workers: int = 0) -> None:
        super().__init__()
        self.dataset, self.collate, self.batch_size, self.seed = dataset, collate, batch_size, seed
        self.val_fn, self.num_workers = val_dataloader_fn, num_workers
        self._resume = {"epoch": 0, "batches": 0}
        self._sampler: ResumableBatchSampler | None = None

    def train_dataloader(self) -> DataLoader:
        t = self.trainer
        rank, world = (t.global_rank, t.world_size) if t is not None else (0, 1)
        self._sampler = ResumableBatchSampler(len(self.dataset), self.batch_size, rank, world, self.seed,
                                              self._resume["epoch"], self._resume["batches"],
                                              (lambda: t.current_epoch) if t is not None else None)
        return DataLoader(self.dataset, batch_sampler=self._sampler, collate_fn=self.collate,
                          num_workers=self.num_workers)

    def val_dataloader(self):
        return self.val_fn() if self.val_fn is not None else []

    def state_dict(self) -> dict[str, int]:
        """Epoch and batches consumed in it (read from the trainer's progress at checkpoint time)."""
        t = self.trainer
        if t is None:
            return dict(self._resume)
        done = t.fit_loop.epoch_loop.batch_progress.current.processed
        return {"epoch": int(t.current_epoch), "batches": int(done)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume point from a checkpoint (also applied to a sampler that already exists)."""
        self._resume = {"epoch": int(state["epoch"]), "batches": int(state["batches"])}
        if self._sampler is not None:
            self._sampler.epoch = self._sampler.resume_epoch = self._resume["epoch"]
            self._sampler.start_batch = self._resume["batches"]
        log.info("resuming epoch %d at batch %d", self._resume["epoch"], self._resume["batches"])
