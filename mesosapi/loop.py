"""A background thread running one coroutine on its own asyncio event loop.

The drivers read the event stream with asyncio so that a stalled stream can
be abandoned with a timeout or a cancellation from another thread, which a
blocking socket read does not allow.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class LoopThread:
    """Runs ``main()`` in a daemon thread; ``cancel()`` is safe from any thread."""

    def __init__(self, name: str, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._main = main
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread (dropped if the loop is not running)."""
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(fn)

    def join(self, timeout: float | None = None) -> None:
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._wrapper())

    async def _wrapper(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        try:
            await self._main()
        except asyncio.CancelledError:
            logger.debug("%s cancelled", self._thread.name)
        except Exception:
            logger.exception("%s crashed", self._thread.name)
        finally:
            with self._lock:
                self._loop = None
                self._task = None
