"""The scheduler's recent events, kept for GET /v1/events.

A bounded window in memory: a client that reconnects with the id of the last event it
saw gets every later one, as long as that one is still in the window and this process
wrote it. Otherwise it is told to re-read the state (a `reset` event), never silently
given a gap. Events are published from the engine's threads and read by the API's
event loop; a publish wakes each waiting reader on its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from femto.events import Event

WINDOW = 10_000  # events kept for resuming (README: the event stream)


def event_id(epoch: str, seq: int) -> str:
    """What `resume_point` reads back from a client's Last-Event-ID."""
    return f"{epoch}-{seq}"


class Deferred:
    """An event kept as its few fields, made into its model only when a client reads it:
    the window holds thousands of task events, a pydantic model each would cost it over
    a kilobyte apiece, and most are never read."""

    __slots__ = ()
    type: ClassVar[str]  # the kind of event it makes (the SSE `event:` field)

    def build(self) -> Event:
        raise NotImplementedError


@dataclass(slots=True)
class Entry:
    seq: int
    told: Event | Deferred
    job: str
    owner: str | None  # who may see it, as its job is seen
    _json: str | None = field(default=None, repr=False)

    @property
    def type(self) -> str:
        return self.told.type

    @property
    def event(self) -> Event:
        told = self.told
        return told.build() if isinstance(told, Deferred) else told

    @property
    def json(self) -> str:
        """Serialised once, however many readers send it."""
        if self._json is None:
            self._json = self.event.model_dump_json()
        return self._json


class EventLog:
    def __init__(self, window: int = WINDOW) -> None:
        # An id names the process that wrote it: after a restart or on another leader,
        # the same number is another event.
        self.epoch = secrets.token_hex(4)
        self._entries: deque[Entry] = deque(maxlen=window)
        self._seq = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = False

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(self, items: Iterable[tuple[Event | Deferred, str, str | None]]) -> None:
        """Append (event, job id, owner) and wake the readers."""
        with self._lock:
            for event, job, owner in items:
                self._seq += 1
                self._entries.append(Entry(self._seq, event, job, owner))
            waiters = list(self._waiters)
        self._wake(waiters)

    def new_term(self) -> None:
        """This scheduler took or lost the lead: what it saw before says nothing of what
        another leader did meanwhile, so no id from before resumes, and open streams end
        (their clients reconnect, and are sent to the leader or told to re-read)."""
        with self._lock:
            self.epoch = secrets.token_hex(4)
            self._entries.clear()
            waiters = list(self._waiters)
        self._wake(waiters)

    def close(self) -> None:
        """The scheduler stops: readers end their streams."""
        with self._lock:
            self.closed = True
            waiters = list(self._waiters)
        self._wake(waiters)

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, event in waiters:
            # A reader whose loop has closed waits for nothing.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The sequence number to follow on from, or None when `last_event_id` cannot be
        resumed from without a gap. No id: from now on."""
        if last_event_id is None:
            return self._seq
        epoch, _, number = last_event_id.rpartition("-")
        if epoch != self.epoch or not number.isdigit():
            return None
        seq = int(number)
        with self._lock:
            oldest = self._entries[0].seq if self._entries else self._seq + 1
            if seq > self._seq or seq < oldest - 1:
                return None
        return seq

    def after(self, seq: int) -> list[Entry]:
        """The events after `seq`, oldest first (empty if it fell out of the window)."""
        with self._lock:
            if not self._entries or seq >= self._seq:
                return []
            start = seq - self._entries[0].seq + 1
            if start < 0:
                return []
            # The window is a run of consecutive numbers, so the position is arithmetic.
            return [self._entries[i] for i in range(start, len(self._entries))]

    def missed(self, seq: int) -> bool:
        """Whether events after `seq` have already left the window (a slow reader)."""
        with self._lock:
            return bool(self._entries) and seq < self._entries[0].seq - 1

    async def wait(self, seq: int, timeout: float) -> None:
        """Until an event after `seq` is published, the log closes, or `timeout` passes."""
        ready = asyncio.Event()
        waiter = (asyncio.get_running_loop(), ready)
        with self._lock:
            if self._seq > seq or self.closed:
                return
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(ready.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)
