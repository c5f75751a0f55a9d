"""The environment an executor (or a command task) starts with: what the real Mesos
containerizer builds, and nothing of the agent's own environment beyond it.

Sources (apache/mesos): `executorEnvironment()` in src/slave/slave.cpp (the MESOS_* and
LIBPROCESS_* variables, `--executor_environment_variables`), `MesosContainerizerProcess::
_launch` in src/slave/containerizer/mesos/containerizer.cpp (adds MESOS_SANDBOX, then
`CommandInfo.environment` last, so it wins), `mesos-containerizer launch` in
src/slave/containerizer/mesos/launch.cpp (the launch environment replaces the agent's, with a
default PATH when none is given) and `CommandExecutor::launch` in src/launcher/executor.cpp
(a command task gets its executor's environment, its CommandInfo.environment and
MESOS_ALLOCATION_ROLE).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# stout's os::host_default_path() on POSIX.
HOST_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Agent flag defaults: --recovery_timeout, --executor_reregistration_timeout.
RECOVERY_TIMEOUT_SECONDS = 15 * 60.0
EXECUTOR_REREGISTRATION_TIMEOUT_SECONDS = 2.0

_NANOS = {"ns": 1, "us": 10**3, "ms": 10**6, "secs": 10**9, "mins": 60 * 10**9,
          "hrs": 3600 * 10**9, "days": 86400 * 10**9, "weeks": 7 * 86400 * 10**9}
_UNITS = list(_NANOS)


def stout_duration(seconds: float) -> str:
    """A duration as stout's `operator<<(ostream&, const Duration&)` writes it: in the largest
    unit not above it ("5secs", "15mins"), or one unit down when only that gives a whole number
    ("1500ms", not "1.5secs")."""
    nanos = round(seconds * 1e9)
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    bucket = 0
    while bucket + 1 < len(_UNITS) and nanos >= _NANOS[_UNITS[bucket + 1]]:
        bucket += 1
    unit = _UNITS[bucket]
    if bucket > 0:
        smaller = _UNITS[bucket - 1]
        if nanos % _NANOS[unit] != 0 and nanos % _NANOS[smaller] == 0:
            unit = smaller
    return f"{sign}{nanos / _NANOS[unit]:.15g}{unit}"


def parse_executor_environment_variables(text: str) -> dict[str, str]:
    """The agent flag `--executor_environment_variables`: a JSON object of strings
    (src/slave/flags.cpp rejects any other value)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--executor-environment-variables is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("--executor-environment-variables must be a JSON object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ValueError(
                "--executor-environment-variables must only contain string values;"
                f" {key!r} is {json.dumps(item)}"
            )
    return dict(value)


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """What of the agent's flags and own environment reaches its executors."""

    pid: str  # e.g. slave(1)@127.0.0.1:5051
    endpoint: str  # the agent's HOST:PORT
    agent_id: str
    shutdown_grace: float  # --executor_shutdown_grace_period, seconds
    executor_environment_variables: Mapping[str, str]
    # The agent's LIBPROCESS_IP, passed on so that executors without DNS can bind.
    libprocess_ip: str | None = None

    @classmethod
    def of_this_process(
        cls,
        *,
        pid: str,
        endpoint: str,
        agent_id: str,
        shutdown_grace: float,
        executor_environment_variables: Mapping[str, str] | None,
    ) -> AgentSettings:
        return cls(
            pid=pid,
            endpoint=endpoint,
            agent_id=agent_id,
            shutdown_grace=shutdown_grace,
            executor_environment_variables=dict(executor_environment_variables or {}),
            libprocess_ip=os.environ.get("LIBPROCESS_IP"),
        )


def shutdown_grace_of(executor_info: Mapping[str, Any], agent_default: float) -> float:
    """ExecutorInfo.shutdown_grace_period overrides the agent flag."""
    period = executor_info.get("shutdown_grace_period")
    if isinstance(period, dict) and "nanoseconds" in period:
        return int(period["nanoseconds"]) / 1e9
    return agent_default


def executor_environment(
    agent: AgentSettings,
    *,
    framework_id: str,
    executor_id: str,
    directory: str,
    checkpoint: bool,
    shutdown_grace: float,
    command: Mapping[str, Any],
) -> dict[str, str]:
    """The whole environment of an executor process."""
    env: dict[str, str] = {}
    if agent.libprocess_ip is not None:
        env["LIBPROCESS_IP"] = agent.libprocess_ip
    env.update(agent.executor_environment_variables)
    env["LIBPROCESS_PORT"] = "0"
    env.update(
        {
            "MESOS_FRAMEWORK_ID": framework_id,
            "MESOS_EXECUTOR_ID": executor_id,
            "MESOS_DIRECTORY": directory,
            "MESOS_SLAVE_ID": agent.agent_id,
            "MESOS_SLAVE_PID": agent.pid,
            "MESOS_AGENT_ENDPOINT": agent.endpoint,
            "MESOS_CHECKPOINT": "1" if checkpoint else "0",
            # The agent flag --http_command_executor, false by default (localmesos' command
            # executor is built in and speaks no API at all).
            "MESOS_HTTP_COMMAND_EXECUTOR": "0",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": stout_duration(shutdown_grace),
        }
    )
    if checkpoint:
        env["MESOS_RECOVERY_TIMEOUT"] = stout_duration(RECOVERY_TIMEOUT_SECONDS)
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = stout_duration(
            EXECUTOR_REREGISTRATION_TIMEOUT_SECONDS
        )
    env["MESOS_SANDBOX"] = directory
    env.update(command_variables(command))
    env.setdefault("PATH", HOST_DEFAULT_PATH)
    return env


def command_task_environment(
    executor_env: Mapping[str, str], command: Mapping[str, Any], role: str
) -> dict[str, str]:
    """A command task's environment: its command executor's, its own CommandInfo.environment,
    and the role its resources are allocated to."""
    return {**executor_env, **command_variables(command), "MESOS_ALLOCATION_ROLE": role}


def command_variables(command: Mapping[str, Any]) -> dict[str, str]:
    """CommandInfo.environment as a dict; SECRET variables are left out (the real agent
    resolves them with an isolator localmesos does not have)."""
    variables: dict[str, str] = {}
    for variable in (command.get("environment") or {}).get("variables") or []:
        name, value = variable.get("name"), variable.get("value")
        if variable.get("type", "VALUE") == "SECRET":
            continue
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(
                f"CommandInfo.environment variable needs a name and a value: {variable!r}"
            )
        variables[name] = value
    return variables
