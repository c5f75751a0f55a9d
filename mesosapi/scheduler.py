"""Scheduler driver for the Mesos v1 scheduler HTTP API (docs/scheduler-http-api.md).

Threads: an I/O thread (asyncio) holds the SUBSCRIBE stream, detects a dead
stream by missed heartbeats and reconnects; a callback thread runs the user's
``Scheduler`` callbacks in event order; calls are plain HTTP POSTs made on the
caller's thread and raise at once if the driver is not subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import getpass
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import httpx
from addict import Dict

from mesosapi.backoff import backoff_delay
from mesosapi.callbacks import CallbackThread
from mesosapi.calls import CallClient, CallFailed
from mesosapi.connection import DriverState, StateMachine
from mesosapi.detector import MasterDetector, redirect_target
from mesosapi.encoding import as_id, decode_data, encode_data
from mesosapi.errors import CallError, MesosError, NotConnected, StreamEnded
from mesosapi.loop import LoopThread
from mesosapi.stream import JSON_HEADERS, iter_events

logger = logging.getLogger(__name__)

API_PATH = "/api/v1/scheduler"
ONE_WEEK = 7 * 24 * 3600.0
# Mesos's default; used until SUBSCRIBED announces the real interval.
DEFAULT_HEARTBEAT_INTERVAL = 15.0
# Silence allowed between sending SUBSCRIBE and receiving SUBSCRIBED.
SUBSCRIBE_TIMEOUT = 30.0
# The scheduler HTTP API docs suggest ~75 s for call responses.
CALL_TIMEOUT = 75.0
BACKOFF_BASE = 0.2
# The docs recommend reconnecting with a backoff of at most ~15 s.
BACKOFF_CAP = 15.0
MAX_REDIRECTS = 5
# Acknowledgements in flight at once: one at a time fell behind the updates at ~500 tasks/s.
ACK_SENDERS = 4


class Scheduler:
    """Callbacks of a framework scheduler; override the ones you need."""

    def registered(
        self, driver: MesosSchedulerDriver, framework_id: Dict, master_info: Dict
    ) -> None:
        """First SUBSCRIBED of a framework that had no id."""

    def reregistered(self, driver: MesosSchedulerDriver, master_info: Dict) -> None:
        """SUBSCRIBED for a framework that already had an id (failover or reconnect)."""

    def disconnected(self, driver: MesosSchedulerDriver) -> None:
        """The subscription was lost; the driver is reconnecting."""

    def resourceOffers(self, driver: MesosSchedulerDriver, offers: list[Dict]) -> None:
        pass

    def offerRescinded(self, driver: MesosSchedulerDriver, offer_id: Dict) -> None:
        pass

    def statusUpdate(self, driver: MesosSchedulerDriver, status: Dict) -> None:
        pass

    def frameworkMessage(
        self, driver: MesosSchedulerDriver, executor_id: Dict, agent_id: Dict, data: bytes
    ) -> None:
        pass

    def agentLost(self, driver: MesosSchedulerDriver, agent_id: Dict) -> None:
        pass

    def executorLost(
        self, driver: MesosSchedulerDriver, executor_id: Dict, agent_id: Dict, status: int | None
    ) -> None:
        pass

    def error(self, driver: MesosSchedulerDriver, message: str) -> None:
        pass


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class _Rejected(MesosError):
    """SUBSCRIBE refused for a reason retrying cannot fix (bad request, auth)."""


class _Aborted(MesosError):
    """The master sent ERROR: the framework must not carry on."""


class MesosSchedulerDriver:
    """Drives one framework's subscription to the leading Mesos master."""

    def __init__(
        self,
        scheduler: Scheduler,
        framework: Mapping[str, Any],
        master: str,
        *,
        principal: str | None = None,
        secret: str | None = None,
        implicit_acknowledgements: bool = True,
        heartbeat_misses: int = 5,
    ) -> None:
        if heartbeat_misses < 1:
            raise ValueError(f"heartbeat_misses must be at least 1, got {heartbeat_misses}")
        if not framework.get("name"):
            raise ValueError("framework (a FrameworkInfo) needs a non-empty 'name'")
        if secret is not None and principal is None:
            raise ValueError("a secret was given without a principal")
        self._scheduler = scheduler
        self._framework: dict[str, Any] = copy.deepcopy(dict(framework))
        self._framework.setdefault("user", getpass.getuser())
        # pymesos defaulted to 100 s, so a short scheduler restart killed every task.
        self._framework.setdefault("failover_timeout", ONE_WEEK)
        if principal is not None:
            self._framework.setdefault("principal", principal)
        framework_id = self._framework.get("id")
        self._framework_id: str | None = (
            as_id(framework_id, "framework id")["value"] if (framework_id) else None
        )
        self._implicit_acks = implicit_acknowledgements
        self._heartbeat_misses = heartbeat_misses
        credentials = (principal, secret or "") if principal is not None else None
        self._auth = httpx.BasicAuth(*credentials) if credentials else None

        self._lock = threading.Lock()
        self._master_url: str | None = None
        self._stream_id: str | None = None
        self._heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL
        self._forced_once = False
        self._stopping = False

        self._state = StateMachine()
        self._detector = MasterDetector(master, on_change=self._leader_changed)
        self._callbacks = CallbackThread("mesos-scheduler-callbacks")
        # Implicit acknowledgements go out from their own threads, a few at once, so the
        # next update's callback runs while earlier ACKNOWLEDGEs are on their way.
        self._acks = ThreadPoolExecutor(ACK_SENDERS, thread_name_prefix="mesos-scheduler-ack")
        self._io = LoopThread("mesos-scheduler-io", self._main)
        self._calls = CallClient(CALL_TIMEOUT, credentials)
        self._subscription: asyncio.Task[None] | None = None
        self._subscription_target: str | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Connect and subscribe in the background."""
        if self._state.state is not DriverState.IDLE:
            raise RuntimeError(f"driver already started (it is {self._state.state.value})")
        self._detector.start()
        self._callbacks.start()
        self._io.start()

    def stop(self, failover: bool = False) -> None:
        """Stop the driver. ``failover=False`` tears the framework down (its tasks are
        killed); ``failover=True`` only disconnects, so tasks keep running for
        ``failover_timeout`` and another driver can re-subscribe with the id."""
        with self._lock:
            self._stopping = True
        if not failover and self._state.state is DriverState.SUBSCRIBED:
            try:
                self._call("TEARDOWN", None)
            except MesosError as exc:
                logger.warning("TEARDOWN failed while stopping: %s", exc)
        self._state.stop()
        self._io.cancel()
        self._io.join()
        self._callbacks.finish()
        # Unsent acknowledgements are dropped: the master re-sends those updates.
        self._acks.shutdown(wait=False, cancel_futures=True)
        self._detector.stop()
        self._calls.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the driver has stopped and every queued callback has run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._io.join(timeout)
        self._callbacks.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def run(self) -> None:
        self.start()
        self.join()

    @property
    def framework_id(self) -> str | None:
        with self._lock:
            return self._framework_id

    @property
    def connected(self) -> bool:
        return self._state.state is DriverState.SUBSCRIBED

    @property
    def master_url(self) -> str | None:
        """The base URL of the master this driver last subscribed to."""
        with self._lock:
            return self._master_url

    def wait_connected(self, timeout: float) -> bool:
        """Wait until subscribed (True) or until ``timeout`` or stop (False)."""
        self._state.wait_for({DriverState.SUBSCRIBED, DriverState.STOPPED}, timeout)
        return self.connected

    # -- calls ---------------------------------------------------------------------

    def acceptOffers(
        self,
        offer_ids: list[Any],
        operations: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
    ) -> None:
        accept: dict[str, Any] = {
            "offer_ids": [as_id(o, "offer id") for o in offer_ids],
            "operations": list(operations),
        }
        if filters is not None:
            accept["filters"] = filters
        self._call("ACCEPT", accept)

    def launchTasks(
        self,
        offer_ids: list[Any],
        tasks: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
    ) -> None:
        """One ACCEPT with a single LAUNCH operation for all ``tasks``."""
        launch = {"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}
        self.acceptOffers(offer_ids, [launch], filters)

    def declineOffer(self, offer_ids: list[Any], filters: dict[str, Any] | None = None) -> None:
        decline: dict[str, Any] = {"offer_ids": [as_id(o, "offer id") for o in offer_ids]}
        if filters is not None:
            decline["filters"] = filters
        self._call("DECLINE", decline)

    def killTask(self, task_id: Any, agent_id: Any | None = None) -> None:
        kill: dict[str, Any] = {"task_id": as_id(task_id, "task id")}
        if agent_id is not None:
            kill["agent_id"] = as_id(agent_id, "agent id")
        self._call("KILL", kill)

    def acknowledgeStatusUpdate(self, status: Mapping[str, Any]) -> None:
        if not status.get("uuid"):
            raise ValueError("this status update has no uuid, so it needs no acknowledgement")
        self._call(
            "ACKNOWLEDGE",
            {
                "agent_id": as_id(status.get("agent_id"), "status agent_id"),
                "task_id": as_id(status.get("task_id"), "status task_id"),
                "uuid": status["uuid"],
            },
        )

    def reconcileTasks(self, tasks: list[Mapping[str, Any]]) -> None:
        """Explicit reconciliation of ``tasks`` (task_id, optional agent_id; TaskStatus
        dicts are fine); an empty list asks for implicit reconciliation."""
        entries = []
        for task in tasks:
            entry = {"task_id": as_id(task.get("task_id"), "reconcile task_id")}
            if task.get("agent_id"):
                entry["agent_id"] = as_id(task["agent_id"], "reconcile agent_id")
            entries.append(entry)
        self._call("RECONCILE", {"tasks": entries})

    def reviveOffers(self, roles: list[str] | None = None) -> None:
        self._call("REVIVE", {"roles": list(roles)} if roles else None)

    def suppressOffers(self, roles: list[str] | None = None) -> None:
        self._call("SUPPRESS", {"roles": list(roles)} if roles else None)

    def sendFrameworkMessage(self, executor_id: Any, agent_id: Any, data: bytes) -> None:
        self._call(
            "MESSAGE",
            {
                "agent_id": as_id(agent_id, "agent id"),
                "executor_id": as_id(executor_id, "executor id"),
                "data": encode_data(data),
            },
        )

    def _call(self, kind: str, payload: dict[str, Any] | None) -> None:
        with self._lock:
            state = self._state.state
            if state is not DriverState.SUBSCRIBED:
                raise NotConnected(f"cannot send {kind}: the scheduler driver is {state.value}")
            url, stream_id, framework_id = self._master_url, self._stream_id, self._framework_id
        assert url is not None and stream_id is not None and framework_id is not None
        body: dict[str, Any] = {"type": kind, "framework_id": {"value": framework_id}}
        if payload is not None:
            body[kind.lower()] = payload
        headers = {"Mesos-Stream-Id": stream_id}
        try:
            status, text = self._calls.post(url + API_PATH, body, headers)
        except CallFailed as exc:
            raise NotConnected(f"{kind} was not delivered to {url}: {exc}") from exc
        if status >= 300:
            raise CallError(kind, status, text)
        logger.debug("%s accepted by %s", kind, url)

    # -- I/O thread ----------------------------------------------------------------

    async def _main(self) -> None:
        timeout = httpx.Timeout(CALL_TIMEOUT, read=None)  # stream silence is timed per event
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=timeout) as client:
                await self._connect_loop(client)
        finally:
            self._state.stop()
            self._callbacks.finish()
            # Unsent acknowledgements are dropped: the master re-sends those updates.
            self._acks.shutdown(wait=False, cancel_futures=True)

    async def _connect_loop(self, client: httpx.AsyncClient) -> None:
        attempt = 0
        redirect: str | None = None
        redirects = 0
        while not self._stopping:
            target = redirect or self._detector.leader()
            redirect = None
            if target is None:
                logger.info("no leading master known yet; waiting")
                await asyncio.sleep(backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP))
                attempt += 1
                continue
            if not self._state.advance(DriverState.CONNECTING):
                return
            failure: Exception
            self._subscription_target = target
            self._subscription = asyncio.ensure_future(self._subscribe(client, target))
            try:
                await self._subscription
                failure = StreamEnded("subscription ended")
            except _Redirect as moved:
                redirects += 1
                if redirects <= MAX_REDIRECTS:
                    logger.info("master %s redirected SUBSCRIBE to %s", target, moved.url)
                    redirect = moved.url
                    continue
                failure = MesosError(f"more than {MAX_REDIRECTS} redirects, last to {moved.url}")
            except (_Rejected, _Aborted) as exc:
                logger.error("scheduler driver aborted: %s", exc)
                return
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                failure = StreamEnded("the leading master changed")
            except (httpx.HTTPError, MesosError, OSError, TimeoutError) as exc:
                failure = exc
            finally:
                self._subscription = None
            redirects = 0
            was_subscribed = self._state.state is DriverState.SUBSCRIBED
            if self._stopping or not self._state.advance(DriverState.DISCONNECTED):
                return
            if was_subscribed:
                attempt = 0
                logger.warning("lost subscription to %s: %s; reconnecting", target, failure)
                self._submit("disconnected", lambda: self._scheduler.disconnected(self))
            else:
                logger.warning("could not subscribe to %s: %s", target, failure)
            await asyncio.sleep(backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP))
            attempt += 1

    async def _subscribe(self, client: httpx.AsyncClient, target: str) -> None:
        with self._lock:
            subscribe: dict[str, Any] = {"framework_info": copy.deepcopy(self._framework)}
            body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": subscribe}
            if self._framework_id is not None:
                body["framework_id"] = {"value": self._framework_id}
                # HA guide: force only on the first subscription after (re)election,
                # so a stale instance cannot keep stealing the framework back.
                subscribe["force"] = not self._forced_once
        request = client.build_request("POST", target + API_PATH, json=body, headers=JSON_HEADERS)
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            response = await client.send(request, stream=True)
        try:
            await self._read_subscription(response, target)
        finally:
            await response.aclose()

    async def _read_subscription(self, response: httpx.Response, target: str) -> None:
        status = response.status_code
        if status == 307:
            raise _Redirect(redirect_target(response.headers.get("Location", ""), target))
        if status != 200:
            text = (await response.aread()).decode("utf-8", "replace")
            if 400 <= status < 500 and status not in (408, 429):
                message = f"master {target} refused SUBSCRIBE with HTTP {status}: {text.strip()}"
                self._submit("error", lambda: self._scheduler.error(self, message))
                raise _Rejected(message)
            raise CallError("SUBSCRIBE", status, text)
        stream_id = response.headers.get("Mesos-Stream-Id")
        if not stream_id:
            raise MesosError(f"master {target} answered SUBSCRIBE without a Mesos-Stream-Id")
        async for event in iter_events(response, self._idle_timeout):
            self._handle(event, target, stream_id)

    def _idle_timeout(self) -> float:
        if self._state.state is DriverState.SUBSCRIBED:
            return self._heartbeat_misses * self._heartbeat_interval
        return SUBSCRIBE_TIMEOUT

    def _leader_changed(self, url: str | None) -> None:
        def drop_if_moved() -> None:
            if self._subscription is not None and url != self._subscription_target:
                self._subscription.cancel()

        self._io.call_soon(drop_if_moved)

    # -- events (I/O thread) -> callbacks (callback thread) --------------------------

    def _submit(self, name: str, fn: Callable[[], None]) -> None:
        self._callbacks.submit(f"{type(self._scheduler).__name__}.{name}", fn)

    def _handle(self, event: Dict, target: str, stream_id: str) -> None:
        kind = event.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            logger.debug("ignoring %s event", kind)
            return
        try:
            handler(self, event, target, stream_id)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise MesosError(f"malformed {kind} event {event.to_dict()}: {exc!r}") from exc

    def _on_subscribed(self, event: Dict, target: str, stream_id: str) -> None:
        subscribed = event.subscribed
        framework_id = subscribed.framework_id
        if not isinstance(framework_id.get("value"), str):
            raise MesosError(f"SUBSCRIBED without a framework_id: {event.to_dict()}")
        with self._lock:
            had_id = self._framework_id is not None
            self._framework_id = framework_id.value
            self._framework["id"] = {"value": framework_id.value}
            self._master_url = target
            self._stream_id = stream_id
            self._heartbeat_interval = float(
                subscribed.get("heartbeat_interval_seconds") or DEFAULT_HEARTBEAT_INTERVAL
            )
            self._forced_once = True
        if not self._state.advance(DriverState.SUBSCRIBED):
            return
        master_info = subscribed.master_info
        logger.info("subscribed to %s as framework %s", target, framework_id.value)
        if had_id:
            self._submit("reregistered", lambda: self._scheduler.reregistered(self, master_info))
        else:
            self._submit(
                "registered", lambda: self._scheduler.registered(self, framework_id, master_info)
            )

    def _on_offers(self, event: Dict, target: str, stream_id: str) -> None:
        offers = list(event.offers.get("offers") or [])
        if offers:
            self._submit("resourceOffers", lambda: self._scheduler.resourceOffers(self, offers))

    def _on_rescind(self, event: Dict, target: str, stream_id: str) -> None:
        offer_id = event.rescind.offer_id
        self._submit("offerRescinded", lambda: self._scheduler.offerRescinded(self, offer_id))

    def _on_update(self, event: Dict, target: str, stream_id: str) -> None:
        status = event["update"]["status"]  # .update is dict.update

        def acknowledge() -> None:
            if self._stopping:
                return
            try:
                self.acknowledgeStatusUpdate(status)
            except MesosError as exc:
                # The master re-sends unacknowledged updates, so this is not lost.
                if not self._stopping:
                    logger.warning("could not acknowledge %s: %s", status.task_id.value, exc)

        def deliver() -> None:
            self._scheduler.statusUpdate(self, status)  # raising: no acknowledgement
            if self._implicit_acks and status.get("uuid"):
                # Refused once stopping: the master re-sends the update to the next subscriber.
                with contextlib.suppress(RuntimeError):
                    self._acks.submit(acknowledge)

        self._submit("statusUpdate", deliver)

    def _on_message(self, event: Dict, target: str, stream_id: str) -> None:
        message = event.message
        data = decode_data(message.get("data") or "")
        self._submit(
            "frameworkMessage",
            lambda: self._scheduler.frameworkMessage(
                self, message.executor_id, message.agent_id, data
            ),
        )

    def _on_failure(self, event: Dict, target: str, stream_id: str) -> None:
        failure = event.failure
        agent_id = failure.agent_id
        if failure.get("executor_id"):
            status = failure.get("status")
            executor_id = failure.executor_id
            self._submit(
                "executorLost",
                lambda: self._scheduler.executorLost(
                    self, executor_id, agent_id, int(status) if status is not None else None
                ),
            )
        else:
            self._submit("agentLost", lambda: self._scheduler.agentLost(self, agent_id))

    def _on_error(self, event: Dict, target: str, stream_id: str) -> None:
        # Event.Error{message}; the HTTP API docs also show a top-level "message".
        message = str(event.error.get("message") or event.get("message") or "unknown error")
        self._submit("error", lambda: self._scheduler.error(self, message))
        raise _Aborted(f"master {target} sent ERROR: {message}")

    def _on_heartbeat(self, event: Dict, target: str, stream_id: str) -> None:
        logger.debug("heartbeat from %s", target)

    _handlers: ClassVar[dict[str, Callable[[MesosSchedulerDriver, Dict, str, str], None]]] = {
        "SUBSCRIBED": _on_subscribed,
        "OFFERS": _on_offers,
        "RESCIND": _on_rescind,
        "UPDATE": _on_update,
        "MESSAGE": _on_message,
        "FAILURE": _on_failure,
        "ERROR": _on_error,
        "HEARTBEAT": _on_heartbeat,
    }
