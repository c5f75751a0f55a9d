"""A deposed engine (its ZooKeeper session lost) acts no more: no write, no Mesos call, no
acknowledgement (docs/high-availability-framework-guide.md: only one scheduler may act)."""

from __future__ import annotations

import pytest

from femto.engine import Halted
from femto.errors import Unavailable
from femto.store.sqlite import SqliteStore
from tests.framework.engine_helpers import LAUNCH_TIMEOUT, engine_on, offer
from tests.framework.test_engine_partition import finished
from tests.waiting import wait_for

SPEC = {"name": "deposed", "operation": "count", "inputs": ["d"]}


def test_a_halted_engine_writes_and_sends_nothing(store: SqliteStore) -> None:
    now = [1_000.0]
    engine, driver = engine_on(store, lambda: now[0])
    job, _ = engine.submit(SPEC)
    engine.on_offers([offer("o1")])
    wait_for(lambda: "launch" in driver.names(), what="the launch")
    engine.halt()
    stored = store.find("tasks", job_id=job["id"])
    calls = list(driver.calls)

    with pytest.raises(Halted):  # not acknowledged: the next leader receives it again
        engine.on_status(finished(f"{job['id']}.0.1", "agent-1", 4))
    with pytest.raises(Unavailable):
        engine.submit(SPEC)
    with pytest.raises(Unavailable):
        engine.cancel(job["id"])
    now[0] += 10 * LAUNCH_TIMEOUT
    engine.tick()  # the launch timeout passed: still no kill, no retry
    engine.on_offers([offer("o2")])

    assert store.find("tasks", job_id=job["id"]) == stored
    assert store.find("partials", job_id=job["id"]) == []
    assert store.get("jobs", job["id"])["state"] == "RUNNING"
    assert driver.calls == calls
