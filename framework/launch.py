"""Mesos TaskInfo and ExecutorInfo for femto tasks (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from femto.jobs.wire import TaskPayload
from mesosapi.encoding import encode_data


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """How agents start femto's executor. The agent gives an executor only the Mesos
    variables and what its CommandInfo says, so everything the executor needs is here."""

    command: str  # shell command, run in the sandbox, that starts `python -m femto.executor`
    environment: tuple[tuple[str, str], ...] = ()  # CommandInfo.environment
    uris: tuple[str, ...] = ()  # fetched into the sandbox first (archives are unpacked)
    cpus: float = 0.1
    mem: float = 128.0

    def command_info(self) -> dict[str, Any]:
        command: dict[str, Any] = {"value": self.command, "shell": True}
        if self.environment:
            command["environment"] = {
                "variables": [
                    {"type": "VALUE", "name": name, "value": value}
                    for name, value in self.environment
                ]
            }
        if self.uris:
            command["uris"] = [{"value": uri, "extract": True} for uri in self.uris]
        return command


def scalar(name: str, value: float, offer_resource: dict[str, Any] | None) -> dict[str, Any]:
    """A scalar resource carrying the role and allocation of the offer it came from."""
    resource: dict[str, Any] = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
    if offer_resource is not None:
        for key in ("role", "allocation_info", "reservations"):
            if key in offer_resource:
                resource[key] = offer_resource[key]
    return resource


def offer_scalar(offer: dict[str, Any], name: str) -> tuple[float, dict[str, Any] | None]:
    """Total of one scalar resource in an offer, and one of its resource entries."""
    total, sample = 0.0, None
    for resource in offer.get("resources", []):
        if resource.get("name") == name and resource.get("type", "SCALAR") == "SCALAR":
            total += float(resource.get("scalar", {}).get("value", 0.0))
            sample = sample or resource
    return total, sample


def executor_id(agent_id: str) -> str:
    """femto runs one executor per agent, named after it."""
    return f"femto-{agent_id}"


def executor_info(
    spec: ExecutorSpec, agent_id: str, framework_id: str, offer: dict[str, Any]
) -> dict[str, Any]:
    _, cpu_res = offer_scalar(offer, "cpus")
    _, mem_res = offer_scalar(offer, "mem")
    return {
        "executor_id": {"value": executor_id(agent_id)},
        "framework_id": {"value": framework_id},
        "name": "femto executor",
        "type": "CUSTOM",
        "command": spec.command_info(),
        "resources": [scalar("cpus", spec.cpus, cpu_res), scalar("mem", spec.mem, mem_res)],
    }


def task_info(
    *,
    task_id: str,
    name: str,
    offer: dict[str, Any],
    cpus: float,
    mem: float,
    executor: dict[str, Any],
    payload: TaskPayload,
) -> dict[str, Any]:
    _, cpu_res = offer_scalar(offer, "cpus")
    _, mem_res = offer_scalar(offer, "mem")
    return {
        "name": name,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [scalar("cpus", cpus, cpu_res), scalar("mem", mem, mem_res)],
        "executor": executor,
        "data": encode_data(payload.model_dump_json().encode()),
    }
