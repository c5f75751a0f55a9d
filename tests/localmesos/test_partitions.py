"""Agent partitions as on a real cluster (master.cpp `markUnreachable`, `__removeSlave`,
`__reregisterSlave`, `reconcile`; docs/reconciliation.md; mesos.proto PARTITION_AWARE): the
agent's executors keep running, the master marks it unreachable after its ping timeouts and
takes its tasks back when it re-registers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from localmesos import LocalMesos
from tests.localmesos.conftest import executor_info, leak_checked
from tests.localmesos.raw_scheduler import RawScheduler
from tests.localmesos.test_executors import executor_task, wait_until

PARTITION_AWARE = [{"type": "PARTITION_AWARE"}]


def start_cluster(tmp_path: Path, ping_timeout: float) -> Iterator[LocalMesos]:
    with leak_checked(agents=2, cpus=1.0, mem=512.0, work_dir=tmp_path, shutdown_grace=0.5,
                      agent_ping_timeout=ping_timeout, max_agent_ping_timeouts=3) as mesos:
        yield mesos


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalMesos]:
    yield from start_cluster(tmp_path, ping_timeout=0.1)


@pytest.fixture
def slow_pings(tmp_path: Path) -> Iterator[LocalMesos]:
    """Pings so far apart that a partitioned agent stays disconnected for the whole test."""
    yield from start_cluster(tmp_path, ping_timeout=60.0)


def running_task(
    scheduler: RawScheduler, task_id: str, sleep: float | None = None
) -> tuple[str, dict[str, Any]]:
    """Launches a task on the first offer's agent; its agent id and TASK_RUNNING update."""
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    scheduler.accept([offer], [executor_task(task_id, offer, executor_info(f"e-{task_id}"),
                                             sleep=sleep)])
    return offer["agent_id"]["value"], scheduler.wait_update(task_id, "TASK_RUNNING")


def unreachable_tasks(cluster: LocalMesos) -> list[dict[str, Any]]:
    return [t for f in cluster.state()["frameworks"] for t in f["unreachable_tasks"]]


def test_an_unreachable_agents_tasks_come_back_when_it_re_registers(
    cluster: LocalMesos,
) -> None:
    scheduler = RawScheduler(cluster.url, capabilities=PARTITION_AWARE)
    try:
        agent, running = running_task(scheduler, "p1")
        pid = json.loads(running["message"])["pid"]
        start = len(scheduler.events)
        cluster.partition_agent(agent)

        lost = scheduler.wait_update("p1", "TASK_UNREACHABLE", start=start)
        assert lost["source"] == "SOURCE_MASTER"
        assert lost["reason"] == "REASON_AGENT_REMOVED"
        assert lost["unreachable_time"]["nanoseconds"] > 0
        assert "uuid" not in lost
        failure = scheduler.wait_for(lambda e: e["type"] == "FAILURE", start=start)
        assert failure["failure"] == {"agent_id": {"value": agent}}
        assert psutil.Process(pid).is_running(), "the executor must survive the partition"
        state = cluster.state()
        assert state["unreachable_slaves"] == 1
        assert agent not in {s["id"] for s in state["slaves"]}
        assert [t["id"] for t in unreachable_tasks(cluster)] == ["p1"]

        asked = len(scheduler.events)
        scheduler.call("RECONCILE", {"tasks": [{"task_id": {"value": "p1"},
                                                "agent_id": {"value": agent}}]})
        answer = scheduler.wait_update("p1", "TASK_UNREACHABLE", start=asked)
        assert answer["reason"] == "REASON_RECONCILIATION"
        assert answer["message"] == "Reconciliation: Task is unreachable"

        healed = len(scheduler.events)
        cluster.heal_agent(agent)
        back = scheduler.wait_update("p1", "TASK_RUNNING", start=healed)
        assert back["source"] == "SOURCE_MASTER"
        assert back["reason"] == "REASON_AGENT_REREGISTERED"
        state = cluster.state()
        assert state["unreachable_slaves"] == 0 and not unreachable_tasks(cluster)
        [task] = [t for f in state["frameworks"] for t in f["tasks"]]
        assert (task["id"], task["state"]) == ("p1", "TASK_RUNNING")

        killed = len(scheduler.events)
        assert scheduler.call("KILL", {"task_id": {"value": "p1"}}).status_code == 202
        scheduler.wait_update("p1", "TASK_KILLED", start=killed)
    finally:
        scheduler.stop()


def test_a_non_partition_aware_framework_hears_lost_and_its_task_is_not_killed(
    cluster: LocalMesos,
) -> None:
    # Since Mesos 1.5 such tasks survive the agent's return (mesos.proto, PARTITION_AWARE).
    scheduler = RawScheduler(cluster.url)
    try:
        agent, _ = running_task(scheduler, "n1")
        start = len(scheduler.events)
        cluster.partition_agent(agent)
        lost = scheduler.wait_update("n1", "TASK_LOST", start=start)
        assert lost["reason"] == "REASON_AGENT_REMOVED"
        assert [t["state"] for t in unreachable_tasks(cluster)] == ["TASK_LOST"]
        healed = len(scheduler.events)
        cluster.heal_agent(agent)
        scheduler.wait_update("n1", "TASK_RUNNING", start=healed)
        [task] = [t for f in cluster.state()["frameworks"] for t in f["tasks"]]
        assert task["state"] == "TASK_RUNNING"
    finally:
        scheduler.stop()


def test_updates_sent_during_the_partition_arrive_after_it(cluster: LocalMesos) -> None:
    scheduler = RawScheduler(cluster.url, capabilities=PARTITION_AWARE)
    try:
        agent, _ = running_task(scheduler, "u1", sleep=1.0)
        start = len(scheduler.events)
        cluster.partition_agent(agent)
        scheduler.wait_update("u1", "TASK_UNREACHABLE", start=start)
        # The executor finishes the task behind the partition; its agent holds the update.
        assert cluster.master is not None
        held = cluster.master.agents[agent].held
        wait_until(lambda: any(s["state"] == "TASK_FINISHED" for _, s, _ in held))
        healed = len(scheduler.events)
        cluster.heal_agent(agent)
        word = scheduler.wait_update("u1", "TASK_FINISHED", start=healed)
        assert word["reason"] == "REASON_AGENT_REREGISTERED"  # the master's, first
        finished = scheduler.wait_for(
            lambda e: e["type"] == "UPDATE"
            and e["update"]["status"]["source"] == "SOURCE_EXECUTOR"
            and e["update"]["status"]["state"] == "TASK_FINISHED",
            start=healed,
        )["update"]["status"]
        assert finished["uuid"]
        scheduler.acknowledge(finished)
        done = [t for f in cluster.state()["frameworks"] for t in f["completed_tasks"]]
        assert [(t["id"], t["state"]) for t in done] == [("u1", "TASK_FINISHED")]
    finally:
        scheduler.stop()


def test_a_kill_asked_while_disconnected_is_sent_when_the_agent_re_registers(
    slow_pings: LocalMesos,
) -> None:
    scheduler = RawScheduler(slow_pings.url, capabilities=PARTITION_AWARE)
    try:
        agent, _ = running_task(scheduler, "k1")
        slow_pings.partition_agent(agent)
        state = slow_pings.state()
        assert state["deactivated_slaves"] == 1
        assert not next(s for s in state["slaves"] if s["id"] == agent)["active"]
        start = len(scheduler.events)
        assert scheduler.call("KILL", {"task_id": {"value": "k1"}}).status_code == 202
        slow_pings.heal_agent(agent)
        scheduler.wait_update("k1", "TASK_KILLED", start=start)
    finally:
        scheduler.stop()


def test_a_kill_of_an_unreachable_task_is_answered_by_reconciliation(
    cluster: LocalMesos,
) -> None:
    scheduler = RawScheduler(cluster.url, capabilities=PARTITION_AWARE)
    try:
        agent, _ = running_task(scheduler, "r1")
        start = len(scheduler.events)
        cluster.partition_agent(agent)
        scheduler.wait_update("r1", "TASK_UNREACHABLE", start=start)
        asked = len(scheduler.events)
        assert scheduler.call("KILL", {"task_id": {"value": "r1"}}).status_code == 202
        answer = scheduler.wait_update("r1", "TASK_UNREACHABLE", start=asked)
        assert answer["reason"] == "REASON_RECONCILIATION"
    finally:
        scheduler.stop()
