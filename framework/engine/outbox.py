"""Mesos calls, sent in order on their own thread once the engine section that made them
has written its changes: neither the API nor Mesos callbacks wait on the master."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from femto.engine.core import Halted
from mesosapi.errors import MesosError

log = logging.getLogger(__name__)


class Driver(Protocol):
    """What the engine asks of a Mesos scheduler driver (mesosapi's, or a test's)."""

    def launchTasks(self, offer_ids: list[Any], tasks: list[Any], filters: Any = None) -> None: ...
    def declineOffer(self, offer_ids: list[Any], filters: Any = None) -> None: ...
    def killTask(self, task_id: Any, agent_id: Any = None) -> None: ...
    def reconcileTasks(self, tasks: list[Any]) -> None: ...
    def reviveOffers(self, roles: list[str] | None = None) -> None: ...
    def suppressOffers(self, roles: list[str] | None = None) -> None: ...


Call = Callable[[Driver], None]


class Outbox:
    def __init__(self, halted: Callable[[], bool]) -> None:
        self.halted = halted
        self.driver: Driver | None = None
        self._calls: list[Call] = []
        # Its own lock, not the engine's: halt() must never wait behind a store call.
        self._ready = threading.Condition()
        self._sender: threading.Thread | None = None

    def attach(self, driver: Driver) -> None:
        with self._ready:
            self.driver = driver
            if self._sender is None:
                self._sender = threading.Thread(target=self._send, name="femto-mesos-calls",
                                                daemon=True)
                self._sender.start()

    def post(self, calls: list[Call]) -> None:
        with self._ready:
            self._calls += calls
            self._ready.notify()

    def wake(self) -> None:
        """Halted: the sender stops without sending what is left."""
        with self._ready:
            self._ready.notify()

    def _send(self) -> None:
        """The sender thread: calls in the order they were posted, until halted."""
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._calls or self.halted())
                if self.halted():
                    return
                calls, self._calls = self._calls, []
            driver = self.driver
            if driver is None:
                continue
            for call in calls:
                try:
                    call(driver)
                except MesosError as exc:
                    log.debug("mesos call failed (retried when due): %s", exc)
                except Halted:
                    return  # halted while the call was out: nothing more is written or sent
