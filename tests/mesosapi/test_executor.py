"""Executor driver against a real HTTP peer playing the agent (fake_master.py)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from addict import Dict

from mesosapi.calls import CallFailed
from mesosapi.errors import NotConnected
from mesosapi.executor import Executor, ExecutorEnvironment, MesosExecutorDriver
from tests.mesosapi.fake_master import FakeMesos, wait_until


def environment(agent: FakeMesos, **extra: str) -> dict[str, str]:
    return {
        "MESOS_AGENT_ENDPOINT": agent.address,
        "MESOS_FRAMEWORK_ID": "fw-1",
        "MESOS_EXECUTOR_ID": "ex-1",
        "MESOS_DIRECTORY": "/tmp/sandbox",
        **extra,
    }


class Recorder(Executor):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.threads: set[str] = set()

    def _note(self, name: str, value: Any = None) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append((name, value))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def registered(
        self, driver: Any, executor_info: Dict, framework_info: Dict, agent_info: Dict
    ) -> None:
        self._note("registered", (executor_info.executor_id.value, agent_info.hostname))

    def reregistered(self, driver: Any, agent_info: Dict) -> None:
        self._note("reregistered")

    def disconnected(self, driver: Any) -> None:
        self._note("disconnected")

    def launchTask(self, driver: MesosExecutorDriver, task: Dict) -> None:
        self._note("launch", task.task_id.value)
        driver.sendStatusUpdate({"task_id": task.task_id, "state": "TASK_RUNNING"})

    def launchTaskGroup(self, driver: Any, task_group: Dict) -> None:
        self._note("launch_group", [t.task_id.value for t in task_group.tasks])

    def killTask(self, driver: MesosExecutorDriver, task_id: Dict) -> None:
        self._note("kill", task_id.value)
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_KILLED"})

    def frameworkMessage(self, driver: Any, data: bytes) -> None:
        self._note("message", data)

    def shutdown(self, driver: Any) -> None:
        self._note("shutdown")

    def error(self, driver: Any, message: str) -> None:
        self._note("error", message)


@pytest.fixture
def agent() -> Iterator[FakeMesos]:
    server = FakeMesos().start()
    yield server
    server.stop()


def launch(agent: FakeMesos, task_id: str) -> None:
    task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": "a1"}}
    agent.push({"type": "LAUNCH", "launch": {"task": task}})


def test_environment_parsing() -> None:
    base = {"MESOS_AGENT_ENDPOINT": "h:5051", "MESOS_FRAMEWORK_ID": "f", "MESOS_EXECUTOR_ID": "e"}
    env = ExecutorEnvironment.from_env({**base, "MESOS_CHECKPOINT": "0"})
    assert env.checkpoint is False  # pymesos read "0" as true
    assert env.recovery_timeout == 900.0
    env = ExecutorEnvironment.from_env(
        {
            **base,
            "MESOS_CHECKPOINT": "1",
            "MESOS_RECOVERY_TIMEOUT": "5secs",
            "MESOS_SUBSCRIPTION_BACKOFF_MAX": "250ms",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "3mins",
        }
    )
    assert (env.checkpoint, env.recovery_timeout) == (True, 5.0)
    assert (env.subscription_backoff_max, env.shutdown_grace_period) == (0.25, 180.0)
    with pytest.raises(ValueError, match="MESOS_EXECUTOR_ID is not set"):
        ExecutorEnvironment.from_env({**base, "MESOS_EXECUTOR_ID": ""})
    with pytest.raises(ValueError, match="MESOS_RECOVERY_TIMEOUT"):
        ExecutorEnvironment.from_env({**base, "MESOS_RECOVERY_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="MESOS_AGENT_ENDPOINT must be HOST:PORT"):
        ExecutorEnvironment.from_env({**base, "MESOS_AGENT_ENDPOINT": "nohost"})


def test_events_and_updates(agent: FakeMesos) -> None:
    agent.auto_ack = True
    recorder = Recorder()
    driver = MesosExecutorDriver(recorder, environment(agent))
    with pytest.raises(NotConnected):
        driver.sendStatusUpdate({"task_id": {"value": "t0"}, "state": "TASK_RUNNING"})
    driver.start()
    try:
        assert driver.wait_connected(10)
        launch(agent, "t1")
        wait_until(lambda: agent.calls_of("UPDATE"), 5, "no UPDATE")
        call = agent.calls_of("UPDATE")[0]["body"]
        assert call["executor_id"] == {"value": "ex-1"}
        assert call["framework_id"] == {"value": "fw-1"}
        status = call["update"]["status"]
        assert status["task_id"] == {"value": "t1"}
        assert status["source"] == "SOURCE_EXECUTOR"
        assert status["executor_id"] == {"value": "ex-1"}
        assert len(base64.b64decode(status["uuid"])) == 16
        assert status["timestamp"] == pytest.approx(time.time(), abs=30)

        group = {"tasks": [{"task_id": {"value": "g1"}}, {"task_id": {"value": "g2"}}]}
        agent.push({"type": "LAUNCH_GROUP", "launch_group": {"task_group": group}})
        agent.push({"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
        agent.push({"type": "MESSAGE", "message": {"data": base64.b64encode(b"ping").decode()}})
        agent.push({"type": "ERROR", "error": {"message": "bad call"}})
        wait_until(lambda: len(recorder.events) >= 6, 5, f"missing events {recorder.events}")
        assert recorder.events == [
            ("registered", ("ex-1", "agent-1")),
            ("launch", "t1"),
            ("launch_group", ["g1", "g2"]),
            ("kill", "t1"),
            ("message", b"ping"),
            ("error", "bad call"),
        ]
        assert recorder.threads == {"mesos-executor-callbacks"}
        driver.sendFrameworkMessage(b"progress")
        assert (
            base64.b64decode(agent.calls_of("MESSAGE")[0]["body"]["message"]["data"]) == b"progress"
        )
    finally:
        driver.stop()


def test_checkpointing_executor_resubscribes_with_unacknowledged_state(agent: FakeMesos) -> None:
    recorder = Recorder()
    driver = MesosExecutorDriver(recorder, environment(agent, MESOS_CHECKPOINT="1"))
    driver.start()
    try:
        assert driver.wait_connected(10)
        launch(agent, "t1")
        launch(agent, "t2")
        wait_until(lambda: len(agent.calls_of("UPDATE")) == 2, 5, "no UPDATEs")
        running = {
            c["body"]["update"]["status"]["task_id"]["value"]: c["body"]["update"]["status"]
            for c in agent.calls_of("UPDATE")
        }
        # The agent acknowledges t2's update only; then it restarts.
        agent.push(
            {
                "type": "ACKNOWLEDGED",
                "acknowledged": {"task_id": {"value": "t2"}, "uuid": running["t2"]["uuid"]},
            }
        )
        agent.push({"type": "HEARTBEAT"})
        time.sleep(0.2)
        agent.close_streams()
        wait_until(lambda: "reregistered" in recorder.names(), 10, "did not re-subscribe")
        assert recorder.names() == [
            "registered",
            "launch",
            "launch",
            "disconnected",
            "reregistered",
        ]

        subscribe = agent.calls_of("SUBSCRIBE")[-1]["body"]["subscribe"]
        assert [u["status"] for u in subscribe["unacknowledged_updates"]] == [running["t1"]]
        # Both tasks are still running, so both are re-sent.
        tasks = [t["task_id"]["value"] for t in subscribe["unacknowledged_tasks"]]
        assert sorted(tasks) == ["t1", "t2"]
    finally:
        driver.stop()


def test_without_checkpointing_the_executor_exits_when_the_agent_goes(agent: FakeMesos) -> None:
    recorder = Recorder()
    driver = MesosExecutorDriver(recorder, environment(agent, MESOS_CHECKPOINT="0"))
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(driver.run()))
    runner.start()
    assert driver.wait_connected(10)
    agent.close_streams()
    runner.join(10)
    assert result == [1]
    assert recorder.names() == ["registered", "disconnected"]
    assert len(agent.calls_of("SUBSCRIBE")) == 1


def test_checkpointing_executor_gives_up_after_the_recovery_timeout(agent: FakeMesos) -> None:
    recorder = Recorder()
    env = environment(
        agent,
        MESOS_CHECKPOINT="1",
        MESOS_RECOVERY_TIMEOUT="1secs",
        MESOS_SUBSCRIPTION_BACKOFF_MAX="100ms",
    )
    driver = MesosExecutorDriver(recorder, env)
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(driver.run()))
    runner.start()
    assert driver.wait_connected(10)
    began = time.monotonic()
    agent.stop()  # the agent never comes back
    runner.join(10)
    assert result == [1]
    assert 1.0 <= time.monotonic() - began < 5.0


def test_shutdown_runs_the_callback_and_ends_the_driver(agent: FakeMesos) -> None:
    recorder = Recorder()
    driver = MesosExecutorDriver(recorder, environment(agent))
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(driver.run()))
    runner.start()
    assert driver.wait_connected(10)
    agent.push({"type": "SHUTDOWN"})
    runner.join(10)
    assert result == [0]
    assert recorder.names() == ["registered", "shutdown"]


def test_an_update_whose_post_fails_while_subscribed_is_tried_again(
    agent: FakeMesos, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = MesosExecutorDriver(Recorder(), environment(agent))
    driver.start()
    try:
        assert driver.wait_connected(10)
        # Mocked: the race it stands for (the agent closing a kept-alive connection just
        # as the executor reuses it) cannot be timed reliably against a real server.
        real_post = driver._calls.post
        failures = [CallFailed("RemoteDisconnected: Remote end closed connection")]

        def flaky_post(*args: Any, **kwargs: Any) -> tuple[int, str]:
            if failures:
                raise failures.pop()
            return real_post(*args, **kwargs)

        monkeypatch.setattr(driver._calls, "post", flaky_post)
        driver.sendStatusUpdate({"task_id": {"value": "t1"}, "state": "TASK_FINISHED"})
        assert not failures
        [call] = agent.calls_of("UPDATE")
        assert call["body"]["update"]["status"]["task_id"] == {"value": "t1"}
    finally:
        driver.stop()


def test_status_update_uuids_are_rfc_4122_uuids(agent: FakeMesos) -> None:
    """A real agent refuses a uuid whose bytes are not an RFC 4122 UUID of a known version
    (400 "Not a valid UUID", as the fake agent here does too); random bytes fail about
    two times in three, so 64 updates would all pass by chance about once in 10^32."""
    driver = MesosExecutorDriver(Recorder(), environment(agent))
    driver.start()
    try:
        assert driver.wait_connected(10)
        for index in range(64):
            driver.sendStatusUpdate({"task_id": {"value": f"t{index}"}, "state": "TASK_RUNNING"})
        wait_until(lambda: len(agent.calls_of("UPDATE")) == 64, 10, "missing UPDATEs")
        for call in agent.calls_of("UPDATE"):
            raw = base64.b64decode(call["body"]["update"]["status"]["uuid"])
            parsed = uuid.UUID(bytes=raw)
            assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    finally:
        driver.stop()
