"""Calls run a fixed delay after they were submitted, on one thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class FixedDelay:
    """Runs each submitted call `delay` seconds after its submission, in submission order.

    With one fixed delay, calls fall due in the order they were submitted, so a FIFO queue
    is the whole schedule and one thread serves them all (no thread or timer per call).
    """

    def __init__(self, delay: float, name: str) -> None:
        self.delay = delay
        self._calls: queue.SimpleQueue[tuple[float, Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, call: Callable[[], Any]) -> None:
        self._calls.put((time.monotonic() + self.delay, call))

    def close(self) -> None:
        """Stop; calls not yet due are dropped."""
        self._closed.set()
        self._calls.put(None)
        self._thread.join(timeout=self.delay + 1.0)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            due, call = item
            if self._closed.wait(max(0.0, due - time.monotonic())):
                return
            try:
                call()
            except Exception:  # one failing call must not stop the later ones
                log.exception("delayed call %r failed", call)
