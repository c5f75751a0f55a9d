"""The environment of executors and command tasks: exactly what the real Mesos agent and
containerizer give them (src/slave/slave.cpp executorEnvironment(), the Mesos containerizer's
_launch, src/launcher/executor.cpp for command tasks), and nothing of the agent's own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localmesos import LocalMesos
from tests.localmesos.conftest import leak_checked
from tests.localmesos.raw_scheduler import RawScheduler, scalar
from tests.localmesos.test_executors import executor_task
from tests.waiting import wait_for

ENV_EXECUTOR = Path(__file__).with_name("env_executor.py")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # stout
FLAG_VARIABLES = {"FROM_THE_AGENT_FLAG": "yes"}


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMesos]:
    # The agent's own environment: LIBPROCESS_IP reaches executors, nothing else does.
    monkeypatch.setenv("LIBPROCESS_IP", "127.0.0.1")
    monkeypatch.setenv("FEMTO_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SOME_AGENT_SECRET", "must-not-leak")
    with leak_checked(agents=1, cpus=1.0, mem=512.0, work_dir=tmp_path,
                      heartbeat_interval=1.0, shutdown_grace=0.5,
                      executor_environment_variables=FLAG_VARIABLES) as mesos:
        yield mesos


def agent_state(cluster: LocalMesos) -> dict[str, Any]:
    port = cluster.state()["slaves"][0]["port"]
    response = httpx.get(f"http://127.0.0.1:{port}/state", timeout=5)
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


def sandbox_of(cluster: LocalMesos, executor_id: str) -> Path:
    def find() -> Path | None:
        for framework in [*agent_state(cluster)["frameworks"],
                          *agent_state(cluster)["completed_frameworks"]]:
            for executor in [*framework["executors"], *framework["completed_executors"]]:
                if executor["id"] == executor_id:
                    return Path(executor["directory"])
        return None

    found: Path = wait_for(find, 10, f"executor {executor_id} in the agent's /state")
    return found


def agent_variables(cluster: LocalMesos, framework_id: str, executor_id: str,
                    sandbox: Path, checkpoint: bool, grace: str) -> dict[str, str]:
    """The list of executorEnvironment() and the containerizer, written out by hand."""
    agent = cluster.state()["slaves"][0]
    expected = {
        "LIBPROCESS_IP": "127.0.0.1",
        **FLAG_VARIABLES,
        "LIBPROCESS_PORT": "0",
        "MESOS_FRAMEWORK_ID": framework_id,
        "MESOS_EXECUTOR_ID": executor_id,
        "MESOS_DIRECTORY": str(sandbox),
        "MESOS_SANDBOX": str(sandbox),
        "MESOS_SLAVE_ID": agent["id"],
        "MESOS_SLAVE_PID": agent["pid"],
        "MESOS_AGENT_ENDPOINT": f"127.0.0.1:{agent['port']}",
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": grace,
        "PATH": DEFAULT_PATH,
    }
    if checkpoint:
        expected["MESOS_RECOVERY_TIMEOUT"] = "15mins"
        expected["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
    return expected


@pytest.mark.parametrize("checkpoint", [False, True])
def test_executor_gets_exactly_the_containerizer_environment(
    cluster: LocalMesos, checkpoint: bool
) -> None:
    scheduler = RawScheduler(cluster.url, checkpoint=checkpoint)
    try:
        framework_id = scheduler.subscribe()["value"]
        offer = scheduler.offers()[0]
        executor = {
            "executor_id": {"value": "env-exec"},
            "command": {
                "shell": False,
                "value": sys.executable,
                "arguments": [sys.executable, str(ENV_EXECUTOR)],
                "environment": {"variables": [{"name": "GREETING", "value": "hello"}]},
            },
            "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        }
        scheduler.accept([offer], [executor_task("e1", offer, executor, sleep=0.1)])
        scheduler.wait_update("e1", "TASK_FINISHED")
        sandbox = sandbox_of(cluster, "env-exec")
        env = json.loads((sandbox / "env.json").read_text())
        expected = agent_variables(cluster, framework_id, "env-exec", sandbox, checkpoint,
                                   "500ms")
        assert env == {**expected, "GREETING": "hello"}
    finally:
        scheduler.stop()


def test_command_info_environment_wins_and_grace_period_comes_from_executor_info(
    cluster: LocalMesos,
) -> None:
    scheduler = RawScheduler(cluster.url)
    try:
        framework_id = scheduler.subscribe()["value"]
        offer = scheduler.offers()[0]
        executor = {
            "executor_id": {"value": "env-exec-2"},
            "command": {
                "value": f"{sys.executable} {ENV_EXECUTOR}",
                "environment": {"variables": [
                    {"name": "PATH", "value": "/opt/tools/bin:/usr/bin:/bin"},
                    {"name": "FROM_THE_AGENT_FLAG", "value": "overridden"},
                ]},
            },
            "shutdown_grace_period": {"nanoseconds": 1_500_000_000},
            "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        }
        scheduler.accept([offer], [executor_task("e2", offer, executor, sleep=0.1)])
        scheduler.wait_update("e2", "TASK_FINISHED")
        sandbox = sandbox_of(cluster, "env-exec-2")
        env = json.loads((sandbox / "env.json").read_text())
        expected = agent_variables(cluster, framework_id, "env-exec-2", sandbox, False,
                                   "1500ms")  # stout's Duration output
        # `shell` (the default) runs the command under /bin/sh, which adds its own PWD.
        env.pop("PWD", None)
        assert env == {**expected, "PATH": "/opt/tools/bin:/usr/bin:/bin",
                       "FROM_THE_AGENT_FLAG": "overridden"}
    finally:
        scheduler.stop()


def test_command_task_gets_its_command_executors_environment(cluster: LocalMesos) -> None:
    scheduler = RawScheduler(cluster.url)
    try:
        framework_id = scheduler.subscribe()["value"]
        offer = scheduler.offers()[0]
        dump = "import sys; sys.stdout.buffer.write(open('/proc/self/environ', 'rb').read())"
        task = {
            "name": "c1",
            "task_id": {"value": "c1"},
            "agent_id": offer["agent_id"],
            "resources": [scalar("cpus", 0.1), scalar("mem", 16)],
            "command": {
                "shell": False,
                "value": sys.executable,
                "arguments": [sys.executable, "-c", dump],
                "environment": {"variables": [{"name": "TASK_VARIABLE", "value": "1"}]},
            },
        }
        scheduler.accept([offer], [task])
        scheduler.wait_update("c1", "TASK_FINISHED")
        sandbox = sandbox_of(cluster, "c1")
        raw = (sandbox / "stdout").read_bytes().decode()
        env = dict(item.split("=", 1) for item in raw.split("\0") if item)
        # The command executor's own shutdown grace period is the agent flag (0.5 s here).
        expected = agent_variables(cluster, framework_id, "c1", sandbox, False, "500ms")
        assert env == {**expected, "TASK_VARIABLE": "1", "MESOS_ALLOCATION_ROLE": "*"}
    finally:
        scheduler.stop()


def test_executor_environment_variables_flag_must_be_an_object_of_strings() -> None:
    from localmesos.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--executor-environment-variables", '{"A": 1}'])
    assert exited.value.code == 2
