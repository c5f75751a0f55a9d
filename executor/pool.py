"""Worker threads that run queued jobs, started as demand calls for them, up to a limit."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class WorkerPool:
    """Runs each submitted job on an idle worker, or on a new one while fewer than `limit` exist;
    beyond that, jobs wait in submission order.

    Daemon threads, unlike concurrent.futures', never hold up the process's exit: a NumPy
    computation that cannot be interrupted must not keep a shut-down executor alive past
    its grace period.
    """

    def __init__(self, limit: int, name: str = "femto-worker") -> None:
        if limit < 1:
            raise ValueError(f"a worker pool needs a limit of at least one thread, got {limit}")
        self.limit = limit
        self._name = name
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # Workers waiting for a job that no submit has claimed yet.
        self._idle = 0

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._threads)

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # that worker takes this job
            elif len(self._threads) < self.limit:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._jobs.put(job)

    def close(self, timeout: float | None = None) -> None:
        """Let the workers finish the queued jobs, then end; wait up to `timeout` for each."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("a worker job raised")
            with self._lock:
                self._idle += 1
