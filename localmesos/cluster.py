"""LocalMesos: one master and N agents served from a background thread's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette

from localmesos.agent import Agent
from localmesos.http import agent_app, master_app
from localmesos.master import (
    DEFAULT_MAX_COMPLETED_FRAMEWORKS,
    DEFAULT_MAX_COMPLETED_TASKS_PER_FRAMEWORK,
    Master,
)
from localmesos.resources import Resources
from localmesos.state_endpoint import master_state
from localmesos.watchdog import Watchdog

log = logging.getLogger(__name__)

T = TypeVar("T")

TICK_SECONDS = 0.25
# The default of `allocation_interval` when none is given (seconds; unset or 0: allocate
# as soon as anything changes), so that a whole test run can use the real interval.
ALLOCATION_INTERVAL_ENV = "LOCALMESOS_ALLOCATION_INTERVAL"


def default_allocation_interval() -> float | None:
    text = os.environ.get(ALLOCATION_INTERVAL_ENV, "").strip()
    try:
        value = float(text) if text else 0.0
    except ValueError:
        raise ValueError(f"{ALLOCATION_INTERVAL_ENV} must be seconds, not {text!r}") from None
    return value if value > 0 else None


def agent_resources(cpus: float, mem: float, index: int) -> Resources:
    first_port = 31000 + (index - 1) * 1000
    return Resources(
        {"cpus": cpus, "mem": mem, "disk": 10240.0}, {"ports": [(first_port, first_port + 999)]}
    )


class LocalMesos:
    """An embedded single-node Mesos speaking the v1 scheduler and executor HTTP APIs."""

    def __init__(
        self,
        agents: int = 2,
        cpus: float = 2.0,
        mem: float = 2048.0,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        work_dir: str | Path | None = None,
        heartbeat_interval: float = 15.0,
        shutdown_grace: float = 3.0,
        update_retry: float = 2.0,
        agent_ping_timeout: float = 15.0,
        max_agent_ping_timeouts: int = 5,
        allocation_interval: float | None = None,
        executor_environment_variables: Mapping[str, str] | None = None,
        max_completed_tasks_per_framework: int = DEFAULT_MAX_COMPLETED_TASKS_PER_FRAMEWORK,
        max_completed_frameworks: int = DEFAULT_MAX_COMPLETED_FRAMEWORKS,
    ) -> None:
        """`agent_ping_timeout` x `max_agent_ping_timeouts`: how long a partitioned agent
        stays registered before the master marks it unreachable (Mesos: 15 s x 5).
        `allocation_interval`: seconds between batch allocations, as the real master's
        `--allocation_interval` (Mesos: 1 s); 0: resources are offered as soon as they are
        free; None: $LOCALMESOS_ALLOCATION_INTERVAL, else 0."""
        if agents < 1:
            raise ValueError(f"agents must be at least 1, not {agents}")
        if cpus <= 0 or mem <= 0:
            raise ValueError(f"agent cpus and mem must be positive, not {cpus} and {mem}")
        self._agent_count = agents
        self._cpus = cpus
        self._mem = mem
        self._host = host
        self._port = port
        self._own_work_dir = work_dir is None
        self._work_dir = Path(work_dir or tempfile.mkdtemp(prefix="localmesos-"))
        self._heartbeat_interval = heartbeat_interval
        # Unacknowledged updates are re-sent after this long, doubling (Mesos: 10 s).
        self._update_retry = update_retry
        self._shutdown_grace = shutdown_grace
        if agent_ping_timeout <= 0 or max_agent_ping_timeouts < 1:
            raise ValueError(
                f"agent_ping_timeout must be positive and max_agent_ping_timeouts at least 1,"
                f" not {agent_ping_timeout} and {max_agent_ping_timeouts}"
            )
        self._agent_ping_timeout = agent_ping_timeout
        self._max_agent_ping_timeouts = max_agent_ping_timeouts
        if allocation_interval is not None and allocation_interval < 0:
            raise ValueError(f"allocation_interval must not be negative, not {allocation_interval}")
        self._allocation_interval = (
            default_allocation_interval() if allocation_interval is None
            else allocation_interval or None
        )
        # The agent flag --executor_environment_variables: all an executor gets beyond the
        # MESOS_* variables and its CommandInfo.environment.
        self._executor_environment_variables = dict(executor_environment_variables or {})
        if max_completed_tasks_per_framework < 0 or max_completed_frameworks < 0:
            raise ValueError("the completed task and framework bounds must not be negative")
        self._max_completed_tasks_per_framework = max_completed_tasks_per_framework
        self._max_completed_frameworks = max_completed_frameworks
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._stop_requested: asyncio.Event | None = None
        self.master: Master | None = None
        self._servers: dict[str, uvicorn.Server] = {}
        self._watchdog = Watchdog()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serves in a background thread; returns once the master and agents listen."""
        if self._thread is not None:
            raise RuntimeError("LocalMesos is already started")
        self._watchdog.start()
        self._loop = asyncio.new_event_loop()
        # Executors are forked on this thread and die with it (processes.spawn), so it
        # must live as long as the cluster: it ends only after every executor has.
        self._thread = threading.Thread(target=self._run, name="localmesos", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            self._watchdog.stop()
            raise RuntimeError(f"could not start: {self._failure}") from self._failure

    def stop(self) -> None:
        """Shuts down every executor and task (no process is left behind), then the servers."""
        if self._thread is None or self._loop is None:
            return
        if self._stop_requested is not None:
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join()
        self._thread = None
        self._watchdog.stop()
        if self._own_work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def __enter__(self) -> LocalMesos:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties

    @property
    def address(self) -> str:
        return f"{self._host}:{self._master().port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def agent_ids(self) -> list[str]:
        return list(self._master().agents)

    def state(self) -> dict[str, Any]:
        """The same JSON as GET /master/state."""
        return self._call(self._state())

    # ------------------------------------------------------------------ fault hooks

    def kill_executor(self, agent_id: str, executor_id: str | None = None) -> int:
        """SIGKILLs an executor's process group; returns its pid."""
        return self._call(self._kill_executor(agent_id, executor_id))

    def remove_agent(self, agent_id: str) -> None:
        self._call(self._remove_agent(agent_id))

    def restart_agent(self, agent_id: str) -> None:
        self._call(self._master().restart_agent(agent_id))

    def partition_agent(self, agent_id: str) -> None:
        """Breaks the agent's connection to the master; its executors keep running. After
        the ping timeouts the master marks it unreachable."""
        self._call(self._link_fault(agent_id, partition=True))

    def heal_agent(self, agent_id: str) -> None:
        """Restores a partitioned agent's connection: it re-registers with the master."""
        self._call(self._link_fault(agent_id, partition=False))

    # ------------------------------------------------------------------ internals

    def _master(self) -> Master:
        if self.master is None:
            raise RuntimeError("LocalMesos is not started")
        return self.master

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None or self._thread is None:
            coroutine.close()
            raise RuntimeError("LocalMesos is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _state(self) -> dict[str, Any]:
        return master_state(self._master())

    async def _kill_executor(self, agent_id: str, executor_id: str | None) -> int:
        agent = self._master().agents.get(agent_id)
        if agent is None:
            raise KeyError(f"unknown agent {agent_id}")
        return agent.kill_executor(executor_id)

    async def _link_fault(self, agent_id: str, *, partition: bool) -> None:
        master = self._master()
        if agent_id not in master.agents:
            raise KeyError(f"unknown agent {agent_id}")
        if partition:
            master.partition_agent(agent_id)
        else:
            master.heal_agent(agent_id)

    async def _remove_agent(self, agent_id: str) -> None:
        master = self._master()
        if agent_id not in master.agents:
            raise KeyError(f"unknown agent {agent_id}")
        await master.remove_agent(agent_id)
        self._servers.pop(agent_id).should_exit = True

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._failure = exc
            if self._ready.is_set():  # a failure to start is start()'s to report
                log.error("localmesos stopped on an error", exc_info=exc)
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        self._stop_requested = asyncio.Event()
        master = Master(heartbeat_interval=self._heartbeat_interval,
                        update_retry=self._update_retry,
                        update_retry_max=max(10.0, 10 * self._update_retry),
                        agent_ping_timeout=self._agent_ping_timeout,
                        max_agent_ping_timeouts=self._max_agent_ping_timeouts,
                        allocation_interval=self._allocation_interval,
                        max_completed_tasks_per_framework=self._max_completed_tasks_per_framework,
                        max_completed_frameworks=self._max_completed_frameworks)
        master.start()
        serving: list[asyncio.Task[None]] = []
        master_socket = _bind(self._host, self._port)
        master.port = master_socket.getsockname()[1]
        serving.append(self._serve("master", master_app(master), master_socket))
        for index in range(1, self._agent_count + 1):
            agent = Agent(
                master,
                index=index,
                agent_id=f"{master.id}-S{index - 1}",
                resources=agent_resources(self._cpus, self._mem, index),
                work_dir=self._work_dir,
                shutdown_grace=self._shutdown_grace,
                watchdog=self._watchdog,
                executor_environment_variables=self._executor_environment_variables,
            )
            agent_socket = _bind("127.0.0.1", 0)
            agent.port = agent_socket.getsockname()[1]
            serving.append(self._serve(agent.id, agent_app(agent), agent_socket))
            master.add_agent(agent)
        while not all(server.started for server in self._servers.values()):
            if any(task.done() for task in serving):
                await asyncio.gather(*serving)  # re-raises the server's failure
            await asyncio.sleep(0.01)
        self.master = master
        self._ready.set()
        while not self._stop_requested.is_set():
            master.tick()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):
                    await self._stop_requested.wait()
        await master.stop()
        for server in self._servers.values():
            server.should_exit = True
        await asyncio.gather(*serving)

    def _serve(self, name: str, app: Starlette, sock: socket.socket) -> asyncio.Task[None]:
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._servers[name] = server
        return asyncio.ensure_future(server.serve(sockets=[sock]))


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    # Without it every response on a kept-alive connection waited ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
