"""GET /v1/cluster: the schedulers, the Mesos master and its agents, for the dashboard.

The agents come from the master's own `GET /master/state`, read with only the fields that
real Mesos writes there (src/master/readonly_handler.cpp and src/common/http.cpp): each
`slaves[]` entry's `id`, `hostname`, `active`, `resources` and `used_resources`, and each
framework's `executors[]` (`executor_id`, `slave_id`, `framework_id`) and live `tasks[]`
(`executor_id`, `slave_id`, `state`). A master that cannot be read is named in `error`
with a 200: the page shows what it knows rather than an error status.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from fastapi import APIRouter

from femto.api.context import Context
from femto.api.models import ClusterView
from mesosapi.taskstates import TERMINAL

STATE_TIMEOUT = 5.0  # seconds: the page waits for this, so a hung master must not hold it

SCALARS = ("cpus", "mem", "disk")

router = APIRouter()


@router.get("/cluster", response_model=ClusterView)
def cluster(context: Context) -> dict[str, Any]:
    service = context.service
    leader = service.leader_url()
    schedulers = [{"url": url, "leader": url == leader} for url in service.scheduler_urls()]
    engine = service.engine
    framework_id = engine.framework_id if engine is not None else None
    view: dict[str, Any] = {
        "schedulers": schedulers, "framework_id": framework_id, "master": None,
        "agents": [], "error": None,
    }
    master = service.master_url()
    if master is None:
        view["error"] = ("this scheduler is subscribed to no Mesos master (it stands by, or "
                         "has not reached one yet)")
        return view
    try:
        # A master that is not the leader answers 307 to the one that is.
        response = httpx.get(f"{master}/master/state", timeout=STATE_TIMEOUT,
                             follow_redirects=True)
        response.raise_for_status()
        state = response.json()
        if not isinstance(state, dict):
            raise ValueError("the state is not a JSON object")
    except httpx.HTTPStatusError as exc:
        return {**view, "master": {"url": master, "version": None},
                "error": f"the Mesos master at {master} answered /master/state with HTTP "
                         f"{exc.response.status_code}"}
    except (httpx.HTTPError, ValueError) as exc:
        return {**view, "master": {"url": master, "version": None},
                "error": f"cannot read the Mesos master's state at {master}: {exc}"}
    return {**view, "master": {"url": master, "version": state.get("version")},
            "agents": agents(state)}


def agents(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The master state's agents, each with its resources and the executors it runs."""
    frameworks = state.get("frameworks") or []
    running: Counter[tuple[str, str]] = Counter(
        (task.get("slave_id", ""), task.get("executor_id", ""))
        for framework in frameworks for task in framework.get("tasks") or []
        if task.get("state") not in TERMINAL
    )
    executors: dict[str, list[dict[str, Any]]] = {}
    for framework in frameworks:
        for executor in framework.get("executors") or []:
            agent_id, executor_id = executor.get("slave_id", ""), executor.get("executor_id", "")
            executors.setdefault(agent_id, []).append({
                "id": executor_id, "framework_id": executor.get("framework_id"),
                "tasks": running[(agent_id, executor_id)],
            })
    return [
        {"id": slave.get("id"), "host": slave.get("hostname"), "active": slave.get("active"),
         "resources": _scalars(slave.get("resources")),
         "used": _scalars(slave.get("used_resources")),
         "executors": executors.get(slave.get("id", ""), [])}
        for slave in state.get("slaves") or []
    ]


def _scalars(resources: Any) -> dict[str, float]:
    resources = resources if isinstance(resources, dict) else {}
    return {name: float(resources.get(name) or 0.0) for name in SCALARS}
