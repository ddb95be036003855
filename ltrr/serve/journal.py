"""Durable learning state of a serving pipeline: a write-ahead feedback journal plus atomic snapshots.

Every accepted feedback event is appended to ``journal.jsonl`` as one JSON line (sequence number, impression id,
dwell and the self-contained :class:`~ltrr.pipeline.pipeline.Feedback`), flushed and fsynced *before* the API
acknowledges it. :meth:`FeedbackJournal.snapshot` writes the pipeline's learned state (policy, learning arms,
dynamic context features, the policy's RNG, the impressions already applied) to ``snapshot.npz`` through a
temporary file and an atomic rename. The journal it covers was first renamed aside (``journal.<seq>.jsonl``) and is
deleted only once the snapshot is durable, so the write can run off the server's lock
(:meth:`FeedbackJournal.begin_snapshot`). :meth:`FeedbackJournal.recover` loads the snapshot and replays the
journal files after it, so a ``kill -9`` at any point loses no acknowledged event: an event is either in the
snapshot (its sequence number is at most the snapshot's) or in a journal file.
A torn last line (the process died mid-write, before the fsync and so before any acknowledgement) is dropped and
cut off; a malformed line anywhere else is corruption and raises an error naming the file and line.
No pickle anywhere: JSON and ``.npz`` (read with ``allow_pickle=False``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ltrr.pipeline.pipeline import Feedback, RetrievePipeline
from ltrr.utils.statefile import detached, fsync_dir, load_state, save_state

log = logging.getLogger(__name__)
SNAPSHOT, JOURNAL = "snapshot.npz", "journal.jsonl"


@dataclass
class Recovery:
    """What :meth:`FeedbackJournal.recover` found: the snapshot's sequence number (0: none), the events replayed,
    and whether a torn last line was cut off."""

    snapshot_seq: int
    replayed: int
    torn_tail: bool
    seconds: float


class FeedbackJournal:
    """Write-ahead journal and snapshots of one pipeline under ``root``.

    Parameters
    ----------
    root : path-like
        Folder of ``snapshot.npz`` and ``journal.jsonl`` (created).
    fsync : bool
        fsync every append (the durability guarantee); False only for throwaway tests.
    remember : int
        Impression ids kept for idempotency (the oldest are forgotten first).

    Attributes
    ----------
    seq : int
        Sequence number of the last accepted event.
    applied : OrderedDict[str, int]
        Impression id -> sequence number of its (first) feedback.
    """

    def __init__(self, root: Path | str, fsync: bool = True, remember: int = 200_000) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync, self.remember = bool(fsync), int(remember)
        self.seq, self.snapshot_seq, self.since_snapshot = 0, 0, 0
        self.applied: OrderedDict[str, int] = OrderedDict()
        self._fh = None

    @property
    def journal_path(self) -> Path:
        return self.root / JOURNAL

    @property
    def snapshot_path(self) -> Path:
        return self.root / SNAPSHOT

    def segments(self) -> list[tuple[int, Path]]:
        """Journal files to replay in order: rotated segments (``journal.<seq>.jsonl``: events up to ``seq``, left
        by a snapshot whose write had not finished), then ``journal.jsonl``."""
        rotated = []
        for f in self.root.glob("journal.*.jsonl"):
            stem = f.name[len("journal."):-len(".jsonl")]
            if stem.isdigit():
                rotated.append((int(stem), f))
        return sorted(rotated) + ([(2**63, self.journal_path)] if self.journal_path.exists() else [])

    # ----- recovery -----------------------------------------------------------------------------------------------
    def recover(self, pipeline: RetrievePipeline) -> Recovery:
        """Load the snapshot (if any) into ``pipeline`` and replay the journal after it."""
        t0 = time.perf_counter()
        if self.snapshot_path.exists():
            state = load_state(self.snapshot_path)
            pipeline.load_state_dict(state)
            self.seq = self.snapshot_seq = int(state["seq"])
            self.applied = OrderedDict((str(i), int(s)) for i, s in state.get("applied", []))
        replayed, torn = 0, False
        for _, path in self.segments():
            n, cut = self._replay(path, pipeline)
            replayed, torn = replayed + n, torn or cut
        self.since_snapshot = self.seq - self.snapshot_seq
        rec = Recovery(self.snapshot_seq, replayed, torn, time.perf_counter() - t0)
        log.info("recovered from %s: snapshot seq %d, %d journal events replayed%s (%.2fs)", self.root,
                 rec.snapshot_seq, replayed, ", torn tail cut" if torn else "", rec.seconds)
        return rec

    def _replay(self, path: Path, pipeline: RetrievePipeline) -> tuple[int, bool]:
        """Apply the events of one journal file after ``seq``; returns (events replayed, torn tail cut)."""
        lines = path.read_bytes().split(b"\n")
        good_bytes, replayed, torn = 0, 0, False
        for no, raw in enumerate(lines, start=1):
            if not raw.strip():
                good_bytes += len(raw) + 1
                continue
            last = no == len(lines)  # no newline after it: the write never completed
            try:
                if last:
                    raise ValueError("no end of line")
                rec = json.loads(raw.decode("utf-8"))
                seq, imp = int(rec["seq"]), str(rec["impression_id"])
                fb = Feedback.from_json(rec["event"])
            except (ValueError, KeyError, TypeError) as err:
                if last:
                    torn = True
                    log.warning("%s: dropping a torn last line (%d bytes, never acknowledged)", path, len(raw))
                    break
                raise ValueError(f"{path}:{no}: corrupt journal line: {err}") from None
            good_bytes += len(raw) + 1
            if seq <= self.seq:
                continue  # already in the snapshot
            pipeline.apply(fb)
            self._remember(imp, seq)
            self.seq, replayed = seq, replayed + 1
        if torn:
            with open(path, "r+b") as fh:
                fh.truncate(good_bytes)
                fh.flush()
                os.fsync(fh.fileno())
        return replayed, torn

    # ----- writing ------------------------------------------------------------------------------------------------
    def _remember(self, impression_id: str, seq: int) -> None:
        self.applied[impression_id] = seq
        while len(self.applied) > self.remember:
            self.applied.popitem(last=False)

    def _handle(self):
        if self._fh is None:
            new = not self.journal_path.exists()
            self._fh = open(self.journal_path, "ab")
            if new:
                fsync_dir(self.root)
        return self._fh

    def append(self, impression_id: str, fb: Feedback, dwell_ms: float | None = None) -> int:
        """Durably record one accepted event; returns its sequence number. Call before applying or acknowledging."""
        seq = self.seq + 1
        line = json.dumps({"seq": seq, "impression_id": impression_id, "dwell_ms": dwell_ms, "time": time.time(),
                           "event": fb.to_json()}, separators=(",", ":")).encode("utf-8") + b"\n"
        fh = self._handle()
        pos = fh.tell()
        try:
            fh.write(line)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        except OSError:  # e.g. a full disk: cut the partial line so that later events stay readable
            try:
                fh.truncate(pos)
            finally:
                self.close()
            raise
        self.seq = seq
        self.since_snapshot += 1
        self._remember(impression_id, seq)
        return seq

    def snapshot(self, pipeline: RetrievePipeline) -> int:
        """Write the learned state atomically and drop the journal it covers; returns its sequence number."""
        return self.begin_snapshot(pipeline)()

    def begin_snapshot(self, pipeline: RetrievePipeline) -> Callable[[], int]:
        """A snapshot in two steps, so that a server holds its lock only for the first.

        Under the lock: copy the learned state and rotate the journal (``journal.jsonl`` becomes
        ``journal.<seq>.jsonl``; later events go to a new ``journal.jsonl``). The returned write, run without the
        lock (one at a time), saves the copy to ``snapshot.npz`` (temporary file, fsync, atomic rename) and only
        then deletes the rotated segments it covers. A crash before that leaves them for :meth:`recover`.
        """
        seq = self.seq
        state = detached({"seq": seq, "time": time.time(), "applied": list(self.applied.items()),
                          **pipeline.state_dict()})
        self.close()
        if self.journal_path.exists():
            os.replace(self.journal_path, self.root / f"journal.{seq:012d}.jsonl")
            fsync_dir(self.root)
        self.since_snapshot = 0

        def write() -> int:
            save_state(self.snapshot_path, state)
            for upto, path in self.segments():
                if upto <= seq:
                    path.unlink()
            fsync_dir(self.root)
            self.snapshot_seq = max(self.snapshot_seq, seq)
            log.info("snapshot at seq %d -> %s", seq, self.snapshot_path)
            return seq
        return write

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
