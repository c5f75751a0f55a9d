"""`GET /master/state` and each agent's `GET /state` in the real shapes, with the fields
named as src/master/readonly_handler.cpp (FullFrameworkWriter), src/common/http.cpp
(json(ExecutorInfo), json(Task)) and src/slave/http.cpp (Http::state, FrameworkWriter,
ExecutorWriter) write them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localmesos import LocalMesos
from tests.localmesos.conftest import executor_info, leak_checked
from tests.localmesos.raw_scheduler import RawScheduler, command_task
from tests.localmesos.test_executors import executor_task, wait_until

FRAMEWORK_FIELDS = {
    "id", "name", "used_resources", "offered_resources", "capabilities", "hostname",
    "webui_url", "active", "connected", "recovered", "user", "failover_timeout", "checkpoint",
    "registered_time", "unregistered_time", "resources", "tasks", "unreachable_tasks",
    "completed_tasks", "offers", "executors",
}
EXECUTOR_FIELDS = {"executor_id", "name", "framework_id", "command", "resources", "slave_id"}
TASK_FIELDS = {"id", "name", "framework_id", "executor_id", "slave_id", "state", "resources",
               "role", "statuses"}
AGENT_FIELDS = {"version", "start_time", "id", "pid", "hostname", "capabilities", "resources",
                "reserved_resources", "unreserved_resources", "attributes", "flags",
                "frameworks", "completed_frameworks"}
AGENT_FRAMEWORK_FIELDS = {"id", "name", "user", "failover_timeout", "checkpoint", "hostname",
                          "executors", "completed_executors"}
AGENT_EXECUTOR_FIELDS = {"id", "name", "source", "container", "directory", "resources",
                         "tasks", "queued_tasks", "completed_tasks"}


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[LocalMesos]:
    with leak_checked(agents=1, cpus=2.0, mem=1024.0, work_dir=tmp_path,
                      heartbeat_interval=1.0, shutdown_grace=0.5,
                      max_completed_tasks_per_framework=3, max_completed_frameworks=2) as mesos:
        yield mesos


def framework_of(state: dict[str, Any], framework_id: str) -> dict[str, Any]:
    return next(f for f in state["frameworks"] if f["id"] == framework_id)


def get(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_master_lists_executors_and_counts_their_resources(
    scheduler: RawScheduler, cluster: LocalMesos
) -> None:
    framework_id = scheduler.subscribe()["value"]
    offer = scheduler.offers()[0]
    executor = executor_info("exec-s", cpus=0.2)
    scheduler.accept([offer], [executor_task("s1", offer, executor, cpus=0.3)])
    scheduler.wait_update("s1", "TASK_RUNNING")
    state = get(f"{cluster.url}/master/state")
    framework = framework_of(state, framework_id)
    assert framework.keys() >= FRAMEWORK_FIELDS
    assert "pid" not in framework  # an HTTP framework has none
    [shown] = framework["executors"]
    assert shown.keys() >= EXECUTOR_FIELDS
    assert shown["executor_id"] == "exec-s"
    assert shown["framework_id"] == framework_id
    assert shown["slave_id"] == offer["agent_id"]["value"]
    assert shown["resources"]["cpus"] == pytest.approx(0.2)
    assert shown["command"]["value"] == executor["command"]["value"]
    assert shown["command"]["argv"] == [] and shown["command"]["uris"] == []
    # The task and its executor, as the agent counts them.
    assert framework["used_resources"]["cpus"] == pytest.approx(0.5)
    assert framework["used_resources"]["mem"] == pytest.approx(16 + 32)
    agent = next(a for a in state["slaves"] if a["id"] == offer["agent_id"]["value"])
    assert agent["used_resources"]["cpus"] == pytest.approx(0.5)
    [task] = framework["tasks"]
    assert task.keys() >= TASK_FIELDS
    assert task["executor_id"] == "exec-s" and task["state"] == "TASK_RUNNING"
    assert [s["state"] for s in task["statuses"]] == ["TASK_RUNNING"]

    # An executor that is gone is no longer listed, nor counted.
    assert scheduler.call("SHUTDOWN", {"executor_id": {"value": "exec-s"},
                                       "agent_id": offer["agent_id"]}).status_code == 202
    wait_until(lambda: not framework_of(cluster.state(), framework_id)["executors"])
    assert framework_of(cluster.state(), framework_id)["used_resources"]["cpus"] == 0


def test_a_suppressed_framework_stays_active(cluster: LocalMesos) -> None:
    scheduler = RawScheduler(cluster.url, failover_timeout=60.0)
    try:
        framework_id = scheduler.subscribe()["value"]
        assert scheduler.call("SUPPRESS").status_code == 202
        framework = framework_of(cluster.state(), framework_id)
        assert framework["active"] is True and framework["connected"] is True
        scheduler.close()
        wait_until(lambda: not framework_of(cluster.state(), framework_id)["connected"])
        assert framework_of(cluster.state(), framework_id)["active"] is False
    finally:
        scheduler.stop()


def test_completed_tasks_and_frameworks_are_bounded(bounded: LocalMesos) -> None:
    state = bounded.state()
    assert state["flags"]["max_completed_tasks_per_framework"] == "3"
    assert state["flags"]["max_completed_frameworks"] == "2"
    ids = []
    for round_ in range(3):
        scheduler = RawScheduler(bounded.url)
        try:
            ids.append(scheduler.subscribe()["value"])
            start = 0
            for n in range(5):
                offer = scheduler.offers(start=start)[0]
                start = len(scheduler.events)
                task_id = f"r{round_}-t{n}"
                scheduler.accept([offer], [command_task(task_id, offer, "true")],
                                 refuse_seconds=0)
                scheduler.wait_update(task_id, "TASK_FINISHED")
            wait_until(lambda: not framework_of(bounded.state(), ids[-1])["tasks"])
            completed = framework_of(bounded.state(), ids[-1])["completed_tasks"]
            # The three most recent, in order: a circular buffer.
            assert [t["id"] for t in completed] == [f"r{round_}-t{n}" for n in (2, 3, 4)]
            assert scheduler.call("TEARDOWN").status_code == 202
            wait_until(lambda: ids[-1] in
                       [f["id"] for f in bounded.state()["completed_frameworks"]])
        finally:
            scheduler.stop()
    assert [f["id"] for f in bounded.state()["completed_frameworks"]] == ids[1:]


def test_agent_state_shows_frameworks_executors_and_tasks(
    scheduler: RawScheduler, cluster: LocalMesos
) -> None:
    framework_id = scheduler.subscribe()["value"]
    offer = scheduler.offers()[0]
    agent_id = offer["agent_id"]["value"]
    port = offer["url"]["address"]["port"]
    executor = executor_info("exec-a")
    scheduler.accept([offer], [executor_task("a1", offer, executor, sleep=0.1),
                               executor_task("a2", offer, executor)])
    scheduler.wait_update("a1", "TASK_FINISHED")
    scheduler.wait_update("a2", "TASK_RUNNING")
    state = get(f"http://127.0.0.1:{port}/state")
    assert get(f"http://127.0.0.1:{port}{offer['url']['path']}/state").keys() == state.keys()
    assert state.keys() >= AGENT_FIELDS
    assert state["id"] == agent_id and state["hostname"] == offer["hostname"]
    assert state["pid"].endswith(f"@127.0.0.1:{port}")
    assert state["resources"]["cpus"] == 1.0
    assert state["flags"]["executor_shutdown_grace_period"] == "500ms"
    [framework] = state["frameworks"]
    assert framework.keys() >= AGENT_FRAMEWORK_FIELDS and framework["id"] == framework_id
    [shown] = framework["executors"]
    assert shown.keys() >= AGENT_EXECUTOR_FIELDS
    assert shown["id"] == "exec-a"
    assert Path(shown["directory"]).is_dir()
    assert (Path(shown["directory"]) / "stdout").exists()
    assert [(t["id"], t["state"]) for t in shown["tasks"]] == [("a2", "TASK_RUNNING")]
    assert [(t["id"], t["state"]) for t in shown["completed_tasks"]] == [("a1", "TASK_FINISHED")]
    assert [s["state"] for s in shown["completed_tasks"][0]["statuses"]] == [
        "TASK_RUNNING", "TASK_FINISHED"]
    # The executor's and its live task's resources.
    assert shown["resources"]["cpus"] == pytest.approx(0.2)

    assert scheduler.call("TEARDOWN").status_code == 202
    wait_until(lambda: get(f"http://127.0.0.1:{port}/state")["completed_frameworks"])
    state = get(f"http://127.0.0.1:{port}/state")
    assert state["frameworks"] == []
    [completed] = state["completed_frameworks"]
    [gone] = completed["completed_executors"]
    assert gone["id"] == "exec-a" and gone["tasks"] == []
    assert {t["id"]: t["state"] for t in gone["completed_tasks"]} == {
        "a1": "TASK_FINISHED", "a2": "TASK_KILLED"}


def test_command_task_appears_under_its_command_executor(
    scheduler: RawScheduler, cluster: LocalMesos
) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    port = offer["url"]["address"]["port"]
    scheduler.accept([offer], [command_task("cmd-1", offer, "sleep 30")])
    scheduler.wait_update("cmd-1", "TASK_RUNNING")
    [framework] = get(f"http://127.0.0.1:{port}/state")["frameworks"]
    [shown] = framework["executors"]
    assert shown["id"] == "cmd-1" and shown["source"] == "cmd-1"
    assert shown["name"] == "Command Executor (Task: cmd-1) (Command: sh -c 'sleep 30')"
    assert [t["id"] for t in shown["tasks"]] == ["cmd-1"]
    # The master does not list command executors (it never saw an ExecutorInfo).
    assert framework_of(cluster.state(), framework["id"])["executors"] == []
