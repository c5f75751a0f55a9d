"""mesosapi's drivers against localmesos: real HTTP, real executor processes.

The scheduler is mesosapi.MesosSchedulerDriver; the executor is echo_executor.py
(mesosapi.MesosExecutorDriver), started by localmesos from its ExecutorInfo.
"""

from __future__ import annotations

import base64
import contextlib
import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from addict import Dict

from localmesos import LocalMesos
from mesosapi import MesosSchedulerDriver, Scheduler
from tests.localmesos.conftest import assert_no_children_left
from tests.mesosapi.echo_executor import AWAY_MESSAGE
from tests.services import free_port

ECHO_EXECUTOR = Path(__file__).with_name("echo_executor.py")
# localmesos re-sends an unacknowledged update after 2 s.
UPDATE_RETRY = 2.0

Event = tuple[str, Any]


class Recorder(Scheduler):
    """Records every callback, in order, for the test to wait on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def _record(self, kind: str, value: Any) -> None:
        with self._changed:
            self.events.append((kind, value))
            self._changed.notify_all()

    def registered(self, driver: MesosSchedulerDriver, framework_id: Dict, master: Dict) -> None:
        self._record("registered", framework_id.value)

    def reregistered(self, driver: MesosSchedulerDriver, master_info: Dict) -> None:
        self._record("reregistered", master_info.id)

    def resourceOffers(self, driver: MesosSchedulerDriver, offers: list[Dict]) -> None:
        for offer in offers:
            self._record("offer", offer)

    def offerRescinded(self, driver: MesosSchedulerDriver, offer_id: Dict) -> None:
        self._record("rescinded", offer_id.value)

    def statusUpdate(self, driver: MesosSchedulerDriver, status: Dict) -> None:
        self._record("update", status)

    def agentLost(self, driver: MesosSchedulerDriver, agent_id: Dict) -> None:
        self._record("agent_lost", agent_id.value)

    def executorLost(
        self, driver: MesosSchedulerDriver, executor_id: Dict, agent_id: Dict, status: int | None
    ) -> None:
        self._record("executor_lost", (executor_id.value, agent_id.value, status))

    def error(self, driver: MesosSchedulerDriver, message: str) -> None:
        self._record("error", message)

    def wait(
        self, predicate: Callable[[str, Any], bool], timeout: float = 10, start: int = 0
    ) -> Any:
        """The value of the first event from index `start` on that matches."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for kind, value in self.events[start:]:
                    if predicate(kind, value):
                        return value
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [kind for kind, _ in self.events[start:]]
                    raise TimeoutError(f"no matching event in {timeout}s; saw {seen}")
                self._changed.wait(left)

    def offer(self, agent_id: str | None = None, start: int = 0) -> Dict:
        return self.wait(
            lambda k, v: k == "offer" and agent_id in (None, v.agent_id.value), start=start
        )

    def update(self, task_id: str, state: str, timeout: float = 10, start: int = 0) -> Dict:
        return self.wait(
            lambda k, v: k == "update" and v.task_id.value == task_id and v.state == state,
            timeout,
            start,
        )

    def updates(self, task_id: str) -> list[Dict]:
        with self._changed:
            return [v for k, v in self.events if k == "update" and v.task_id.value == task_id]


def echo_executor(executor_id: str, command: str | None = None) -> dict[str, Any]:
    return {
        "executor_id": {"value": executor_id},
        "command": {"value": command or f"{sys.executable} {ECHO_EXECUTOR}"},
        "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
    }


def echo_task(
    task_id: str, offer: Dict, executor: dict[str, Any], sleep: float | None = None
) -> dict[str, Any]:
    params = {} if sleep is None else {"sleep": sleep}
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer.agent_id,
        "resources": [scalar("cpus", 0.1), scalar("mem", 16)],
        "executor": executor,
        "data": base64.b64encode(json.dumps(params).encode()).decode(),
    }


def scalar(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def executor_pid(status: Dict) -> int:
    return int(json.loads(status.message)["pid"])


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def finish(driver: MesosSchedulerDriver, status: Dict) -> None:
    """Asks the echo executor running `status`'s task to finish it."""
    data = f"finish {status.task_id.value}".encode()
    driver.sendFrameworkMessage(status.executor_id, status.agent_id, data)


class Harness:
    """A LocalMesos and the scheduler drivers a test connects to it."""

    def __init__(self, cluster: LocalMesos) -> None:
        self.cluster = cluster
        self.drivers: list[MesosSchedulerDriver] = []
        self.recorders: list[Recorder] = []

    def connect(
        self, implicit_acknowledgements: bool = True, **framework: Any
    ) -> tuple[MesosSchedulerDriver, Recorder]:
        recorder = Recorder()
        driver = MesosSchedulerDriver(
            recorder,
            {"name": "e2e", **framework},
            self.cluster.address,
            implicit_acknowledgements=implicit_acknowledgements,
        )
        self.drivers.append(driver)
        self.recorders.append(recorder)
        driver.start()
        assert driver.wait_connected(10), "the driver did not subscribe"
        return driver, recorder

    def executor_pids(self) -> set[int]:
        return {
            executor_pid(value)
            for recorder in self.recorders
            for kind, value in list(recorder.events)
            if kind == "update"
            and value.state == "TASK_RUNNING"
            and value.source == "SOURCE_EXECUTOR"
        }


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = LocalMesos(
        agents=2,
        cpus=1.0,
        mem=512.0,
        work_dir=tmp_path,
        heartbeat_interval=1.0,
        shutdown_grace=0.5,
    )
    cluster.start()
    harness = Harness(cluster)
    try:
        yield harness
    finally:
        for driver in harness.drivers:
            driver.stop()
        cluster.stop()
        pids = harness.executor_pids()
        wait_until(lambda: all(process_gone(pid) for pid in pids), timeout=5)
        assert_no_children_left(before)


def test_custom_executor_runs_and_kills_tasks_with_implicit_acknowledgements(
    harness: Harness,
) -> None:
    driver, recorder = harness.connect()
    offer = recorder.offer()
    executor = echo_executor("echo")
    driver.launchTasks(
        [offer.id],
        [echo_task("short", offer, executor, sleep=0.2), echo_task("long", offer, executor)],
    )
    running = recorder.update("short", "TASK_RUNNING")
    finished = recorder.update("short", "TASK_FINISHED")
    long_running = recorder.update("long", "TASK_RUNNING")
    for status in (running, finished, long_running):
        assert status.uuid and status.source == "SOURCE_EXECUTOR"
        assert status.agent_id == offer.agent_id
        assert status.executor_id.value == "echo"
    assert executor_pid(running) == executor_pid(long_running), "one executor runs both"

    driver.killTask(long_running.task_id, long_running.agent_id)
    killed = recorder.update("long", "TASK_KILLED")
    assert killed.uuid and killed.source == "SOURCE_EXECUTOR"

    # Acknowledged updates are not sent again: wait out the master's retry interval.
    time.sleep(UPDATE_RETRY + 0.5)
    for task_id in ("short", "long"):
        uuids = [status.uuid for status in recorder.updates(task_id)]
        assert len(uuids) == len(set(uuids)) == 2, f"{task_id} updates re-sent: {uuids}"
    assert not [k for k, _ in recorder.events if k in ("error", "executor_lost")]


def test_updates_are_retried_until_acknowledged(harness: Harness) -> None:
    driver, recorder = harness.connect(implicit_acknowledgements=False)
    offer = recorder.offer()
    driver.launchTasks([offer.id], [echo_task("t", offer, echo_executor("echo"))])
    first = recorder.update("t", "TASK_RUNNING")
    finish(driver, first)  # TASK_FINISHED now waits behind the unacknowledged TASK_RUNNING
    start = recorder.events.index(("update", first)) + 1
    again = recorder.update("t", "TASK_RUNNING", timeout=UPDATE_RETRY * 3, start=start)
    assert again.uuid == first.uuid
    assert [s.state for s in recorder.updates("t")] == ["TASK_RUNNING", "TASK_RUNNING"]

    driver.acknowledgeStatusUpdate(again)
    finished = recorder.update("t", "TASK_FINISHED")
    driver.acknowledgeStatusUpdate(finished)
    time.sleep(UPDATE_RETRY + 0.5)
    assert [s.state for s in recorder.updates("t")] == [
        "TASK_RUNNING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    ]


def test_scheduler_failover_keeps_the_task_running(harness: Harness) -> None:
    first, first_recorder = harness.connect()
    framework_id = first.framework_id
    offer = first_recorder.offer()
    first.launchTasks([offer.id], [echo_task("survivor", offer, echo_executor("echo"))])
    running = first_recorder.update("survivor", "TASK_RUNNING")
    first.stop(failover=True)
    # The master sees the framework disconnect, and keeps it (failover_timeout).
    wait_until(lambda: not harness.cluster.state()["frameworks"][0]["connected"])

    second, recorder = harness.connect(id={"value": framework_id})
    recorder.wait(lambda k, v: k == "reregistered")
    assert second.framework_id == framework_id
    second.reconcileTasks([{"task_id": running.task_id}])
    # The first driver may have stopped before acknowledging TASK_RUNNING; then the
    # master re-sends it to the new subscriber too, beside the reconciliation answer.
    reconciled = recorder.wait(
        lambda k, v: k == "update" and v.task_id.value == "survivor"
        and v.reason == "REASON_RECONCILIATION"
    )
    assert reconciled.state == "TASK_RUNNING"
    assert reconciled.agent_id == offer.agent_id

    finish(second, running)
    finished = recorder.update("survivor", "TASK_FINISHED")
    assert finished.source == "SOURCE_EXECUTOR"
    assert not first_recorder.updates("survivor")[1:], "the stopped driver got no more updates"


def test_reconciliation_answers_known_unknown_and_implicit(harness: Harness) -> None:
    driver, recorder = harness.connect()
    offer = recorder.offer()
    driver.launchTasks([offer.id], [echo_task("known", offer, echo_executor("echo"))])
    recorder.update("known", "TASK_RUNNING")

    start = len(recorder.events)
    driver.reconcileTasks([{"task_id": {"value": "known"}, "agent_id": offer.agent_id}])
    known = recorder.update("known", "TASK_RUNNING", start=start)
    assert known.reason == "REASON_RECONCILIATION" and known.source == "SOURCE_MASTER"

    driver.reconcileTasks([{"task_id": {"value": "ghost"}}])
    ghost = recorder.update("ghost", "TASK_LOST")
    assert ghost.reason == "REASON_RECONCILIATION" and not ghost.get("uuid")

    start = len(recorder.events)
    driver.reconcileTasks([])
    implicit = recorder.update("known", "TASK_RUNNING", start=start)
    assert implicit.reason == "REASON_RECONCILIATION"


def test_killed_executor_fails_its_task(harness: Harness) -> None:
    driver, recorder = harness.connect()
    offer = recorder.offer()
    driver.launchTasks([offer.id], [echo_task("doomed", offer, echo_executor("echo"))])
    running = recorder.update("doomed", "TASK_RUNNING")

    pid = harness.cluster.kill_executor(offer.agent_id.value, "echo")
    failed = recorder.update("doomed", "TASK_FAILED")
    assert failed.reason == "REASON_EXECUTOR_TERMINATED"
    lost = recorder.wait(lambda k, v: k == "executor_lost")
    assert lost == ("echo", offer.agent_id.value, 9)  # the raw wait status of a SIGKILL
    wait_until(lambda: process_gone(executor_pid(running)) and process_gone(pid))


@pytest.mark.parametrize(
    ("capabilities", "expected"), [([], "TASK_LOST"), ([{"type": "PARTITION_AWARE"}], "TASK_GONE")]
)
def test_removed_agent_loses_tasks_and_rescinds_offers(
    harness: Harness, capabilities: list[dict[str, str]], expected: str
) -> None:
    driver, recorder = harness.connect(capabilities=capabilities)
    offer = recorder.offer()
    agent_id = offer.agent_id.value
    start = len(recorder.events)
    driver.launchTasks(
        [offer.id],
        [echo_task("stranded", offer, echo_executor("echo"))],
        filters={"refuse_seconds": 0},
    )
    running = recorder.update("stranded", "TASK_RUNNING")
    # What the task did not use comes back as a new offer, still outstanding.
    outstanding = recorder.offer(agent_id, start=start)

    harness.cluster.remove_agent(agent_id)
    lost = recorder.update("stranded", expected)
    assert lost.reason == "REASON_AGENT_REMOVED"
    assert recorder.wait(lambda k, v: k == "rescinded" and v == outstanding.id.value)
    assert recorder.wait(lambda k, v: k == "agent_lost") == agent_id
    wait_until(lambda: process_gone(executor_pid(running)))


def test_restarted_agent_keeps_a_checkpointing_executor(harness: Harness) -> None:
    driver, recorder = harness.connect(checkpoint=True)
    offer = recorder.offer()
    driver.launchTasks([offer.id], [echo_task("durable", offer, echo_executor("echo"))])
    running = recorder.update("durable", "TASK_RUNNING")

    harness.cluster.restart_agent(offer.agent_id.value)
    # Sent by the executor while it had no agent: it reaches us only because the
    # driver kept it and re-sent it when it re-subscribed.
    away = recorder.wait(
        lambda k, v: (
            k == "update" and v.state == "TASK_RUNNING" and AWAY_MESSAGE in (v.message or "")
        )
    )
    assert away.uuid != running.uuid
    assert executor_pid(away) == executor_pid(running), "the same process kept running"

    finish(driver, running)
    finished = recorder.update("durable", "TASK_FINISHED")
    assert finished.source == "SOURCE_EXECUTOR"
    assert [s.state for s in recorder.updates("durable")] == [
        "TASK_RUNNING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    ]


def read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"pid {process.pid} printed nothing in {timeout}s")
    return process.stdout.readline().decode().strip()


def test_executors_die_with_a_killed_localmesos(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "localmesos", "--listen", f"127.0.0.1:{port}", "--agents", "1"]
    with open(tmp_path / "localmesos.log", "wb") as log:
        host = subprocess.Popen(
            [*argv, "--work-dir", str(tmp_path), "--heartbeat-interval", "1"],
            stdout=subprocess.PIPE,
            stderr=log,
        )
    spawned: set[int] = set()
    recorder = Recorder()
    # Checkpointing executors keep retrying a lost agent for 15 minutes: nothing
    # but localmesos' own safeguards makes them go away.
    driver = MesosSchedulerDriver(
        recorder, {"name": "orphans", "checkpoint": True}, f"127.0.0.1:{port}"
    )
    try:
        assert read_line(host, timeout=20) == f"http://127.0.0.1:{port}"
        driver.start()
        offer = recorder.offer()
        direct = echo_executor("direct")
        direct["command"] = {
            "shell": False,
            "value": sys.executable,
            "arguments": [sys.executable, str(ECHO_EXECUTOR)],
        }
        # Not the shell's last command, so the shell forks the executor and waits.
        forked = echo_executor("forked", f"{sys.executable} {ECHO_EXECUTOR}; exit $?")
        driver.launchTasks(
            [offer.id], [echo_task("a", offer, direct), echo_task("b", offer, forked)]
        )
        a, b = (executor_pid(recorder.update(t, "TASK_RUNNING")) for t in ("a", "b"))
        assert psutil.Process(a).ppid() == host.pid
        assert psutil.Process(psutil.Process(b).ppid()).name() == "sh"
        spawned.update(p.pid for p in psutil.Process(host.pid).children(recursive=True))
        assert {a, b} <= spawned

        host.kill()
        host.wait(5)
        wait_until(lambda: all(process_gone(pid) for pid in spawned), timeout=5)
    finally:
        driver.stop(failover=True)
        host.kill()
        for pid in spawned:  # only if the test failed: leave no orphan behind
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        host.wait(5)
        assert host.stdout is not None
        host.stdout.close()
