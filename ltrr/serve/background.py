"""Work a server does off the request path: policy and ranker retraining, snapshot writes.

All used to run inside ``/feedback``, under the lock every search also takes: a neural policy's retrain (about
50 ms on 2 cores), a learned ranker's refit (about 1 s) and a snapshot write (about 15 ms, and hundreds when an
fsync is slow) stalled every search arriving meanwhile. Here each takes the lock only to copy what it needs and,
for a retrain, to install the result; the slow part runs on a worker thread, one job of a kind at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)


class OffLockWorker:
    """One job at a time on a worker thread of its own; a job submitted while another runs is refused.

    Parameters
    ----------
    name : str
        Thread name suffix and log label.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"ltrr-{name}")
        self._running: Future | None = None
        self.completed, self.failed, self.last_seconds = 0, 0, 0.0

    @property
    def busy(self) -> bool:
        return self._running is not None and not self._running.done()

    def submit(self, job: Callable[[], object]) -> bool:
        """Run ``job`` on the worker unless one is running; returns whether it was started."""
        if self.busy:
            return False
        self._running = self._pool.submit(self._run, job)
        return True

    def _run(self, job: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        try:
            job()
            self.completed += 1
        except Exception:  # logged; the server keeps its previous state and tries again next time
            self.failed += 1
            log.exception("background %s failed", self.name)
        finally:
            self.last_seconds = time.perf_counter() - t0

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running job (if any) has finished."""
        fut = self._running
        if fut is not None:
            fut.result(timeout)


class BackgroundRetrainer:
    """Retrains a learner that supports ``begin_retrain`` on a worker thread: the policy (see
    :meth:`~ltrr.bandit.neural.NeuralLinearTSPolicy.begin_retrain`) or the learned rank stage (see
    :meth:`~ltrr.rerank.learned.LearnedReranker.begin_retrain`).

    Parameters
    ----------
    learner : object or None
        Switched to ``defer_retrain``; one without ``begin_retrain`` (or None) is left alone (``enabled`` False).
    lock : threading.Lock
        The lock that guards the learner (held by the caller of :meth:`maybe_start`; taken by the install step).
    name : str
        Worker thread and log label.
    """

    def __init__(self, learner, lock: threading.Lock, name: str = "retrain") -> None:
        self.learner, self.lock = learner, lock
        self.enabled = callable(getattr(learner, "begin_retrain", None))
        self.worker = OffLockWorker(name)
        if self.enabled:
            learner.defer_retrain = True

    @property
    def completed(self) -> int:
        return self.worker.completed

    @property
    def failed(self) -> int:
        return self.worker.failed

    def maybe_start(self) -> bool:
        """Start the learner's due retrain unless one is running; call under ``lock``. Returns whether it started."""
        if not self.enabled or not self.learner.retrain_due or self.worker.busy:
            return False
        job = self.learner.begin_retrain()

        def run() -> None:
            install = job()
            with self.lock:
                install()
        return self.worker.submit(run)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running retrain (if any) has installed its result."""
        self.worker.wait(timeout)
