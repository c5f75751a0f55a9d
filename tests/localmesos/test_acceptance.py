"""A scheduler written against the Mesos docs (raw HTTP) drives `python -m localmesos`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.localmesos.raw_scheduler import RawScheduler, command_task
from tests.services import free_port


@pytest.fixture
def localmesos_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localmesos",
            "--agents",
            "2",
            "--listen",
            f"127.0.0.1:{port}",
            "--heartbeat-interval",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed once it is serving
        assert url == f"http://127.0.0.1:{port}", url
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def test_raw_http_scheduler_against_python_m_localmesos(
    localmesos_process: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = localmesos_process
    assert httpx.get(f"{url}/health").status_code == 200
    sched = RawScheduler(url)
    try:
        framework_id = sched.subscribe()
        subscribed = sched.events[0]["subscribed"]
        assert subscribed["heartbeat_interval_seconds"] == 1
        assert sched.stream_id

        offers = sched.offers(count=2)
        assert {o["hostname"] for o in offers} == {"agent-1", "agent-2"}
        for offer in offers:
            assert offer["framework_id"] == framework_id
            assert offer["url"]["address"]["ip"] == "127.0.0.1"
            names = {r["name"] for r in offer["resources"]}
            assert {"cpus", "mem", "disk", "ports"} <= names
            assert all(r["allocation_info"] == {"role": "*"} for r in offer["resources"])
        first, second = sorted(offers, key=lambda o: o["hostname"])

        sched.accept(
            [first],
            [
                command_task("t-true", first, "true"),
                command_task("t-sleep", first, "sleep 0.2"),
                command_task("t-exit", first, "exit 3"),
            ],
        )
        sched.accept([second], [command_task("t-long", second, "sleep 60")])

        for task_id in ("t-true", "t-sleep"):
            running = sched.wait_update(task_id, "TASK_RUNNING")
            finished = sched.wait_update(task_id, "TASK_FINISHED")
            assert running["uuid"] and finished["uuid"] != running["uuid"]
            assert finished["agent_id"] == first["agent_id"]
        failed = sched.wait_update("t-exit", "TASK_FAILED")
        assert "exited with status 3" in failed["message"]

        # Un-acknowledged updates are re-sent, with the same uuid, until acknowledged.
        starting = sched.wait_update("t-long", "TASK_STARTING", ack=False)
        copies = sched.wait_count(
            lambda e: (
                e["type"] == "UPDATE" and e["update"]["status"].get("uuid") == starting["uuid"]
            ),
            count=2,
            timeout=6,
        )
        assert copies[1]["update"]["status"]["state"] == "TASK_STARTING"
        sched.wait_update("t-long", "TASK_RUNNING")
        assert any(e["type"] == "HEARTBEAT" for e in sched.events)
        long_pids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert long_pids, "the sleep runs as a real process"

        state = httpx.get(f"{url}/master/state").json()
        framework = next(f for f in state["frameworks"] if f["id"] == framework_id["value"])
        assert [(t["id"], t["state"]) for t in framework["tasks"]] == [("t-long", "TASK_RUNNING")]
        completed = {t["id"]: t["state"] for t in framework["completed_tasks"]}
        assert completed == {
            "t-true": "TASK_FINISHED",
            "t-sleep": "TASK_FINISHED",
            "t-exit": "TASK_FAILED",
        }
        assert {s["hostname"] for s in state["slaves"]} == {"agent-1", "agent-2"}

        # Explicit reconciliation: the latest state, or TASK_LOST for an unknown task.
        start = len(sched.events)
        response = sched.call(
            "RECONCILE",
            {
                "tasks": [
                    {"task_id": {"value": "t-long"}, "agent_id": second["agent_id"]},
                    {"task_id": {"value": "no-such-task"}},
                ]
            },
        )
        assert response.status_code == 202
        long_state = sched.wait_for(lambda e: _status_of(e, "t-long"), start=start)
        unknown = sched.wait_for(lambda e: _status_of(e, "no-such-task"), start=start)
        for event, state_name in ((long_state, "TASK_RUNNING"), (unknown, "TASK_LOST")):
            status = event["update"]["status"]
            assert status["state"] == state_name
            assert status["reason"] == "REASON_RECONCILIATION"
            assert "uuid" not in status
        # Implicit reconciliation: every task the master knows, here only t-long.
        start = len(sched.events)
        assert sched.call("RECONCILE", {"tasks": []}).status_code == 202
        sched.wait_for(lambda e: _status_of(e, "t-long"), start=start)
        time.sleep(0.2)
        assert [e for e in sched.events[start:] if e["type"] == "UPDATE"] == [
            e for e in sched.events[start:] if _status_of(e, "t-long")
        ]

        assert sched.call("KILL", {"task_id": {"value": "t-long"}}).status_code == 202
        killed = sched.wait_update("t-long", "TASK_KILLED", start=start)
        assert killed["uuid"]

        assert sched.call("TEARDOWN").status_code == 202
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            state = httpx.get(f"{url}/master/state").json()
            if state["completed_frameworks"]:
                break
            time.sleep(0.05)
        assert [f["id"] for f in state["completed_frameworks"]] == [framework_id["value"]]
        assert state["frameworks"] == []
    finally:
        sched.stop()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert not [
        p
        for p in long_pids
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]


def _status_of(event: dict[str, object], task_id: str) -> bool:
    if event.get("type") != "UPDATE":
        return False
    status = event["update"]["status"]  # type: ignore[index]
    return bool(status["task_id"]["value"] == task_id)
