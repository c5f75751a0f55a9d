"""An engine on a real SQLite store with a clock the test moves, and a recording Mesos
driver: only the engine's decisions are under test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from femto.datasets import Datasets
from femto.engine import Engine, EngineConfig
from femto.launch import ExecutorSpec
from femto.store.sqlite import SqliteStore

LAUNCH_TIMEOUT = 60.0


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


def offer(offer_id: str, agent: str = "agent-1") -> dict[str, Any]:
    return {"id": {"value": offer_id}, "agent_id": {"value": agent}, "hostname": agent,
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}}]}


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
