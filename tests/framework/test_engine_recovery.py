"""The engine across a scheduler restart, on a real SQLite store, with a clock the test
moves. The Mesos driver is a recorder: only the engine's decisions are under test, and an
outage of minutes cannot be waited out against a real master in a unit test."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framework.datasets import Datasets
from framework.engine import Engine, EngineConfig
from framework.launch import ExecutorSpec
from framework.store.sqlite import SqliteStore
from tests.waiting import wait_for

LAUNCH_TIMEOUT = 60.0
SPEC = {"name": "recovered", "operation": "count", "inputs": ["d"], "max_retries": 0}


class RecordingDriver:
    """Stands in for the Mesos driver (see the module docstring): records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def _record(self, name: str, value: Any) -> None:
        with self._lock:
            self.calls.append((name, value))

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.calls]

    def launchTasks(self, offer_ids: list[Any], tasks: list[Any], filters: Any = None) -> None:
        self._record("launch", tasks)

    def declineOffer(self, offer_ids: list[Any], filters: Any = None) -> None:
        self._record("decline", offer_ids)

    def killTask(self, task_id: Any, agent_id: Any = None) -> None:
        self._record("kill", task_id["value"])

    def reconcileTasks(self, tasks: list[Any]) -> None:
        self._record("reconcile", tasks)

    def reviveOffers(self, roles: list[str] | None = None) -> None:
        self._record("revive", roles)

    def suppressOffers(self, roles: list[str] | None = None) -> None:
        self._record("suppress", roles)


def offer(offer_id: str) -> dict[str, Any]:
    return {"id": {"value": offer_id}, "agent_id": {"value": "agent-1"}, "hostname": "h1",
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}}]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "femto.db"))
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4.0))
    Datasets(store).upload("d", buffer.getvalue(), 1)
    yield store
    store.close()


def engine_on(store: SqliteStore, clock: Callable[[], float]
              ) -> tuple[Engine, RecordingDriver]:
    config = EngineConfig(executor=ExecutorSpec(command="true"), api_url="http://femto",
                          launch_timeout=LAUNCH_TIMEOUT)
    engine = Engine(store, Datasets(store), config, clock=clock)
    engine.load()
    driver = RecordingDriver()
    engine.attach(driver)
    engine.on_subscribed("framework-1")
    return engine, driver


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
