"""A tiny custom executor speaking docs/executor-http-api.md with raw httpx.

Launched by localmesos in the tests as `python raw_executor.py`. Each task's
`data` is base64 JSON: {"sleep": seconds} (default: until killed). It reports
TASK_RUNNING (message: JSON with its pid and sandbox) and TASK_FINISHED, honours
KILL (TASK_KILLED) and SHUTDOWN (kills all, exits), echoes framework messages
back, and prints every ACKNOWLEDGED it gets to stdout. With MESOS_CHECKPOINT=1
it re-subscribes after a disconnection, re-sending unacknowledged updates.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

import httpx
from raw_scheduler import read_records  # the script's own folder is on sys.path

ENDPOINT = f"http://{os.environ['MESOS_AGENT_ENDPOINT']}/api/v1/executor"
FRAMEWORK_ID = {"value": os.environ["MESOS_FRAMEWORK_ID"]}
EXECUTOR_ID = {"value": os.environ["MESOS_EXECUTOR_ID"]}
CHECKPOINT = os.environ["MESOS_CHECKPOINT"] == "1"

lock = threading.Lock()
unacked: dict[str, dict[str, Any]] = {}  # uuid -> update
tasks: dict[str, dict[str, Any]] = {}  # live task id -> TaskInfo
timers: dict[str, threading.Timer] = {}
client = httpx.Client(timeout=10)


def post(call: dict[str, Any]) -> None:
    call.update(framework_id=FRAMEWORK_ID, executor_id=EXECUTOR_ID)
    response = client.post(ENDPOINT, json=call, headers={"Accept": "application/json"})
    assert response.status_code == 202, (response.status_code, response.text)


def update(task_id: str, state: str, message: str = "") -> None:
    status: dict[str, Any] = {
        "task_id": {"value": task_id},
        "state": state,
        "source": "SOURCE_EXECUTOR",
        "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
        "message": message,
        "timestamp": time.time(),
    }
    with lock:
        unacked[status["uuid"]] = {"status": status}
        if state != "TASK_RUNNING":
            tasks.pop(task_id, None)
            timer = timers.pop(task_id, None)
            if timer is not None:
                timer.cancel()
    post({"type": "UPDATE", "update": {"status": status}})


def launch(task: dict[str, Any]) -> None:
    task_id = task["task_id"]["value"]
    params = json.loads(base64.b64decode(task.get("data", "") or "e30="))
    with lock:
        tasks[task_id] = task
    update(task_id, "TASK_RUNNING", json.dumps({"pid": os.getpid(), "sandbox": os.getcwd()}))
    if "sleep" in params:
        timer = threading.Timer(params["sleep"], update, (task_id, "TASK_FINISHED"))
        with lock:
            timers[task_id] = timer
        timer.start()


def handle(event: dict[str, Any]) -> bool:
    """Returns False when the executor should exit."""
    kind = event["type"]
    if kind == "LAUNCH":
        launch(event["launch"]["task"])
    elif kind == "LAUNCH_GROUP":
        for task in event["launch_group"]["task_group"]["tasks"]:
            launch(task)
    elif kind == "KILL":
        update(event["kill"]["task_id"]["value"], "TASK_KILLED")
    elif kind == "ACKNOWLEDGED":
        with lock:
            acked = unacked.pop(event["acknowledged"]["uuid"], None)
        if acked is not None:
            status = acked["status"]
            print("ACKNOWLEDGED", status["task_id"]["value"], status["state"], flush=True)
    elif kind == "MESSAGE":
        post({"type": "MESSAGE", "message": {"data": event["message"]["data"]}})
    elif kind == "SHUTDOWN":
        for task_id in list(tasks):
            update(task_id, "TASK_KILLED")
        return False
    return True


def subscribe() -> bool:
    """One subscription; True when the executor should exit."""
    with lock:
        body = {
            "unacknowledged_tasks": list(tasks.values()),
            "unacknowledged_updates": list(unacked.values()),
        }
    call = {
        "type": "SUBSCRIBE",
        "framework_id": FRAMEWORK_ID,
        "executor_id": EXECUTOR_ID,
        "subscribe": body,
    }
    headers = {"Accept": "application/json"}
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=None)) as stream_client,
        stream_client.stream("POST", ENDPOINT, json=call, headers=headers) as response,
    ):
        if response.status_code != 200:
            print("SUBSCRIBE refused", response.status_code, response.read(), flush=True)
            return True
        for record in read_records(response.iter_raw()):
            if not handle(json.loads(record)):
                return True
    return False


def main() -> int:
    while True:
        try:
            if subscribe():
                return 0
        except httpx.HTTPError as exc:
            print("disconnected:", exc, flush=True)
        if not CHECKPOINT:
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
