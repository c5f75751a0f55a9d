"""The thread that runs user callbacks, in event order, away from the I/O thread.

A slow or blocking callback therefore never stalls the event stream or the
heartbeat detection; it only delays later callbacks.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_Job = tuple[str, Callable[[], None]]


class CallbackThread:
    """Runs submitted callables one at a time, in submission order."""

    def __init__(self, name: str) -> None:
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, description: str, fn: Callable[[], None]) -> None:
        """Queue ``fn``; ``description`` names it in the log if it raises."""
        self._queue.put((description, fn))

    def finish(self) -> None:
        """Run what is queued, then end the thread."""
        self._queue.put(None)

    def join(self, timeout: float | None = None) -> None:
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            description, fn = item
            try:
                fn()
            except Exception as exc:
                # One line each: a stopping scheduler may refuse a burst of updates.
                logger.error("callback %s raised %s: %s", description, type(exc).__name__, exc,
                             exc_info=logger.isEnabledFor(logging.DEBUG))
