"""Custom executors on an in-process LocalMesos: real HTTP, real executor processes."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from localmesos import LocalMesos
from tests.localmesos.conftest import executor_info
from tests.localmesos.raw_scheduler import RawScheduler, scalar


def executor_task(
    task_id: str,
    offer: dict[str, Any],
    executor: dict[str, Any],
    sleep: float | None = None,
    cpus: float = 0.1,
) -> dict[str, Any]:
    params = {} if sleep is None else {"sleep": sleep}
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [scalar("cpus", cpus), scalar("mem", 16)],
        "executor": executor,
        "data": base64.b64encode(json.dumps(params).encode()).decode(),
    }


def wait_until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def test_one_executor_runs_many_tasks_and_gets_acknowledgements(
    scheduler: RawScheduler, cluster: LocalMesos,
) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    executor = executor_info("exec-a")
    tasks = [executor_task(f"t{i}", offer, executor, sleep=0.1) for i in range(3)]
    start = len(scheduler.events)
    scheduler.accept([offer], tasks, refuse_seconds=0)
    running = [scheduler.wait_update(f"t{i}", "TASK_RUNNING") for i in range(3)]
    for i in range(3):
        scheduler.wait_update(f"t{i}", "TASK_FINISHED")
    reports = [json.loads(status["message"]) for status in running]
    assert len({r["pid"] for r in reports}) == 1, "all tasks ran in one executor process"
    assert all(s["executor_id"] == {"value": "exec-a"} for s in running)
    assert all(s["source"] == "SOURCE_EXECUTOR" and s["uuid"] for s in running)

    # A later task for the same executor goes to the running process.
    later = next(o for o in scheduler.offers(start) if o["agent_id"] == offer["agent_id"])
    assert later["executor_ids"] == [{"value": "exec-a"}]
    scheduler.accept([later], [executor_task("t-later", later, executor, sleep=0.1)])
    status = scheduler.wait_update("t-later", "TASK_RUNNING")
    assert json.loads(status["message"])["pid"] == reports[0]["pid"]
    scheduler.wait_update("t-later", "TASK_FINISHED")

    # Framework messages reach the executor, which echoes them back.
    data = base64.b64encode(b"ping").decode()
    response = scheduler.call(
        "MESSAGE", {"agent_id": offer["agent_id"], "executor_id": {"value": "exec-a"}, "data": data}
    )
    assert response.status_code == 202
    echo = scheduler.wait_for(lambda e: e["type"] == "MESSAGE")
    assert echo["message"]["data"] == data
    assert echo["message"]["executor_id"] == {"value": "exec-a"}

    # The scheduler's acknowledgements come back to the executor as ACKNOWLEDGED.
    stdout = Path(reports[0]["sandbox"]) / "stdout"
    wait_until(lambda: stdout.read_text().count("ACKNOWLEDGED") == 8)
    assert "ACKNOWLEDGED t-later TASK_FINISHED" in stdout.read_text()
    # The agent forgets a task's updates once its terminal one is acknowledged.
    assert cluster.master is not None
    [agent] = [a for a in cluster.master.agents.values() if a.id == offer["agent_id"]["value"]]
    assert [e.received for e in agent.executors.values()] == [{}]


def test_resources_are_never_over_committed(scheduler: RawScheduler, cluster: LocalMesos) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    cpus = next(r for r in offer["resources"] if r["name"] == "cpus")
    assert cpus["scalar"]["value"] == 1.0
    assert cpus["allocation_info"] == {"role": "*"}
    executor = executor_info("exec-b", cpus=0.5)
    # 0.5 (executor) + 2 x 0.25 fill the agent; a third task does not fit.
    tasks = [executor_task(f"r{i}", offer, executor, cpus=0.25) for i in range(3)]
    start = len(scheduler.events)
    scheduler.accept([offer], tasks, refuse_seconds=0)
    scheduler.wait_update("r0", "TASK_RUNNING")
    scheduler.wait_update("r1", "TASK_RUNNING")
    error = scheduler.wait_update("r2", "TASK_ERROR")
    assert error["reason"] == "REASON_TASK_INVALID"
    assert "is more than available" in error["message"]
    agent = next(a for a in cluster.state()["slaves"] if a["id"] == offer["agent_id"]["value"])
    assert agent["used_resources"]["cpus"] == 1.0
    # The other agent keeps being offered; the full one offers no cpus until a task ends.
    time.sleep(0.5)
    for later in scheduler.offers(start, count=0):
        if later["agent_id"] == offer["agent_id"]:
            assert all(r["name"] != "cpus" for r in later["resources"])
    scheduler.call("KILL", {"task_id": {"value": "r0"}})
    scheduler.wait_update("r0", "TASK_KILLED")
    freed = scheduler.wait_for(
        lambda e: (
            e["type"] == "OFFERS"
            and any(
                o["agent_id"] == offer["agent_id"]
                and any(
                    r["name"] == "cpus" and r["scalar"]["value"] == 0.25 for r in o["resources"]
                )
                for o in e["offers"]["offers"]
            )
        ),
        start=start,
    )
    assert freed


def test_kill_executor_fails_its_tasks(scheduler: RawScheduler, cluster: LocalMesos) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    executor = executor_info("exec-c")
    scheduler.accept([offer], [executor_task("k1", offer, executor)])
    scheduler.wait_update("k1", "TASK_RUNNING")
    pid = cluster.kill_executor(offer["agent_id"]["value"], "exec-c")
    failed = scheduler.wait_update("k1", "TASK_FAILED")
    assert failed["reason"] == "REASON_EXECUTOR_TERMINATED"
    assert failed["source"] == "SOURCE_AGENT"
    assert failed["uuid"]
    failure = scheduler.wait_for(lambda e: e["type"] == "FAILURE")["failure"]
    assert failure["executor_id"] == {"value": "exec-c"}
    assert failure["agent_id"] == offer["agent_id"]
    assert failure["status"] == 9  # killed by SIGKILL, as a raw wait status
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    ("capabilities", "expected"), [([], "TASK_LOST"), ([{"type": "PARTITION_AWARE"}], "TASK_GONE")]
)
def test_remove_agent_loses_tasks_and_rescinds_offers(
    cluster: LocalMesos, capabilities: list[dict[str, str]], expected: str
) -> None:
    scheduler = RawScheduler(cluster.url, capabilities=capabilities)
    try:
        scheduler.subscribe()
        offer = scheduler.offers()[0]
        start = len(scheduler.events)
        scheduler.accept(
            [offer], [executor_task("g1", offer, executor_info("exec-d"))], refuse_seconds=0
        )
        scheduler.wait_update("g1", "TASK_RUNNING")
        leftover = next(
            o for o in scheduler.offers(start, count=1) if o["agent_id"] == offer["agent_id"]
        )
        cluster.remove_agent(offer["agent_id"]["value"])
        lost = scheduler.wait_update("g1", expected)
        assert lost["reason"] == "REASON_AGENT_REMOVED"
        assert "uuid" not in lost
        rescind = scheduler.wait_for(lambda e: e["type"] == "RESCIND")
        assert rescind["rescind"]["offer_id"] == leftover["id"]
        failure = scheduler.wait_for(lambda e: e["type"] == "FAILURE")
        assert failure["failure"] == {"agent_id": offer["agent_id"]}
        assert offer["agent_id"]["value"] not in cluster.agent_ids
        scheduler.call(
            "RECONCILE", {"tasks": [{"task_id": {"value": "g1"}, "agent_id": offer["agent_id"]}]}
        )
        reconciled = scheduler.wait_for(
            lambda e: (
                e["type"] == "UPDATE"
                and e["update"]["status"].get("reason") == "REASON_RECONCILIATION"
            )
        )
        assert reconciled["update"]["status"]["state"] == expected
    finally:
        scheduler.stop()


def test_failover_keeps_tasks_and_resends_updates(cluster: LocalMesos) -> None:
    scheduler = RawScheduler(cluster.url, failover_timeout=60.0)
    try:
        framework_id = scheduler.subscribe()
        offer = scheduler.offers()[0]
        scheduler.accept([offer], [executor_task("f1", offer, executor_info("exec-e"))])
        running = scheduler.wait_update("f1", "TASK_RUNNING", ack=False)
        scheduler.close()  # the scheduler "crashes" before acknowledging TASK_RUNNING
        wait_until(lambda: not cluster.state()["frameworks"][0]["connected"])
        state = cluster.state()["frameworks"][0]
        assert [t["state"] for t in state["tasks"]] == ["TASK_RUNNING"]

        start = len(scheduler.events)
        assert scheduler.subscribe() == framework_id
        resent = scheduler.wait_for(
            lambda e: e["type"] == "UPDATE" and e["update"]["status"]["task_id"]["value"] == "f1",
            start=start,
        )
        assert resent["update"]["status"]["uuid"] == running["uuid"]
        scheduler.acknowledge(resent["update"]["status"])
        assert scheduler.call("KILL", {"task_id": {"value": "f1"}}).status_code == 202
        scheduler.wait_update("f1", "TASK_KILLED", start=start)
    finally:
        scheduler.stop()


def test_failover_timeout_tears_the_framework_down(cluster: LocalMesos) -> None:
    scheduler = RawScheduler(cluster.url, failover_timeout=0.5)
    try:
        framework_id = scheduler.subscribe()
        offer = scheduler.offers()[0]
        scheduler.accept([offer], [executor_task("x1", offer, executor_info("exec-f"))])
        pid = json.loads(scheduler.wait_update("x1", "TASK_RUNNING")["message"])["pid"]
        scheduler.close()
        wait_until(lambda: cluster.state()["completed_frameworks"])
        completed = cluster.state()["completed_frameworks"][0]
        assert completed["id"] == framework_id["value"]
        assert [t["state"] for t in completed["completed_tasks"]] == ["TASK_KILLED"]
        wait_until(lambda: not psutil.pid_exists(pid))
        # A torn-down framework cannot come back.
        start = len(scheduler.events)
        with pytest.raises(TimeoutError):
            scheduler.subscribe(timeout=2)
        error = scheduler.wait_for(lambda e: e["type"] == "ERROR", start=start)
        assert error["error"]["message"] == "Framework has been removed"
    finally:
        scheduler.stop()


def test_suppress_stops_offers_and_revive_restarts_them(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    offers = scheduler.offers(count=2)
    assert scheduler.call("SUPPRESS").status_code == 202
    body = {"offer_ids": [o["id"] for o in offers], "filters": {"refuse_seconds": 0}}
    assert scheduler.call("DECLINE", body).status_code == 202
    start = len(scheduler.events)
    time.sleep(1.0)
    assert scheduler.offers(start, count=0) == []
    assert scheduler.call("REVIVE").status_code == 202
    assert len(scheduler.offers(start, count=2, timeout=5)) == 2


def test_decline_filters_for_refuse_seconds(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    offers = scheduler.offers(count=2)
    start = len(scheduler.events)
    body = {"offer_ids": [offers[0]["id"]], "filters": {"refuse_seconds": 1.0}}
    assert scheduler.call("DECLINE", body).status_code == 202
    declined_at = time.monotonic()
    again = scheduler.offers(start, timeout=5)
    assert time.monotonic() - declined_at >= 0.9
    assert again[0]["agent_id"] == offers[0]["agent_id"]


def test_kill_of_task_queued_for_unsubscribed_executor(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    silent = {
        "executor_id": {"value": "never-subscribes"},
        "command": {"value": "sleep 60"},
        "resources": [scalar("cpus", 0.1)],
    }
    scheduler.accept([offer], [executor_task("q1", offer, silent)])
    time.sleep(0.3)
    assert scheduler.call("KILL", {"task_id": {"value": "q1"}}).status_code == 202
    killed = scheduler.wait_update("q1", "TASK_KILLED")
    assert killed["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"
    # The cluster fixture checks that stop() SIGTERMs the silent executor's process group.


def test_restart_agent_keeps_checkpointing_executors(cluster: LocalMesos) -> None:
    keep = RawScheduler(cluster.url, checkpoint=True, name="keep")
    lose = RawScheduler(cluster.url, name="lose")
    try:
        keep.subscribe()
        keep_offer = keep.offers()[0]
        agent_id = keep_offer["agent_id"]["value"]
        keep.accept(
            [keep_offer],
            [executor_task("c1", keep_offer, executor_info("exec-k"))],
            refuse_seconds=60,
        )
        keep.wait_update("c1", "TASK_RUNNING")
        lose.subscribe()
        lose_offer = next(o for o in lose.offers(count=1) if o["agent_id"]["value"] == agent_id)
        lose.accept([lose_offer], [executor_task("n1", lose_offer, executor_info("exec-n"))])
        lose.wait_update("n1", "TASK_RUNNING")

        cluster.restart_agent(agent_id)
        lost = lose.wait_update("n1", "TASK_LOST")
        assert lost["reason"] == "REASON_AGENT_RESTARTED"
        # The checkpointing executor re-subscribes and still answers its task's KILL.
        time.sleep(0.5)
        assert keep.call("KILL", {"task_id": {"value": "c1"}}).status_code == 202
        killed = keep.wait_update("c1", "TASK_KILLED")
        assert killed["source"] == "SOURCE_EXECUTOR"
    finally:
        keep.stop()
        lose.stop()


def test_launch_group_and_shutdown_executor(scheduler: RawScheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    executor = executor_info("exec-g")
    group = [executor_task(f"m{i}", offer, executor, sleep=0.1) for i in range(2)]
    for task in group:
        del task["executor"]
    operation = {
        "type": "LAUNCH_GROUP",
        "launch_group": {"executor": executor, "task_group": {"tasks": group}},
    }
    body = {"offer_ids": [offer["id"]], "operations": [operation]}
    assert scheduler.call("ACCEPT", body).status_code == 202
    pids = {
        json.loads(scheduler.wait_update(f"m{i}", "TASK_RUNNING")["message"])["pid"]
        for i in range(2)
    }
    for i in range(2):
        scheduler.wait_update(f"m{i}", "TASK_FINISHED")
    assert len(pids) == 1
    shutdown = {"executor_id": {"value": "exec-g"}, "agent_id": offer["agent_id"]}
    assert scheduler.call("SHUTDOWN", shutdown).status_code == 202
    failure = scheduler.wait_for(lambda e: e["type"] == "FAILURE")["failure"]
    assert failure["executor_id"] == {"value": "exec-g"} and failure["status"] == 0
    wait_until(lambda: not psutil.pid_exists(pids.pop()))


def test_what_a_killed_executor_started_in_its_own_session_dies_with_it(
    scheduler: RawScheduler, cluster: LocalMesos, tmp_path: Path
) -> None:
    # The executor's container, not its process group: a real agent's cgroups hold both.
    pid_file = tmp_path / "escapee"
    executor = executor_info("exec-escape")
    executor["command"]["value"] = (
        f"setsid sleep 300 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; "
        f"exec {executor['command']['value']}"
    )
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    scheduler.accept([offer], [executor_task("e1", offer, executor)])
    scheduler.wait_update("e1", "TASK_RUNNING")
    wait_until(pid_file.exists)
    escapee = psutil.Process(int(pid_file.read_text()))
    assert escapee.status() != psutil.STATUS_ZOMBIE
    cluster.kill_executor(offer["agent_id"]["value"], "exec-escape")
    scheduler.wait_update("e1", "TASK_FAILED")
    _, alive = psutil.wait_procs([escapee], timeout=10)
    assert not alive
