"""GET /master/state: the real master's JSON shape, rendered from the master's objects."""

from __future__ import annotations

from typing import Any

from localmesos.agent import Agent
from localmesos.master import VERSION, Framework, Master, Task
from localmesos.resources import Resources
from localmesos.states import TERMINAL_TASK_STATES, AgentState


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
    info = framework.info
    live = [t for t in framework.tasks.values() if t.state not in TERMINAL_TASK_STATES]
    finished = [t for t in framework.tasks.values() if t.state in TERMINAL_TASK_STATES]
    used = Resources()
    for task in live:
        used = used + task.resources
    offers = [o for o in master.offers.values() if o.framework_id == framework.id]
    offered = Resources()
    for offer in offers:
        offered = offered + offer.resources
    return {
        "id": framework.id,
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "principal": info.get("principal"),
        "role": framework.role,
        "roles": info.get("roles") or [framework.role],
        "webui_url": info.get("webui_url", ""),
        "failover_timeout": float(info.get("failover_timeout", 0.0)),
        "checkpoint": framework.checkpoint,
        "capabilities": [c.get("type") for c in info.get("capabilities", [])],
        "active": framework.state.value == "connected" and not framework.suppressed,
        "connected": framework.stream is not None,
        "recovered": False,
        "registered_time": framework.registered_time,
        "reregistered_time": framework.reregistered_time or framework.registered_time,
        "unregistered_time": framework.unregistered_time or 0,
        "resources": (used + offered).to_state(),
        "used_resources": used.to_state(),
        "offered_resources": offered.to_state(),
        "tasks": [_task(t, framework) for t in live],
        "unreachable_tasks": [
            _unreachable(t, framework) for t in framework.unreachable_tasks.values()
        ],
        "completed_tasks": [_task(t, framework) for t in [*finished, *framework.completed_tasks]],
        "offers": [
            {
                "id": o.id,
                "framework_id": o.framework_id,
                "slave_id": o.agent_id,
                "resources": o.resources.to_state(),
            }
            for o in offers
        ],
        "executors": [],
    }


def _unreachable(task: Task, framework: Framework) -> dict[str, Any]:
    # master.hpp: frameworks that are not PARTITION_AWARE see these tasks as TASK_LOST.
    shown = _task(task, framework)
    if not framework.partition_aware:
        shown["state"] = "TASK_LOST"
    return shown


def _task(task: Task, framework: Framework) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.info.get("name", ""),
        "framework_id": framework.id,
        "executor_id": task.executor_id or "",
        "slave_id": task.agent_id,
        "state": task.state.value,
        "resources": task.resources.to_state(),
        "role": framework.role,
        "statuses": [{"state": s["state"], "timestamp": s["timestamp"]} for s in task.statuses],
    }
