"""GET /master/state: the real master's JSON shape, rendered from the master's objects."""

from __future__ import annotations

import json
from typing import Any

from localmesos.agent import Agent, event_task_ids
from localmesos.environment import (
    EXECUTOR_REREGISTRATION_TIMEOUT_SECONDS,
    RECOVERY_TIMEOUT_SECONDS,
    stout_duration,
)
from localmesos.lifecycles import AgentState
from localmesos.master import VERSION, Framework, Master, Task
from localmesos.records import ExecutorRecord, FrameworkRecord, TaskRecord, status_model
from localmesos.resources import Resources, allocation_role


def master_state(master: Master) -> dict[str, Any]:
    pid = f"master@127.0.0.1:{master.port}"
    return {
        "version": VERSION,
        "id": master.id,
        "pid": pid,
        "hostname": "127.0.0.1",
        "start_time": master.start_time,
        "elected_time": master.start_time,
        "leader": pid,
        "leader_info": master.master_info(),
        "activated_slaves": _count(master, AgentState.REGISTERED),
        "deactivated_slaves": _count(master, AgentState.DISCONNECTED),
        "unreachable_slaves": _count(master, AgentState.UNREACHABLE),
        "flags": {
            "allocation_interval": f"{master.allocation_interval or 0:g}secs",
            "agent_ping_timeout": f"{master.agent_ping_timeout:g}secs",
            "max_agent_ping_timeouts": str(master.max_agent_ping_timeouts),
            "authenticate_frameworks": "false",
            "max_completed_frameworks": str(master.completed_frameworks.maxlen),
            "max_completed_tasks_per_framework": str(master.max_completed_tasks_per_framework),
        },
        # An unreachable agent is no longer registered: the real master lists it nowhere here.
        "slaves": [
            _agent(master, agent)
            for agent in master.agents.values()
            if master.links[agent.id].state is not AgentState.UNREACHABLE
        ],
        "frameworks": [_framework(master, f) for f in master.frameworks.values()],
        "completed_frameworks": [_framework(master, f) for f in master.completed_frameworks],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def _count(master: Master, state: AgentState) -> int:
    return sum(link.state is state for link in master.links.values())


def _agent(master: Master, agent: Agent) -> dict[str, Any]:
    offered = Resources()
    for offer in master.offers.values():
        if offer.agent_id == agent.id:
            offered = offered + offer.resources
    return {
        "id": agent.id,
        "pid": f"slave({agent.index})@127.0.0.1:{agent.port}",
        "hostname": agent.hostname,
        "port": agent.port,
        "registered_time": agent.registered_time,
        "resources": agent.total.to_state(),
        "used_resources": agent.used.to_state(),
        "offered_resources": offered.to_state(),
        "reserved_resources": {},
        "unreserved_resources": agent.total.to_state(),
        "attributes": dict(agent.attributes),
        "active": master.links[agent.id].reachable,
        "version": VERSION,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "TASK_KILLING_STATE"],
    }


def _framework(master: Master, framework: Framework) -> dict[str, Any]:
    """FullFrameworkWriter of src/master/readonly_handler.cpp."""
    info = framework.info
    # Like the master's totalUsedResources: what the agents hold for its live tasks and
    # executors (a terminal task's resources are freed at once, not on acknowledgement).
    used = Resources()
    for agent in master.agents.values():
        used = used + agent.used_by.get(framework.id, Resources())
    offers = [o for o in master.offers.values() if o.framework_id == framework.id]
    offered = Resources()
    for offer in offers:
        offered = offered + offer.resources
    connected = framework.stream is not None
    shown: dict[str, Any] = {
        "id": framework.id,
        "name": info.get("name", ""),
        "used_resources": used.to_state(),
        "offered_resources": offered.to_state(),
        "capabilities": [c.get("type") for c in info.get("capabilities", [])],
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        # Only DEACTIVATE (and a disconnection) makes a framework inactive; SUPPRESS does not.
        "active": connected,
        "connected": connected,
        "recovered": False,
        "user": info.get("user", ""),
        "failover_timeout": float(info.get("failover_timeout", 0.0)),
        "checkpoint": framework.checkpoint,
        "registered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time or 0,
        "resources": (used + offered).to_state(),
    }
    if info.get("principal"):
        shown["principal"] = info["principal"]
    if framework.reregistered_time is not None:
        shown["reregistered_time"] = framework.reregistered_time
    if "MULTI_ROLE" in shown["capabilities"]:
        shown["roles"] = info.get("roles") or [framework.role]
    else:
        shown["role"] = framework.role
    shown.update(
        {
            # Terminal tasks stay here until their update is acknowledged.
            "tasks": [_task(t, framework) for t in framework.tasks.values()],
            "unreachable_tasks": [
                _unreachable(t, framework) for t in framework.unreachable_tasks.values()
            ],
            "completed_tasks": [_task(t, framework) for t in framework.completed_tasks],
            "offers": [
                {
                    "id": o.id,
                    "framework_id": o.framework_id,
                    "allocation_info": {"role": framework.role},
                    "slave_id": o.agent_id,
                    "resources": o.resources.to_state(),
                }
                for o in offers
            ],
            "executors": [
                {**executor_model(e.info, framework.role), "slave_id": agent.id}
                for agent in master.agents.values()
                for e in agent.executors.values()
                if e.framework_id == framework.id
            ],
        }
    )
    if "labels" in info:
        shown["labels"] = info["labels"]
    return shown


def _unreachable(task: Task, framework: Framework) -> dict[str, Any]:
    # master.hpp: frameworks that are not PARTITION_AWARE see these tasks as TASK_LOST.
    shown = _task(task, framework)
    if not framework.partition_aware:
        shown["state"] = "TASK_LOST"
    return shown


def _task(task: Task, framework: Framework) -> dict[str, Any]:
    return task_model(
        task.info, framework.id, task.executor_id or "", task.agent_id, task.state.value,
        [status_model(s) for s in task.statuses], framework.role,
    )


def task_model(
    info: dict[str, Any],
    framework_id: str,
    executor_id: str,
    agent_id: str,
    state: str,
    statuses: list[dict[str, Any]],
    default_role: str,
) -> dict[str, Any]:
    """json(Task) of src/common/http.cpp."""
    shown: dict[str, Any] = {
        "id": info["task_id"]["value"],
        "name": info.get("name", ""),
        "framework_id": framework_id,
        "executor_id": executor_id,
        "slave_id": agent_id,
        "state": state,
        "resources": Resources.parse(info.get("resources")).to_state(),
        "role": allocation_role(info.get("resources"), default_role),
        "statuses": statuses,
    }
    for optional in ("labels", "discovery", "container", "health_check"):
        if optional in info:
            shown[optional] = info[optional]
    return shown


def executor_model(info: dict[str, Any], default_role: str) -> dict[str, Any]:
    """json(ExecutorInfo) of src/common/http.cpp."""
    command = info.get("command") or {}
    shown_command: dict[str, Any] = {}
    for key in ("shell", "value"):
        if key in command:
            shown_command[key] = command[key]
    shown_command["argv"] = list(command.get("arguments") or [])
    if "environment" in command:
        shown_command["environment"] = command["environment"]
    shown_command["uris"] = [
        {"value": u.get("value", ""), "executable": bool(u.get("executable", False))}
        for u in command.get("uris") or []
    ]
    resources = info.get("resources") or []
    shown: dict[str, Any] = {
        "executor_id": info["executor_id"]["value"],
        "name": info.get("name", ""),
        "framework_id": info["framework_id"]["value"],
        "command": shown_command,
        "resources": Resources.parse(resources).to_state(),
    }
    if resources:
        shown["role"] = allocation_role(resources, default_role)
    for optional in ("labels", "type"):
        if optional in info:
            shown[optional] = info[optional]
    return shown


def agent_state(agent: Agent) -> dict[str, Any]:
    """GET /state of an agent: `Http::state` of src/slave/http.cpp."""
    settings = agent.settings()
    flags = {
        "hostname": agent.hostname,
        "port": str(agent.port),
        "work_dir": str(agent.work_dir),
        "launcher": "posix",
        "isolation": "posix/cpu,posix/mem",
        "executor_shutdown_grace_period": stout_duration(agent.shutdown_grace),
        "recovery_timeout": stout_duration(RECOVERY_TIMEOUT_SECONDS),
        "executor_reregistration_timeout": stout_duration(
            EXECUTOR_REREGISTRATION_TIMEOUT_SECONDS
        ),
        "http_command_executor": "false",
    }
    if agent.executor_environment_variables:
        flags["executor_environment_variables"] = json.dumps(agent.executor_environment_variables)
    return {
        "version": VERSION,
        "start_time": agent.registered_time,
        "id": agent.id,
        "pid": settings.pid,
        "hostname": agent.hostname,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "TASK_KILLING_STATE"],
        "resources": agent.total.to_state(),
        "reserved_resources": {},
        "unreserved_resources": agent.total.to_state(),
        "reserved_resources_full": {},
        "unreserved_resources_full": agent.total.to_proto(),
        "reserved_resources_allocated": {},
        "unreserved_resources_allocated": agent.used.to_state(),
        "resource_providers": [],
        "attributes": dict(agent.attributes),
        "master_hostname": "127.0.0.1",
        "flags": flags,
        "frameworks": [_agent_framework(agent, f) for f in agent.records.frameworks.values()],
        "completed_frameworks": [
            _agent_framework(agent, f) for f in agent.records.completed_frameworks
        ],
    }


def _agent_framework(agent: Agent, framework: FrameworkRecord) -> dict[str, Any]:
    """FrameworkWriter of src/slave/http.cpp."""
    info = framework.info
    role = str((info.get("roles") or [info.get("role", "*")])[0])
    shown: dict[str, Any] = {
        "id": info["id"]["value"],
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "failover_timeout": float(info.get("failover_timeout", 0.0)),
        "checkpoint": bool(info.get("checkpoint", False)),
        "hostname": info.get("hostname", ""),
    }
    if info.get("principal"):
        shown["principal"] = info["principal"]
    if any(c.get("type") == "MULTI_ROLE" for c in info.get("capabilities", [])):
        shown["roles"] = info.get("roles") or [role]
    else:
        shown["role"] = info.get("role", "*")
    shown["executors"] = [_agent_executor(agent, e, role) for e in framework.executors.values()]
    shown["completed_executors"] = [
        _agent_executor(agent, e, role) for e in framework.completed_executors
    ]
    return shown


def _agent_executor(agent: Agent, executor: ExecutorRecord, role: str) -> dict[str, Any]:
    """ExecutorWriter of src/slave/http.cpp."""
    info = executor.info
    framework_id = info["framework_id"]["value"]
    live = agent.executors.get((framework_id, executor.id))
    # Tasks waiting for the executor to subscribe are the agent's queued tasks.
    queued = {tid for event in live.queued for tid in event_task_ids(event)} if live else set()
    allocated = Resources.parse(info.get("resources"))
    for task in executor.tasks.values():
        allocated = allocated + Resources.parse(task.info.get("resources"))
    shown: dict[str, Any] = {
        "id": executor.id,
        "name": info.get("name", ""),
        "source": info.get("source", ""),
        "container": executor.container_id,
        "directory": executor.directory,
        "resources": allocated.to_state(),
    }
    if info.get("resources"):
        shown["role"] = allocation_role(info["resources"], role)
    for optional in ("labels", "type"):
        if optional in info:
            shown[optional] = info[optional]

    def model(record: TaskRecord) -> dict[str, Any]:
        return task_model(
            record.info, framework_id, executor.id, agent.id, record.state, record.statuses, role
        )

    shown["tasks"] = [model(t) for t in executor.tasks.values() if t.id not in queued]
    shown["queued_tasks"] = [
        {
            "id": t.id,
            "name": t.info.get("name", ""),
            "slave_id": agent.id,
            "resources": Resources.parse(t.info.get("resources")).to_state(),
            "role": allocation_role(t.info.get("resources"), role),
            "executor_id": executor.id,
        }
        for t in executor.tasks.values()
        if t.id in queued
    ]
    shown["completed_tasks"] = [model(t) for t in executor.completed_tasks]
    return shown
