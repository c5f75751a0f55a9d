"""A small real HTTP server speaking just enough of the Mesos v1 APIs for driver tests.

It stands in for a Mesos master (``/api/v1/scheduler``) or agent
(``/api/v1/executor``) only to exercise driver edge cases that a real master
does not produce on demand: a stream that stalls without closing, a 307 to
another master, an agent that vanishes and returns, events injected at a
chosen moment. It is a genuine HTTP peer on 127.0.0.1 (uvicorn + Starlette,
RecordIO-framed JSON events over a chunked response); it records every call
it receives so tests can assert what the drivers put on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from localmesos.validation import uuid_error
from mesosapi.recordio import encode
from tests.services import free_port


class Subscriber:
    """One open subscription stream."""

    def __init__(self, body: dict[str, Any], stream_id: str) -> None:
        self.body = body
        self.stream_id = stream_id
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()


class FakeMesos:
    """Serves /api/v1/scheduler and /api/v1/executor on a free 127.0.0.1 port.

    - ``heartbeat_interval``: SUBSCRIBED announces it and HEARTBEATs follow,
      unless ``stall`` is set: then the stream stays open and silent.
    - ``redirect_to``: answer SUBSCRIBE with 307 and this Location.
    - ``credentials``: (user, password) required as basic auth.
    - ``auto_ack``: the agent role answers each UPDATE with ACKNOWLEDGED.
    """

    def __init__(self, heartbeat_interval: float = 0.2, framework_id: str = "fw-1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.address = f"127.0.0.1:{self.port}"
        self.heartbeat_interval = heartbeat_interval
        self.framework_id = framework_id
        self.stall = False
        self.redirect_to: str | None = None
        self.credentials: tuple[str, str] | None = None
        self.auto_ack = False
        self._closing = False
        self.calls: list[dict[str, Any]] = []
        self.subscriptions: list[Subscriber] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serial = 0
        app = Starlette(
            routes=[
                Route("/api/v1/scheduler", self._scheduler, methods=["POST"]),
                Route("/api/v1/executor", self._executor, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-mesos", daemon=True)

    # -- test-side controls ---------------------------------------------------------

    def start(self) -> FakeMesos:
        self._thread.start()
        wait_until(lambda: self._server.started, 10, "fake Mesos did not start")
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        # Refuse new subscriptions first: a driver reconnecting at once would
        # otherwise hold a fresh stream open and stall the graceful shutdown.
        self._closing = True
        self._server.should_exit = True
        self.close_streams()
        self._thread.join(10)

    def push(self, event: dict[str, Any]) -> None:
        """Send ``event`` on the newest open subscription."""
        self._to_latest(event)

    def close_streams(self) -> None:
        """End every open subscription stream, as a restarting master/agent would."""
        with self._lock:
            subscribers = list(self.subscriptions)
        for subscriber in subscribers:
            self._send(subscriber, None)

    def calls_of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["body"].get("type") == kind]

    # -- server side -------------------------------------------------------------

    def _to_latest(self, event: dict[str, Any] | None) -> None:
        with self._lock:
            subscriber = self.subscriptions[-1]
        self._send(subscriber, event)

    def _send(self, subscriber: Subscriber, event: dict[str, Any] | None) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(subscriber.queue.put_nowait, event)

    async def _record(self, request: Request) -> dict[str, Any]:
        self._loop = asyncio.get_running_loop()
        body = json.loads(await request.body())
        with self._lock:
            self.calls.append({"body": body, "headers": dict(request.headers), "at": time.time()})
        return body

    def _unauthorized(self, request: Request) -> bool:
        if self.credentials is None:
            return False
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return request.headers.get("authorization") != f"Basic {token}"

    async def _scheduler(self, request: Request) -> Response:
        body = await self._record(request)
        if self._unauthorized(request):
            return Response("unauthorized", status_code=401)
        if body.get("type") == "SUBSCRIBE":
            if "mesos-stream-id" in request.headers:
                return Response(
                    "Subscribe calls should not include the 'Mesos-Stream-Id' header",
                    status_code=400,
                )
            if self.redirect_to is not None:
                return Response(status_code=307, headers={"Location": self.redirect_to})
            framework_id = (body.get("framework_id") or {}).get("value") or self.framework_id
            first = {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": framework_id},
                    "heartbeat_interval_seconds": self.heartbeat_interval,
                    "master_info": {"id": "m", "ip": 0, "port": self.port},
                },
            }
            return self._stream(body, first)
        # The answers of src/master/http.cpp (a real master answers 400, not 403, here).
        stream_id = request.headers.get("mesos-stream-id")
        if stream_id is None:
            return Response(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
                status_code=400,
            )
        with self._lock:
            known = {s.stream_id for s in self.subscriptions}
        if stream_id not in known:
            text = (
                f"The stream ID '{stream_id}' included in this request didn't match the stream"
                f" ID currently associated with framework ID {self.framework_id}"
            )
            return Response(text, status_code=400)
        return Response(status_code=202)

    async def _executor(self, request: Request) -> Response:
        body = await self._record(request)
        if body.get("type") == "SUBSCRIBE":
            first = {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "executor_info": {"executor_id": body["executor_id"]},
                    "framework_info": {"id": body["framework_id"], "name": "t", "user": "u"},
                    "agent_info": {"hostname": "agent-1", "port": self.port},
                },
            }
            return self._stream(body, first)
        if body.get("type") == "UPDATE" and uuid_error(body["update"]["status"]["uuid"]):
            # What a real agent answers (src/common/validation.cpp `validateExecutorCall`).
            return Response("Failed to validate Executor::Call: Not a valid UUID", status_code=400)
        if body.get("type") == "UPDATE" and self.auto_ack:
            status = body["update"]["status"]
            ack = {"task_id": status["task_id"], "uuid": status["uuid"]}
            self._to_latest({"type": "ACKNOWLEDGED", "acknowledged": ack})
        return Response(status_code=202)

    def _stream(self, body: dict[str, Any], first: dict[str, Any]) -> Response:
        if self._closing:
            return Response("shutting down", status_code=503)
        with self._lock:
            self._serial += 1
            subscriber = Subscriber(body, f"stream-{self._serial}")
            self.subscriptions.append(subscriber)

        async def events() -> AsyncIterator[bytes]:
            yield encode(json.dumps(first).encode())
            while True:
                timeout = None if self.stall else self.heartbeat_interval
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), timeout)
                except TimeoutError:
                    event = {"type": "HEARTBEAT"}
                if event is None:
                    return
                yield encode(json.dumps(event).encode())

        return StreamingResponse(
            events(),
            media_type="application/json",
            headers={"Mesos-Stream-Id": subscriber.stream_id},
        )


def wait_until(predicate: Callable[[], object], timeout: float, message: str) -> None:
    """Poll ``predicate`` until true; AssertionError with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(message)
