"""A raw v1 HTTP executor written from docs/executor-http-api.md, for test_doc_probes.

It dumps its environment into its sandbox, tries the documented executor-API
mistakes and reports the agent's answers in the data of its TASK_RUNNING
update, re-subscribes (listing its unacknowledged update and task, as the
Disconnections section says) and reports what it saw in its TASK_KILLED update.
Only the standard library and httpx: the agent gives it no environment to find more.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import sys
import threading
import uuid
from typing import Any

import httpx

from mesosapi.recordio import Decoder

ENV = dict(os.environ)
SANDBOX = ENV["MESOS_DIRECTORY"]
URL = f"http://{ENV['MESOS_AGENT_ENDPOINT']}/api/v1/executor"
FRAMEWORK_ID = {"value": ENV["MESOS_FRAMEWORK_ID"]}
EXECUTOR_ID = {"value": ENV["MESOS_EXECUTOR_ID"]}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
if "MESOS_EXECUTOR_AUTHENTICATION_TOKEN" in ENV:
    HEADERS["Authorization"] = "Bearer " + ENV["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"]
WAIT = 20.0

CLIENT = httpx.Client(timeout=10.0)


class Stream(threading.Thread):
    """One SUBSCRIBE connection; its events go to a queue, None when it ends."""

    def __init__(self, subscribe: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.body = {
            "type": "SUBSCRIBE",
            "framework_id": FRAMEWORK_ID,
            "executor_id": EXECUTOR_ID,
            "subscribe": subscribe,
        }
        self.start()

    def run(self) -> None:
        try:
            timeout = httpx.Timeout(10.0, read=None)
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream(
                    "POST", URL, content=json.dumps(self.body), headers=HEADERS
                ) as response,
            ):
                decoder = Decoder()
                for chunk in response.iter_bytes():
                    for record in decoder.feed(chunk):
                        self.events.put(json.loads(record))
        except httpx.HTTPError:
            pass
        self.events.put(None)

    def next(self, timeout: float = WAIT) -> dict[str, Any] | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return {"type": "TIMEOUT"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def status(task_id: dict[str, str], state: str, uid: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "state": state,
        "source": "SOURCE_EXECUTOR",
        "executor_id": EXECUTOR_ID,
        "uuid": b64(uid),
        **extra,
    }


def update(task_status: dict[str, Any], **ids: Any) -> dict[str, Any]:
    return {
        "type": "UPDATE",
        "framework_id": ids.get("framework_id", FRAMEWORK_ID),
        "executor_id": ids.get("executor_id", EXECUTOR_ID),
        "update": {"status": task_status},
    }


def post(body: Any, raw: str | None = None) -> list[Any]:
    content = raw if raw is not None else json.dumps(body)
    response = CLIENT.post(URL, content=content, headers=HEADERS)
    return [response.status_code, response.text]


def unknown_version_uuid() -> bytes:
    # RFC 4122 keeps the version in the high nibble of byte 6; 0 is no version.
    raw = bytearray(uuid.uuid4().bytes)
    raw[6] &= 0x0F
    return bytes(raw)


def mistakes(task_id: dict[str, str]) -> dict[str, Any]:
    running = "TASK_RUNNING"
    return {
        "bad_uuid": post(update(status(task_id, running, unknown_version_uuid()))),
        "short_uuid": post(update(status(task_id, running, uuid.uuid4().bytes[:15]))),
        "staging": post(update(status(task_id, "TASK_STAGING", uuid.uuid4().bytes))),
        "wrong_source": post(
            update(status(task_id, running, uuid.uuid4().bytes) | {"source": "SOURCE_MASTER"})
        ),
        "unknown_framework": post(
            update(
                status(task_id, running, uuid.uuid4().bytes),
                framework_id={"value": "no-such-framework"},
            )
        ),
        "unknown_executor": post(
            update(
                status(task_id, running, uuid.uuid4().bytes) | {"executor_id": {"value": "nope"}},
                executor_id={"value": "nope"},
            )
        ),
        "malformed": post(None, raw="{not json"),
        "no_type": post({"framework_id": FRAMEWORK_ID, "executor_id": EXECUTOR_ID}),
        "get": [CLIENT.get(URL, headers=HEADERS).status_code, ""],
    }


def main() -> int:
    with open(os.path.join(SANDBOX, "env.json"), "w") as out:
        json.dump(ENV, out)
    print("probe-executor-stdout", flush=True)
    print("probe-executor-stderr", file=sys.stderr, flush=True)

    # Until it subscribes, the agent refuses its other calls (slave/http.cpp `executor`).
    early = update(status({"value": "none-yet"}, "TASK_RUNNING", uuid.uuid4().bytes))
    before_subscribe = post(early)
    first = Stream({})
    subscribed = first.next()
    if not subscribed or subscribed["type"] != "SUBSCRIBED":
        return 2
    event = first.next()
    while event is not None and event["type"] != "LAUNCH":
        event = first.next()
    if event is None:
        return 3
    task = event["launch"]["task"]
    task_id = task["task_id"]

    starting_uuid = uuid.uuid4().bytes
    starting = status(task_id, "TASK_STARTING", starting_uuid)
    starting_answer = post(update(starting))
    report = mistakes(task_id) | {"starting": starting_answer, "before": before_subscribe}

    # A disconnected executor re-subscribes with what the agent has not acknowledged.
    second = Stream(
        {
            "unacknowledged_updates": [{"framework_id": FRAMEWORK_ID, "status": starting}],
            "unacknowledged_tasks": [task],
        }
    )
    resubscribed = second.next()
    report["resubscribed"] = bool(resubscribed) and resubscribed["type"] == "SUBSCRIBED"
    event = first.next()
    while event is not None and event["type"] != "TIMEOUT":
        event = first.next()
    report["first_stream_closed"] = event is None

    running_uuid = uuid.uuid4().bytes
    report["running"] = None
    data = b64(json.dumps(report).encode())
    running_answer = post(update(status(task_id, "TASK_RUNNING", running_uuid, data=data)))

    message = {
        "type": "MESSAGE",
        "framework_id": FRAMEWORK_ID,
        "executor_id": EXECUTOR_ID,
        "message": {"data": b64(b"hello-from-executor")},
    }
    seen: dict[str, Any] = {
        "running": running_answer,
        "acknowledged_running": False,
        "message": post(message),
        "messages": [],
    }
    event = second.next()
    while event is not None and event["type"] != "TIMEOUT":
        if event["type"] == "MESSAGE":
            seen["messages"].append(base64.b64decode(event["message"]["data"]).decode())
        if event["type"] == "ACKNOWLEDGED" and event["acknowledged"]["uuid"] == b64(running_uuid):
            seen["acknowledged_running"] = True
        if event["type"] == "KILL":
            killed = status(
                task_id, "TASK_KILLED", uuid.uuid4().bytes, data=b64(json.dumps(seen).encode())
            )
            post(update(killed))
        if event["type"] == "SHUTDOWN":
            return 0
        event = second.next()
    return 0


if __name__ == "__main__":
    sys.exit(main())
