"""GET /v1/jobs/{id}/tasks/{partition}/logs: a task's stdout or stderr, from its agent.

The scheduler finds the attempt's agent and proxies the agent's own `/files/read`, so the
CLI needs only femto's API (and its token), and the same works on a real Mesos cluster.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from femto import sandbox
from femto.api.caller import Caller
from femto.api.context import Context
from femto.api.docs import errors
from femto.api.models import TaskLogChunk
from femto.engine import Engine
from femto.errors import NotFound, Unavailable
from femto.lifecycle import TERMINAL_TASK_STATES
from femto.sandbox import LogFile

# Mesos reads at most 16 pages a call; asking for more only costs the agent nothing.
DEFAULT_LENGTH = 65536

router = APIRouter()


@router.get("/jobs/{job_id}/tasks/{partition}/logs", response_model=TaskLogChunk,
            responses=errors(404))
def task_log(
    job_id: str,
    partition: int,
    principal: Caller,
    context: Context,
    file: LogFile = LogFile.STDERR,
    offset: int = Query(0, ge=0),
    length: int = Query(DEFAULT_LENGTH, ge=1, le=1 << 20),
    attempt: int | None = Query(None, ge=1, description="default: the latest"),
) -> dict[str, Any]:
    engine = context.engine
    master_url = context.service.master_url
    task = _task(engine.task_views(job_id, owner=principal.owner_filter), job_id, partition)
    chosen = _attempt(task, job_id, partition, attempt)
    agent_id, task_id = chosen["agent_id"], chosen["task_id"]
    framework_id = _framework_id(engine)
    path = sandbox.log_path(framework_id, agent_id, task_id, file)
    known = engine.agent_urls.get(agent_id)
    agent = known or sandbox.find_agent(master_url(), agent_id)
    try:
        data = sandbox.read_file(agent, agent_id, path, offset, length)
    except Unavailable:
        if known is None:
            raise
        # The URL its offers gave may be stale (an agent that moved): ask the master.
        agent = sandbox.find_agent(master_url(), agent_id)
        data = sandbox.read_file(agent, agent_id, path, offset, length)
    return {
        "job_id": job_id, "partition": partition, "attempt": chosen["n"],
        "task_id": task_id, "agent_id": agent_id, "file": file.value,
        "state": chosen["state"],
        # No more will be written: the attempt ended (or its task did).
        "done": chosen["ended"] is not None or task["state"] in TERMINAL_TASK_STATES,
        "offset": offset, "next_offset": offset + len(data),
        "data": data.decode("utf-8", errors="replace"),
    }


def _task(views: list[dict[str, Any]], job_id: str, partition: int) -> dict[str, Any]:
    for view in views:
        if view["partition"] == partition:
            return view
    raise NotFound(f"job {job_id} has no partition {partition} (it has {len(views)})",
                   [{"loc": "partition", "msg": "unknown partition"}])


def _attempt(
    task: dict[str, Any], job_id: str, partition: int, n: int | None
) -> dict[str, Any]:
    attempts = task["attempts"]
    if not attempts:
        raise NotFound(f"partition {partition} of job {job_id} has not been launched yet, so "
                       "it has no log", [{"loc": "partition", "msg": "no attempt yet"}])
    if n is None:
        return dict(attempts[-1])
    for attempt in attempts:
        if attempt["n"] == n:
            return dict(attempt)
    raise NotFound(f"partition {partition} of job {job_id} has no attempt {n} "
                   f"(it has {len(attempts)})", [{"loc": "attempt", "msg": "unknown attempt"}])


def _framework_id(engine: Engine) -> str:
    if engine.framework_id is not None:
        return engine.framework_id
    stored = engine.store.get("meta", "framework")
    if stored is None:
        raise Unavailable("this scheduler knows no Mesos framework id yet; retry "
                                  "once it has registered")
    return str(stored["id"])
