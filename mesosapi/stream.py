"""Reading a subscription response: RecordIO frames of JSON events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
from addict import Dict

from mesosapi.errors import RecordIOError, StreamEnded
from mesosapi.recordio import Decoder

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


async def iter_events(
    response: httpx.Response, idle_timeout: Callable[[], float]
) -> AsyncIterator[Dict]:
    """Yield each event of a streamed response as an addict ``Dict``.

    ``idle_timeout()`` is asked before every read, so the allowed silence can
    change once SUBSCRIBED announces the heartbeat interval. Raises
    ``StreamEnded`` when the peer closes the stream or stays silent too long.
    """
    decoder = Decoder()
    chunks = response.aiter_bytes()
    while True:
        timeout = idle_timeout()
        try:
            async with asyncio.timeout(timeout):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            raise StreamEnded("the event stream was closed by the peer") from None
        except TimeoutError:
            raise StreamEnded(f"no event for {timeout:.1f}s: the stream is dead") from None
        for record in decoder.feed(chunk):
            try:
                event = json.loads(record)
            except ValueError as exc:
                raise RecordIOError(f"event is not JSON: {record[:200]!r}") from exc
            if not isinstance(event, dict):
                raise RecordIOError(f"event is not a JSON object: {record[:200]!r}")
            yield Dict(event)
