"""FemtoExecutor's task bookkeeping: the updates it sends, kills, shutdown, the state machine."""

from __future__ import annotations

import base64
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from femto.executor import service
from femto.executor.lifecycle import (
    MESOS_STATE,
    TERMINAL,
    TRANSITIONS,
    TaskEvent,
    TaskState,
    transition,
)
from femto.executor.service import FemtoExecutor
from femto.jobs.wire import Progress, TaskResult, parse_progress, parse_task_result
from mesosapi.encoding import encode_data


class Environment:
    shutdown_grace_period = 4.0
    sandbox = None  # no task logs: test_tasklog covers them


class RecordingDriver:
    """Stands in for MesosExecutorDriver (the connection to an agent) so that the exact
    sequence of updates can be asserted; test_end_to_end runs the real driver and agent."""

    environment = Environment()

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.messages: list[Progress] = []
        self._lock = threading.Lock()

    def sendStatusUpdate(self, status: dict[str, Any]) -> None:
        with self._lock:
            self.updates.append(status)

    def sendFrameworkMessage(self, data: bytes) -> None:
        with self._lock:
            self.messages.append(parse_progress(data))

    def states(self, task_id: str) -> list[str]:
        with self._lock:
            return [u["state"] for u in self.updates if u["task_id"]["value"] == task_id]

    def wait_terminal(self, task_id: str, timeout: float = 20) -> list[str]:
        return self.wait_state(task_id, {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED"}, timeout)

    def wait_state(self, task_id: str, wanted: set[str], timeout: float = 20) -> list[str]:
        """The task's updates so far, once the last one is in `wanted`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.states(task_id)
            if states and states[-1] in wanted:
                return states
            time.sleep(0.02)
        states = self.states(task_id)
        raise AssertionError(f"{task_id} sent no {wanted} within {timeout}s: {states}")

    def update(self, task_id: str, state: str) -> dict[str, Any]:
        return next(
            u for u in self.updates if u["task_id"]["value"] == task_id and u["state"] == state
        )


@pytest.fixture
def driver() -> RecordingDriver:
    return RecordingDriver()


@pytest.fixture
def executor(driver: RecordingDriver) -> Iterator[FemtoExecutor]:
    femto = FemtoExecutor(workers=2)
    yield femto
    femto.close(5)


def task_info(task_id: str, payload: dict[str, Any] | bytes) -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {"task_id": {"value": task_id}, "name": task_id, "data": encode_data(raw)}


FILE_NUMBERS = itertools.count()


def sum_task(tmp_path: Path, values: np.ndarray) -> dict[str, Any]:
    path = tmp_path / f"x{next(FILE_NUMBERS)}.npy"
    np.save(path, values)
    ref = {"uri": path.as_uri(), "url": None, "length": len(values), "dtype": "float64"}
    return {"job_id": "j", "partition": 0, "attempt": 0, "operation": "sum", "inputs": [ref]}


def command_task(tmp_path: Path, code: str) -> dict[str, Any]:
    task = sum_task(tmp_path, np.ones(2))
    task.update(
        operation="command",
        params={"argv": [sys.executable, "-c", code]},
        output={"url": "http://127.0.0.1:9/out"},
    )
    return task


SLEEP = "import time; time.sleep(60)"


def commands_running(count: int, timeout: float = 20) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [p for p in psutil.Process().children() if "time.sleep(60)" in " ".join(p.cmdline())]
        if len(kids) >= count:
            return kids
        time.sleep(0.02)
    raise AssertionError(f"{count} command(s) did not start within {timeout}s")


def test_a_quick_query_reports_its_result_alone_without_chatter(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    executor.launchTask(driver, task_info("j.0.0", sum_task(tmp_path, np.arange(10.0))))
    # It ends within RUNNING_DELAY, so its terminal update is the only one.
    assert driver.wait_terminal("j.0.0") == ["TASK_FINISHED"]
    finished = driver.update("j.0.0", "TASK_FINISHED")
    result = parse_task_result(base64.b64decode(finished["data"]))
    assert result == TaskResult(result={"value": 45.0})
    assert finished["source"] == "SOURCE_EXECUTOR"
    # A task this quick sends no progress messages: its updates say it all.
    assert not [m for m in driver.messages if m.task_id == "j.0.0"]


def test_progress_is_reported_at_milestones_once_a_task_has_run_a_while(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "PROGRESS_INTERVAL", 0.0)  # every task counts as long
    executor.launchTask(driver, task_info("j.1.0", sum_task(tmp_path, np.arange(10.0))))
    assert driver.wait_terminal("j.1.0") == ["TASK_FINISHED"]
    progress = [m.progress for m in driver.messages if m.task_id == "j.1.0"]
    assert progress == [0.3]  # inputs read; 1.0 is what TASK_FINISHED means


def test_many_tasks_share_the_pool_and_each_ends_once(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    for i in range(12):
        executor.launchTask(driver, task_info(f"j.{i}.0", sum_task(tmp_path, np.ones(i + 1))))
    for i in range(12):
        assert driver.wait_terminal(f"j.{i}.0") == ["TASK_FINISHED"]
        data = base64.b64decode(driver.update(f"j.{i}.0", "TASK_FINISHED")["data"])
        assert parse_task_result(data) == TaskResult(result={"value": float(i + 1)})


def test_a_bad_payload_fails_the_task_not_the_executor(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    executor.launchTask(driver, task_info("bad.0.0", b"{not json"))
    not_base64 = {"task_id": {"value": "bad.1.0"}, "data": "%%%"}
    executor.launchTask(driver, not_base64)
    assert driver.wait_terminal("bad.0.0") == ["TASK_FAILED"]
    assert "not JSON" in driver.update("bad.0.0", "TASK_FAILED")["message"]
    assert driver.wait_terminal("bad.1.0")[-1] == "TASK_FAILED"
    executor.launchTask(driver, task_info("ok.0.0", sum_task(tmp_path, np.ones(3))))
    assert driver.wait_terminal("ok.0.0") == ["TASK_FINISHED"]


def test_kill_of_a_running_command_ends_its_process_and_reports_killed_once(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    executor.launchTask(driver, task_info("k.0.0", command_task(tmp_path, SLEEP)))
    [child] = commands_running(1)
    # A task that outlives RUNNING_DELAY is reported running.
    assert driver.wait_state("k.0.0", {"TASK_RUNNING"}) == ["TASK_RUNNING"]
    executor.killTask(driver, {"value": "k.0.0"})
    executor.killTask(driver, {"value": "k.0.0"})
    assert driver.wait_terminal("k.0.0") == ["TASK_RUNNING", "TASK_KILLED"]
    assert not child.is_running()
    time.sleep(0.2)  # a late duplicate would arrive now
    assert driver.states("k.0.0") == ["TASK_RUNNING", "TASK_KILLED"]


def test_kill_of_a_queued_task_reports_killed_without_running_it(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    for i in range(2):  # occupy both workers
        executor.launchTask(driver, task_info(f"busy.{i}.0", command_task(tmp_path, SLEEP)))
    commands_running(2)
    executor.launchTask(driver, task_info("q.0.0", sum_task(tmp_path, np.ones(3))))
    executor.killTask(driver, {"value": "q.0.0"})
    assert driver.states("q.0.0") == ["TASK_KILLED"]


def test_kill_after_the_task_ended_sends_nothing(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    executor.launchTask(driver, task_info("d.0.0", sum_task(tmp_path, np.ones(3))))
    driver.wait_terminal("d.0.0")
    executor.killTask(driver, {"value": "d.0.0"})
    time.sleep(2 * service.RUNNING_DELAY)  # a late RUNNING or KILLED would arrive now
    assert driver.states("d.0.0") == ["TASK_FINISHED"]


def test_shutdown_kills_every_task_within_the_grace_period(
    tmp_path: Path, driver: RecordingDriver, executor: FemtoExecutor
) -> None:
    for i in range(2):
        executor.launchTask(driver, task_info(f"s.{i}.0", command_task(tmp_path, SLEEP)))
    executor.launchTask(driver, task_info("s.2.0", sum_task(tmp_path, np.ones(3))))
    children = commands_running(2)
    for i in range(2):
        driver.wait_state(f"s.{i}.0", {"TASK_RUNNING"})
    started = time.monotonic()
    executor.shutdown(driver)
    assert time.monotonic() - started < driver.environment.shutdown_grace_period
    assert driver.states("s.0.0") == ["TASK_RUNNING", "TASK_KILLED"]
    assert driver.states("s.1.0") == ["TASK_RUNNING", "TASK_KILLED"]
    assert driver.states("s.2.0") == ["TASK_KILLED"]
    assert not any(child.is_running() for child in children)


# The state machine on its own.


def test_every_live_state_can_be_killed_and_terminal_states_are_final() -> None:
    for state in TaskState:
        if state in TERMINAL:
            assert all(transition(state, event) is None for event in TaskEvent)
        elif state is TaskState.KILLING:
            assert transition(state, TaskEvent.KILL) is None  # a repeated kill changes nothing
        else:
            assert transition(state, TaskEvent.KILL) in {TaskState.KILLING, TaskState.KILLED}


def test_a_killing_task_ends_killed_whatever_its_worker_returns() -> None:
    for event in (TaskEvent.FINISHED, TaskEvent.FAILED, TaskEvent.STOPPED, TaskEvent.GRACE_EXPIRED):
        assert transition(TaskState.KILLING, event) is TaskState.KILLED


def test_each_path_reports_one_running_and_one_terminal_update_at_most() -> None:
    def paths(state: TaskState, reported: list[str]) -> list[list[str]]:
        if state in TERMINAL:
            return [reported]
        found = []
        for (source, _), target in TRANSITIONS.items():
            if source is state:
                update = [MESOS_STATE[target]] if target in MESOS_STATE else []
                found += paths(target, reported + update)
        return found

    for reported in paths(TaskState.QUEUED, []):
        assert reported.count("TASK_RUNNING") <= 1
        assert len([s for s in reported if s != "TASK_RUNNING"]) == 1
