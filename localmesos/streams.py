"""An event stream: the body of a streaming SUBSCRIBE response, fed by the server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from mesosapi.recordio import encode


def encode_event(event: dict[str, Any]) -> bytes:
    """One event as a RecordIO record of compact JSON."""
    return encode(json.dumps(event, separators=(",", ":")).encode("utf-8"))


class EventStream:
    """Events queued by the server and written, RecordIO-framed, to one HTTP response.

    With a heartbeat interval, a HEARTBEAT event is written whenever the stream
    has been idle that long, so clients can tell a quiet stream from a dead one.
    """

    def __init__(self, heartbeat_interval: float | None = None) -> None:
        self.id = str(uuid.uuid4())
        self.closed = False
        self._heartbeat = heartbeat_interval
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def send(self, event: dict[str, Any]) -> None:
        if not self.closed:
            self._queue.put_nowait(encode_event(event))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def records(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self._heartbeat):
                    record = await self._queue.get()
            except TimeoutError:
                yield encode_event({"type": "HEARTBEAT"})
                continue
            if record is None:
                return
            yield record
