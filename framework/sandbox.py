"""A task's log files, read from its agent's sandbox file API (Mesos `/files/read`).

The executor keeps each task's `stdout` and `stderr` under `tasks/<mesos task id>/` in its
sandbox (executor/tasklog.py); every agent, real or embedded, serves its executors' sandboxes
under `/frameworks/FID/executors/EID/runs/latest`. Agents are found by the URL their offers
carry, or, for an agent that has offered nothing to this scheduler (a new leader after a
failover), by its `pid` in the master's `/master/state`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import httpx

from femto.errors import NotFound, Unavailable
from femto.launch import executor_id

TIMEOUT = 10.0


class LogFile(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


def agent_url(offer: dict[str, Any]) -> str | None:
    """The base URL of the agent that made `offer` (Offer.url), if it says."""
    url = offer.get("url") or {}
    address = url.get("address") or {}
    host = address.get("ip") or address.get("hostname")
    if not host or not address.get("port"):
        return None
    return f"{url.get('scheme') or 'http'}://{host}:{address['port']}"


def agent_url_from_pid(pid: str) -> str | None:
    """An agent's base URL from its libprocess pid, `slave(1)@HOST:PORT`."""
    _, at, address = pid.partition("@")
    return f"http://{address}" if at and address else None


def log_path(framework_id: str, agent_id: str, task_id: str, file: LogFile) -> str:
    """The virtual path of a task's log file on the agent that ran it."""
    return (f"/frameworks/{framework_id}/executors/{executor_id(agent_id)}/runs/latest"
            f"/tasks/{task_id}/{file.value}")


def find_agent(master_url: str | None, agent_id: str) -> str:
    """The agent's base URL as the master knows it; NotFound when the master does not."""
    if master_url is None:
        raise Unavailable(f"agent {agent_id} has made this scheduler no offer, and no Mesos "
                          "master is connected to ask where it is; retry shortly")
    try:
        response = httpx.get(f"{master_url}/master/state", timeout=TIMEOUT)
        response.raise_for_status()
        slaves = response.json().get("slaves", [])
    except (httpx.HTTPError, ValueError) as exc:
        raise Unavailable(f"cannot ask the Mesos master at {master_url} where agent "
                          f"{agent_id} is: {exc}") from exc
    for slave in slaves:
        if slave.get("id") == agent_id:
            url = agent_url_from_pid(str(slave.get("pid", "")))
            if url is not None:
                return url
    raise NotFound(f"agent {agent_id} is no longer part of the cluster (the master does not "
                   "know it), so its sandbox cannot be read", [{"loc": "agent_id"}])


def read_file(agent: str, agent_id: str, path: str, offset: int, length: int) -> bytes:
    """Up to `length` bytes of the agent's file at `path` from `offset` (fewer at its end)."""
    try:
        response = httpx.get(f"{agent}/files/read", timeout=TIMEOUT,
                             params={"path": path, "offset": offset, "length": length})
    except httpx.HTTPError as exc:
        raise Unavailable(f"agent {agent_id} at {agent} is unreachable: {exc}") from exc
    if response.status_code == 404:
        raise NotFound(f"agent {agent_id} has no file {path}: the task kept no log (only "
                       "tasks that run a program or fail do), it never started (killed while "
                       "it waited), its executor has been restarted since, or the sandbox was "
                       "garbage collected", [{"loc": "file"}])
    if response.status_code != 200:
        raise Unavailable(f"agent {agent_id} at {agent} refused to read {path}: HTTP "
                          f"{response.status_code} {response.text.strip()}")
    try:
        # Mesos puts the file's raw bytes in the JSON string; surrogateescape keeps any
        # that are not UTF-8, so the byte count (the next offset) stays exact.
        data = json.loads(response.content.decode("utf-8", "surrogateescape"))["data"]
        return str(data).encode("utf-8", "surrogateescape")
    except (ValueError, KeyError, TypeError) as exc:
        raise Unavailable(f"agent {agent_id} at {agent} answered /files/read with "
                          f"something other than Mesos' JSON: {exc}") from exc
