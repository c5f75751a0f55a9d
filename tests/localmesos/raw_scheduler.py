"""A scheduler written from docs/scheduler-http-api.md with raw HTTP (httpx only).

It is deliberately independent of localmesos' and mesosapi's code so that the
tests check the wire format against the Mesos docs, not against ourselves.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

Event = dict[str, Any]


def read_records(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """RecordIO (docs/recordio.md): `<decimal length>\\n<that many bytes>`, repeated."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            size = int(buffer[:newline])
            if len(buffer) - newline - 1 < size:
                break
            yield buffer[newline + 1 : newline + 1 + size]
            buffer = buffer[newline + 1 + size :]


class RawScheduler:
    def __init__(self, url: str, **framework_info: Any) -> None:
        self.url = url.rstrip("/") + "/api/v1/scheduler"
        self.framework_info: dict[str, Any] = {"user": "tester", "name": "raw", **framework_info}
        self.framework_id: dict[str, str] | None = None
        self.stream_id: str | None = None
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._client = httpx.Client(timeout=10)
        self._stream_client: httpx.Client | None = None
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------------ subscription

    def subscribe(self, timeout: float = 10) -> dict[str, str]:
        info = dict(self.framework_info)
        body: Event = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if self.framework_id is not None:
            # docs/scheduler-http-api.md: a re-subscription carries the id in both places.
            info["id"] = self.framework_id
            body["framework_id"] = self.framework_id
        ready = threading.Event()
        self._stream_client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        start = len(self.events)
        self._reader = threading.Thread(
            target=self._read, args=(self._stream_client, body, ready), daemon=True
        )
        self._reader.start()
        if not ready.wait(timeout):
            raise TimeoutError("no answer to SUBSCRIBE")
        subscribed = self.wait_for(lambda e: e["type"] == "SUBSCRIBED", timeout, start=start)
        self.framework_id = subscribed["subscribed"]["framework_id"]
        return self.framework_id

    def _read(self, client: httpx.Client, body: Event, ready: threading.Event) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            with client.stream("POST", self.url, json=body, headers=headers) as response:
                assert response.status_code == 200, response.read()
                self.stream_id = response.headers["Mesos-Stream-Id"]
                ready.set()
                for record in read_records(response.iter_raw()):
                    with self._changed:
                        self.events.append(json.loads(record))
                        self._changed.notify_all()
        except (httpx.HTTPError, RuntimeError):
            pass  # the stream was closed by close(), or by the master

    def close(self) -> None:
        """Drops the subscription connection (as a crashed scheduler would)."""
        if self._stream_client is not None:
            self._stream_client.close()
        if self._reader is not None:
            self._reader.join(5)

    def stop(self) -> None:
        self.close()
        self._client.close()

    # ------------------------------------------------------------------ calls

    def call(self, kind: str, body: Event | None = None, **extra: Any) -> httpx.Response:
        call: Event = {"type": kind, "framework_id": self.framework_id}
        if body is not None:
            call[kind.lower()] = body
        call.update(extra)
        headers = {"Mesos-Stream-Id": self.stream_id or ""}
        return self._client.post(self.url, json=call, headers=headers)

    def accept(
        self,
        offers: list[Event],
        tasks: list[Event],
        refuse_seconds: float | None = None,
    ) -> None:
        body: Event = {
            "offer_ids": [o["id"] for o in offers],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
        }
        if refuse_seconds is not None:
            body["filters"] = {"refuse_seconds": refuse_seconds}
        response = self.call("ACCEPT", body)
        assert response.status_code == 202, response.text

    def acknowledge(self, status: Event) -> None:
        body = {
            "agent_id": status["agent_id"],
            "task_id": status["task_id"],
            "uuid": status["uuid"],
        }
        response = self.call("ACKNOWLEDGE", body)
        assert response.status_code == 202, response.text

    # ------------------------------------------------------------------ events

    def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 10, start: int = 0
    ) -> Event:
        """The first event from index `start` on that matches, waiting up to `timeout` s."""
        return self.wait_count(predicate, 1, timeout, start)[0]

    def wait_count(
        self, predicate: Callable[[Event], bool], count: int, timeout: float = 10, start: int = 0
    ) -> list[Event]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self.events[start:] if predicate(e)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [e["type"] for e in self.events[start:]]
                    raise TimeoutError(f"{len(found)} of {count} events in {timeout}s; got {kinds}")
                self._changed.wait(left)

    def offers(self, start: int = 0, timeout: float = 10, count: int = 1) -> list[Event]:
        """Offers received from event index `start` on, waiting until there are `count`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                o
                for e in self.events[start:]
                if e["type"] == "OFFERS"
                for o in e["offers"]["offers"]
            ]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} offers after {timeout}s, wanted {count}")
            time.sleep(0.02)

    def updates(self, task_id: str) -> list[Event]:
        return [
            e["update"]["status"]
            for e in list(self.events)
            if e["type"] == "UPDATE" and e["update"]["status"]["task_id"]["value"] == task_id
        ]

    def wait_update(
        self, task_id: str, state: str, timeout: float = 10, ack: bool = True, start: int = 0
    ) -> Event:
        """Waits for `state` of `task_id`, acknowledging (if `ack`) every update on the way."""
        deadline = time.monotonic() + timeout
        acked: set[str] = set()
        while True:
            for event in list(self.events[start:]):
                if event["type"] != "UPDATE":
                    continue
                status = event["update"]["status"]
                if status["task_id"]["value"] != task_id:
                    continue
                if ack and "uuid" in status and status["uuid"] not in acked:
                    acked.add(status["uuid"])
                    self.acknowledge(status)
                if status["state"] == state:
                    return status
            if time.monotonic() > deadline:
                seen = [s["state"] for s in self.updates(task_id)]
                raise TimeoutError(f"task {task_id} never reached {state}; saw {seen}")
            time.sleep(0.02)


def scalar(name: str, value: float) -> Event:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def command_task(task_id: str, offer: Event, command: str, cpus: float = 0.1) -> Event:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [scalar("cpus", cpus), scalar("mem", 16)],
        "command": {"value": command},
    }
