"""The engine when an agent is partitioned and comes back (docs/high-availability-framework-
guide.md, "Dealing with Partitioned or Failed Agents"; master.cpp `__removeSlave` and
`__reregisterSlave`): TASK_UNREACHABLE is retried elsewhere without being charged, and the
old attempt, reported running once its agent re-registers, is killed; the result counts once."""

from __future__ import annotations

import json
from typing import Any

from femto.engine import Engine
from femto.store.sqlite import SqliteStore
from mesosapi.encoding import encode_data
from tests.framework.engine_helpers import RecordingDriver, engine_on, offer
from tests.waiting import wait_for

SPEC = {"name": "partitioned", "operation": "count", "inputs": ["d"], "max_retries": 0}


def status(task_id: str, state: str, agent: str, **extra: Any) -> dict[str, Any]:
    return {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": agent},
            **extra}


def finished(task_id: str, agent: str, value: int) -> dict[str, Any]:
    data = encode_data(json.dumps({"result": {"value": value}}).encode())
    return status(task_id, "TASK_FINISHED", agent, source="SOURCE_EXECUTOR", data=data)


def retried_after_unreachable(engine: Engine, driver: RecordingDriver,
                               now: list[float]) -> tuple[str, str, str]:
    """A job whose first attempt, on agent-1, became unreachable and was retried on agent-2,
    now running there: (job id, old attempt's task id, new one's)."""
    job, _ = engine.submit(SPEC)
    old, new = f"{job['id']}.0.1", f"{job['id']}.0.2"
    engine.on_offers([offer("o1", "agent-1")])
    wait_for(lambda: "launch" in driver.names(), what="the first launch")
    engine.on_status(status(old, "TASK_RUNNING", "agent-1", source="SOURCE_EXECUTOR"))
    engine.on_status(status(old, "TASK_UNREACHABLE", "agent-1", source="SOURCE_MASTER",
                            reason="REASON_AGENT_REMOVED"))
    [task] = engine.task_views(job["id"])
    assert task["state"] == "PENDING"
    assert task["attempts"][0]["fault"] == "infra"  # max_retries=0 and still retried
    now[0] += 60  # past the retry backoff
    engine.on_offers([offer("o2", "agent-2")])
    wait_for(lambda: driver.names().count("launch") == 2, what="the retry's launch")
    engine.on_status(status(new, "TASK_RUNNING", "agent-2", source="SOURCE_EXECUTOR"))
    return job["id"], old, new


def test_an_unreachable_attempt_is_retried_and_killed_when_its_agent_returns(
    store: SqliteStore,
) -> None:
    now = [1_000.0]
    engine, driver = engine_on(store, lambda: now[0])
    try:
        job_id, old, new = retried_after_unreachable(engine, driver, now)
        # agent-1 re-registers: the master reports the old attempt running again.
        engine.on_status(status(old, "TASK_RUNNING", "agent-1", source="SOURCE_MASTER",
                                reason="REASON_AGENT_REREGISTERED"))
        wait_for(lambda: ("kill", old) in driver.calls, what="the old attempt to be killed")
        [task] = engine.task_views(job_id)
        assert task["state"] == "RUNNING" and len(task["attempts"]) == 2

        engine.on_status(finished(new, "agent-2", 4))
        engine.on_status(status(old, "TASK_KILLED", "agent-1", source="SOURCE_EXECUTOR"))
        done = engine.job(job_id)
        assert done["state"] == "FINISHED" and done["result"] == {"value": 4}
        assert ("kill", new) not in driver.calls
    finally:
        engine.halt()


def test_an_old_attempt_that_finished_while_unreachable_counts_once(
    store: SqliteStore,
) -> None:
    now = [1_000.0]
    engine, driver = engine_on(store, lambda: now[0])
    try:
        job_id, old, new = retried_after_unreachable(engine, driver, now)

        # On re-registration the master's word comes first, without the result ...
        engine.on_status(status(old, "TASK_FINISHED", "agent-1", source="SOURCE_MASTER",
                                reason="REASON_AGENT_REREGISTERED"))
        [task] = engine.task_views(job_id)
        assert task["state"] == "RUNNING", "a result-less word must not restart the task"
        # ... then the update the agent held, with it: the first result wins.
        engine.on_status(finished(old, "agent-1", 4))
        wait_for(lambda: ("kill", new) in driver.calls, what="the retry to be killed")
        engine.on_status(finished(new, "agent-2", 4))
        done = engine.job(job_id)
        assert done["state"] == "FINISHED" and done["result"] == {"value": 4}
    finally:
        engine.halt()
