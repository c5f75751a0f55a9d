"""The engine across a scheduler restart, on a real SQLite store, with a clock the test
moves. The Mesos driver is a recorder: only the engine's decisions are under test, and an
outage of minutes cannot be waited out against a real master in a unit test."""

from __future__ import annotations

from femto.store.sqlite import SqliteStore
from tests.framework.engine_helpers import LAUNCH_TIMEOUT, engine_on, offer
from tests.waiting import wait_for

SPEC = {"name": "recovered", "operation": "count", "inputs": ["d"], "max_retries": 0}


def test_a_launch_recovered_after_a_long_outage_gets_the_whole_launch_timeout(
    store: SqliteStore,
) -> None:
    now = [1_000.0]
    first, driver = engine_on(store, lambda: now[0])
    job, _ = first.submit(SPEC)
    first.on_offers([offer("o1")])
    wait_for(lambda: "launch" in driver.names(), what="the launch to be sent")
    first.halt()  # the scheduler dies with its task launching

    now[0] += 10 * LAUNCH_TIMEOUT  # an outage ten launch timeouts long
    second, driver = engine_on(store, lambda: now[0])
    try:
        second.tick()
        [task] = second.task_views(job["id"])
        assert task["state"] == "LAUNCHING", "timed out before reconciliation could answer"
        assert len(task["attempts"]) == 1

        now[0] += LAUNCH_TIMEOUT + 1  # still not heard of: now it is timed out
        second.tick()
        [task] = second.task_views(job["id"])
        assert task["attempts"][0]["state"] == "TIMED_OUT"
        assert task["state"] == "PENDING"  # retried (an infrastructure fault)
        wait_for(lambda: "kill" in driver.names(), what="the timed-out launch to be killed")
    finally:
        second.halt()
