"""Mesos scheduler callbacks, handed to the job engine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from femto.engine import Engine, Halted
from mesosapi.scheduler import MesosSchedulerDriver, Scheduler

log = logging.getLogger(__name__)


class FemtoScheduler(Scheduler):
    def __init__(
        self, engine: Engine, on_framework_id: Callable[[str], None] | None = None
    ) -> None:
        self.engine = engine
        self.on_framework_id = on_framework_id

    def registered(
        self, driver: MesosSchedulerDriver, framework_id: Any, master_info: Any
    ) -> None:
        log.info("subscribed as framework %s", framework_id["value"])
        self.engine.on_subscribed(framework_id["value"])
        if self.on_framework_id is not None:
            self.on_framework_id(framework_id["value"])

    def reregistered(self, driver: MesosSchedulerDriver, master_info: Any) -> None:
        log.info("re-subscribed as framework %s", driver.framework_id)
        self.engine.on_subscribed(driver.framework_id or "")

    def disconnected(self, driver: MesosSchedulerDriver) -> None:
        log.warning("disconnected from the Mesos master; the driver reconnects")

    def resourceOffers(self, driver: MesosSchedulerDriver, offers: list[Any]) -> None:
        self.engine.on_offers(offers)

    def statusUpdate(self, driver: MesosSchedulerDriver, status: Any) -> None:
        try:
            self.engine.on_status(status)
        except Halted:
            # Deposed or stopping: left unacknowledged, the master sends it to the next
            # leader. Normal at every stop, so not an error (femto run's Ctrl-C prints it).
            log.debug("update of task %s left for the next leader",
                      status.get("task_id", {}).get("value"))

    def frameworkMessage(
        self, driver: MesosSchedulerDriver, executor_id: Any, agent_id: Any, data: bytes
    ) -> None:
        self.engine.on_message(data)

    def agentLost(self, driver: MesosSchedulerDriver, agent_id: Any) -> None:
        log.warning("agent %s lost", agent_id["value"])
        self.engine.on_agent_lost(agent_id["value"])

    def executorLost(
        self, driver: MesosSchedulerDriver, executor_id: Any, agent_id: Any, status: int | None
    ) -> None:
        log.warning("executor %s on %s exited (%s)", executor_id["value"], agent_id["value"],
                    status)
        self.engine.on_executor_lost(agent_id["value"])

    def error(self, driver: MesosSchedulerDriver, message: str) -> None:
        log.error("Mesos master reports an error: %s", message)
