"""Executor driver for the Mesos v1 executor HTTP API (docs/executor-http-api.md).

The agent starts the executor with its endpoint and ids in the environment.
Status updates are kept until the agent ACKNOWLEDGEs them and are re-sent on
every re-subscription, with the tasks that have not finished. After losing
the agent, an executor of a checkpointing framework re-subscribes until
MESOS_RECOVERY_TIMEOUT (the agent may be restarting); any other executor exits.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from addict import Dict

from mesosapi.backoff import backoff_delay
from mesosapi.callbacks import CallbackThread
from mesosapi.calls import CallClient, CallFailed
from mesosapi.connection import DriverState, StateMachine
from mesosapi.encoding import as_id, decode_data, encode_data, parse_duration, parse_flag
from mesosapi.errors import CallError, MesosError, NotConnected, StreamEnded
from mesosapi.loop import LoopThread
from mesosapi.stream import JSON_HEADERS, iter_events
from mesosapi.taskstates import TERMINAL

logger = logging.getLogger(__name__)

API_PATH = "/api/v1/executor"
CALL_TIMEOUT = 30.0
# Tries of one UPDATE post while subscribed (see _post_queued).
POST_ATTEMPTS = 3
# Silence allowed between SUBSCRIBE and SUBSCRIBED; afterwards the agent may
# legitimately stay quiet for hours, so only a closed connection counts.
SUBSCRIBE_TIMEOUT = 30.0
IDLE_FOREVER = 365 * 24 * 3600.0
BACKOFF_BASE = 0.1

@dataclass(frozen=True)
class ExecutorEnvironment:
    """The settings an agent passes to an executor through its environment."""

    agent_endpoint: str
    framework_id: str
    executor_id: str
    directory: str | None
    sandbox: str | None
    checkpoint: bool
    recovery_timeout: float
    subscription_backoff_max: float
    shutdown_grace_period: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ExecutorEnvironment:
        """Parse the agent's variables; ValueError naming a missing or malformed one."""

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ValueError(f"{name} is not set: is this process running under a Mesos agent?")
            return value

        def duration(name: str, default: str) -> float:
            try:
                return parse_duration(env.get(name) or default)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None

        endpoint = required("MESOS_AGENT_ENDPOINT")
        host, colon, port = endpoint.rpartition(":")
        if not colon or not host or not port.isdigit():
            raise ValueError(f"MESOS_AGENT_ENDPOINT must be HOST:PORT, got {endpoint!r}")
        return cls(
            agent_endpoint=endpoint,
            framework_id=required("MESOS_FRAMEWORK_ID"),
            executor_id=required("MESOS_EXECUTOR_ID"),
            directory=env.get("MESOS_DIRECTORY"),
            sandbox=env.get("MESOS_SANDBOX") or env.get("MESOS_DIRECTORY"),
            # pymesos treated any non-empty value, "0" included, as true.
            checkpoint=parse_flag("MESOS_CHECKPOINT", env.get("MESOS_CHECKPOINT", "0")),
            # Defaults of the agent flags --recovery_timeout and
            # --executor_reregistration_timeout.
            recovery_timeout=duration("MESOS_RECOVERY_TIMEOUT", "15mins"),
            subscription_backoff_max=duration("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs"),
            shutdown_grace_period=duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs"),
        )


class Executor:
    """Callbacks of a custom executor; override the ones you need."""

    def registered(
        self,
        driver: MesosExecutorDriver,
        executor_info: Dict,
        framework_info: Dict,
        agent_info: Dict,
    ) -> None:
        pass

    def reregistered(self, driver: MesosExecutorDriver, agent_info: Dict) -> None:
        pass

    def disconnected(self, driver: MesosExecutorDriver) -> None:
        pass

    def launchTask(self, driver: MesosExecutorDriver, task: Dict) -> None:
        pass

    def launchTaskGroup(self, driver: MesosExecutorDriver, task_group: Dict) -> None:
        pass

    def killTask(self, driver: MesosExecutorDriver, task_id: Dict) -> None:
        pass

    def frameworkMessage(self, driver: MesosExecutorDriver, data: bytes) -> None:
        pass

    def shutdown(self, driver: MesosExecutorDriver) -> None:
        """Kill every task and send their TASK_KILLED updates before returning;
        the driver stops once this returns."""

    def error(self, driver: MesosExecutorDriver, message: str) -> None:
        pass


class _Exit(MesosError):
    """The executor must end: it lost its agent and may not (or can no longer) recover."""


class MesosExecutorDriver:
    """Connects an ``Executor`` to its agent."""

    def __init__(self, executor: Executor, env: Mapping[str, str] | None = None) -> None:
        self._executor = executor
        self.environment = ExecutorEnvironment.from_env(os.environ if env is None else env)
        self._url = f"http://{self.environment.agent_endpoint}{API_PATH}"
        self._ids = {
            "executor_id": {"value": self.environment.executor_id},
            "framework_id": {"value": self.environment.framework_id},
        }
        self._lock = threading.Lock()
        # uuid -> TaskStatus, until the agent acknowledges it
        self._unacked_updates: dict[str, dict[str, Any]] = {}
        # task id -> TaskInfo, from LAUNCH until a terminal update is acknowledged
        self._open_tasks: dict[str, dict[str, Any]] = {}
        self._ever_subscribed = False
        # uuids carried by the last SUBSCRIBE; updates queued after it was built
        # are posted once SUBSCRIBED arrives
        self._resubmitted: set[str] = set()
        self._exit_status = 0
        self._state = StateMachine()
        self._callbacks = CallbackThread("mesos-executor-callbacks")
        self._io = LoopThread("mesos-executor-io", self._main)
        self._calls = CallClient(CALL_TIMEOUT)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._state.state is not DriverState.IDLE:
            raise RuntimeError(f"driver already started (it is {self._state.state.value})")
        self._callbacks.start()
        self._io.start()

    def stop(self) -> None:
        """Close the subscription and end the driver (exit status 0)."""
        self._state.stop()
        self._io.cancel()
        self._io.join()
        self._callbacks.finish()
        self._calls.close()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        self._io.join(timeout)
        self._callbacks.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def run(self) -> int:
        """Start, wait until the driver ends; the process exit status to use."""
        self.start()
        self.join()
        return self._exit_status

    @property
    def connected(self) -> bool:
        return self._state.state is DriverState.SUBSCRIBED

    def wait_connected(self, timeout: float) -> bool:
        self._state.wait_for({DriverState.SUBSCRIBED, DriverState.STOPPED}, timeout)
        return self.connected

    # -- calls ---------------------------------------------------------------------

    def sendStatusUpdate(self, status: Mapping[str, Any]) -> None:
        """Send a TaskStatus reliably: it is kept until acknowledged and re-sent on
        re-subscription, so while the agent is away it is queued, not lost.
        Raises NotConnected only once the driver has ended."""
        if not status.get("task_id") or not status.get("state"):
            raise ValueError(f"a status update needs task_id and state, got {dict(status)!r}")
        filled = copy.deepcopy(dict(status))
        filled["task_id"] = as_id(filled["task_id"], "status task_id")
        # Mesos accepts only the bytes of an RFC 4122 UUID (stout `UUID::fromBytes`).
        filled.setdefault("uuid", encode_data(uuid.uuid4().bytes))
        filled.setdefault("timestamp", time.time())
        filled.setdefault("source", "SOURCE_EXECUTOR")
        filled.setdefault("executor_id", self._ids["executor_id"])
        state = self._state.state
        if state in (DriverState.IDLE, DriverState.STOPPED):
            raise NotConnected(f"cannot send a status update: the executor driver is {state.value}")
        with self._lock:
            self._unacked_updates[filled["uuid"]] = filled
        if state is DriverState.SUBSCRIBED:
            self._post_queued("UPDATE", {"status": filled})

    def sendFrameworkMessage(self, data: bytes) -> None:
        """Best effort, as in Mesos: raises NotConnected while not subscribed."""
        if self._state.state is not DriverState.SUBSCRIBED:
            raise NotConnected(f"cannot send a message: the driver is {self._state.state.value}")
        self._post("MESSAGE", {"data": encode_data(data)})

    def _post_queued(self, kind: str, payload: dict[str, Any]) -> None:
        """Post an update kept until acknowledged. Only a re-subscription re-sends it, so
        while the subscription stands a failed post is tried again at once: a kept-alive
        connection the agent closed just as it was reused fails without the agent being
        gone, and would strand the update (the agent drops duplicates by uuid)."""
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                self._post(kind, payload)
                return
            except NotConnected as exc:
                if self._state.state is not DriverState.SUBSCRIBED:
                    logger.info("%s kept for re-subscription: %s", kind, exc)
                    return
                if attempt == POST_ATTEMPTS:
                    logger.warning("%s kept for re-subscription after %d tries: %s",
                                   kind, attempt, exc)

    def _resend(self, status: dict[str, Any]) -> Callable[[], None]:
        return lambda: self._post_queued("UPDATE", {"status": status})

    def _post(self, kind: str, payload: dict[str, Any]) -> None:
        body = {"type": kind, **self._ids, kind.lower(): payload}
        try:
            status, text = self._calls.post(self._url, body)
        except CallFailed as exc:
            raise NotConnected(f"{kind} was not delivered to {self._url}: {exc}") from exc
        if status >= 300:
            raise CallError(kind, status, text)

    # -- I/O thread ----------------------------------------------------------------

    async def _main(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(CALL_TIMEOUT, read=None)) as client:
                await self._connect_loop(client)
        except _Exit as exc:
            logger.error("executor exiting: %s", exc)
            self._exit_status = 1
        finally:
            self._state.stop()
            self._callbacks.finish()

    async def _connect_loop(self, client: httpx.AsyncClient) -> None:
        env = self.environment
        attempt = 0
        lost_at = time.monotonic()
        while True:
            if not self._state.advance(DriverState.CONNECTING):
                return
            try:
                await self._subscribe(client)
                failure: Exception = StreamEnded("subscription ended")
            except (httpx.HTTPError, MesosError, OSError, TimeoutError) as exc:
                failure = exc
            was_subscribed = self._state.state is DriverState.SUBSCRIBED
            if not self._state.advance(DriverState.DISCONNECTED):
                return
            if was_subscribed:
                logger.warning("lost the agent at %s: %s", env.agent_endpoint, failure)
                self._submit("disconnected", lambda: self._executor.disconnected(self))
                attempt, lost_at = 0, time.monotonic()
                if not env.checkpoint:
                    raise _Exit("disconnected from the agent and checkpointing is off")
            else:
                logger.info("could not subscribe to %s: %s", env.agent_endpoint, failure)
            # Before the first SUBSCRIBED the agent may still be starting, so every
            # executor retries; after it, only checkpointing ones reach this point.
            if time.monotonic() - lost_at > env.recovery_timeout:
                raise _Exit(f"no agent for MESOS_RECOVERY_TIMEOUT ({env.recovery_timeout:g}s)")
            cap = max(env.subscription_backoff_max, BACKOFF_BASE)
            await asyncio.sleep(backoff_delay(attempt, base=BACKOFF_BASE, cap=cap))
            attempt += 1

    def _subscribe_body(self) -> dict[str, Any]:
        with self._lock:
            subscribe = {
                "unacknowledged_tasks": [copy.deepcopy(t) for t in self._open_tasks.values()],
                "unacknowledged_updates": [
                    {"status": copy.deepcopy(s)} for s in self._unacked_updates.values()
                ],
            }
            self._resubmitted = set(self._unacked_updates)
        return {"type": "SUBSCRIBE", **self._ids, "subscribe": subscribe}

    async def _subscribe(self, client: httpx.AsyncClient) -> None:
        request = client.build_request(
            "POST", self._url, json=self._subscribe_body(), headers=JSON_HEADERS
        )
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            response = await client.send(request, stream=True)
        try:
            if response.status_code != 200:
                text = (await response.aread()).decode("utf-8", "replace")
                raise CallError("SUBSCRIBE", response.status_code, text)
            async for event in iter_events(response, self._idle_timeout):
                self._handle(event)
        finally:
            await response.aclose()

    def _idle_timeout(self) -> float:
        if self._state.state is DriverState.SUBSCRIBED:
            return IDLE_FOREVER
        return SUBSCRIBE_TIMEOUT

    # -- events (I/O thread) -> callbacks (callback thread) --------------------------

    def _submit(self, name: str, fn: Callable[[], None]) -> None:
        self._callbacks.submit(f"{type(self._executor).__name__}.{name}", fn)

    def _handle(self, event: Dict) -> None:
        kind = event.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            logger.debug("ignoring %s event", kind)
            return
        try:
            handler(self, event)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise MesosError(f"malformed {kind} event {event.to_dict()}: {exc!r}") from exc

    def _on_subscribed(self, event: Dict) -> None:
        subscribed = event.subscribed
        if not self._state.advance(DriverState.SUBSCRIBED):
            return
        first = not self._ever_subscribed
        self._ever_subscribed = True
        agent_info = subscribed.agent_info
        with self._lock:
            late = [s for u, s in self._unacked_updates.items() if u not in self._resubmitted]
        for status in late:
            self._submit("resend", self._resend(status))
        logger.info("subscribed to the agent at %s", self.environment.agent_endpoint)
        if first:
            executor_info, framework_info = subscribed.executor_info, subscribed.framework_info
            self._submit(
                "registered",
                lambda: self._executor.registered(self, executor_info, framework_info, agent_info),
            )
        else:
            self._submit("reregistered", lambda: self._executor.reregistered(self, agent_info))

    def _on_launch(self, event: Dict) -> None:
        task = event.launch.task
        with self._lock:
            self._open_tasks[task.task_id.value] = task.to_dict()
        self._submit("launchTask", lambda: self._executor.launchTask(self, task))

    def _on_launch_group(self, event: Dict) -> None:
        group = event.launch_group.task_group
        with self._lock:
            for task in group.get("tasks") or []:
                self._open_tasks[task.task_id.value] = task.to_dict()
        self._submit("launchTaskGroup", lambda: self._executor.launchTaskGroup(self, group))

    def _on_kill(self, event: Dict) -> None:
        task_id = event.kill.task_id
        self._submit("killTask", lambda: self._executor.killTask(self, task_id))

    def _on_acknowledged(self, event: Dict) -> None:
        acknowledged = event.acknowledged
        with self._lock:
            status = self._unacked_updates.pop(acknowledged.get("uuid") or "", None)
            if status is not None and status.get("state") in TERMINAL:
                self._open_tasks.pop(status["task_id"]["value"], None)
        if status is None:
            logger.debug("acknowledgement of an unknown update %s", acknowledged.to_dict())

    def _on_message(self, event: Dict) -> None:
        data = decode_data(event.message.get("data") or "")
        self._submit("frameworkMessage", lambda: self._executor.frameworkMessage(self, data))

    def _on_shutdown(self, event: Dict) -> None:
        def shutdown() -> None:
            try:
                self._executor.shutdown(self)
            finally:
                threading.Thread(target=self.stop, name="mesos-executor-stop").start()

        self._submit("shutdown", shutdown)

    def _on_error(self, event: Dict) -> None:
        message = str(event.error.get("message") or "unknown error")
        self._submit("error", lambda: self._executor.error(self, message))

    _handlers: ClassVar[dict[str, Callable[[MesosExecutorDriver, Dict], None]]] = {
        "SUBSCRIBED": _on_subscribed,
        "LAUNCH": _on_launch,
        "LAUNCH_GROUP": _on_launch_group,
        "KILL": _on_kill,
        "ACKNOWLEDGED": _on_acknowledged,
        "MESSAGE": _on_message,
        "SHUTDOWN": _on_shutdown,
        "ERROR": _on_error,
    }
