"""One femto scheduler process: store, engine, Mesos driver and HTTP API together."""

from __future__ import annotations

import getpass
import logging
import os
import shlex
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from framework.api.app import create_app
from framework.datasets import Datasets
from framework.embedded import EmbeddedMesos
from framework.engine import Engine, EngineConfig, Halted
from framework.launch import ExecutorSpec
from framework.leadership import Leadership
from framework.mesos_scheduler import FemtoScheduler
from framework.retries import RetryPolicy
from framework.store import LEADER_FENCE, Store, open_store
from mesosapi.scheduler import MesosSchedulerDriver

log = logging.getLogger(__name__)

WEEK = 7 * 24 * 3600.0


def default_state_dir() -> Path:
    if os.environ.get("FEMTO_STATE_DIR"):
        return Path(os.environ["FEMTO_STATE_DIR"])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "femto"


def split_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{what} {text!r} must be HOST:PORT")
    return host, int(port)


@dataclass
class Options:
    master: str = "local"
    agents: int = 2
    agent_cpus: float = 4.0
    agent_mem: float = 4096.0
    store: str | None = None  # default: sqlite in the state dir
    listen: str = "127.0.0.1:8080"
    api_token: str | None = None
    role: str = "*"
    principal: str | None = None
    secret: str | None = None
    zk: str | None = None
    state_dir: Path = field(default_factory=default_state_dir)
    failover_timeout: float = WEEK
    launch_timeout: float = 60.0
    retry_backoff: float = 1.0
    locality_wait: float = 3.0
    max_upload: int = 4 << 30  # bytes of one dataset or output upload
    zk_session_timeout: float = 10.0
    executor_command: str = field(
        default_factory=lambda: os.environ.get("FEMTO_EXECUTOR_COMMAND")
        or f"{shlex.quote(sys.executable)} -m executor"
    )


class Service:
    """The API always serves; the engine launches work only while this
    scheduler leads (at once without --zk, after an election with it)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.store: Store | None = None
        self.datasets: Datasets | None = None
        self.engine: Engine | None = None
        self.driver: MesosSchedulerDriver | None = None
        self.leadership: Leadership | None = None
        self.local_mesos: EmbeddedMesos | None = None
        self.master = ""
        self.problem: str | None = None  # why a leader cannot act, for /health
        self._leading = False
        self._term_lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.url = ""

    def start(self) -> None:
        opts = self.options
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(opts.store or f"sqlite:///{opts.state_dir.resolve()}/femto.db")
        host, port = split_host_port(opts.listen, "--listen")
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it each response on a kept-alive connection waited ~40 ms.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on {opts.listen}: {exc.strerror}") from exc
        bound_port = sock.getsockname()[1]
        advertised = socket.gethostname() if host in ("0.0.0.0", "::") else host
        self.url = f"http://{advertised}:{bound_port}"
        self.master = opts.master
        if opts.master == "local":
            self.local_mesos = EmbeddedMesos(
                opts.agents, opts.agent_cpus, opts.agent_mem, opts.state_dir / "localmesos",
                # Mesos's own status update retry: a shorter one floods a busy
                # scheduler with duplicates of updates it has not acknowledged yet.
                update_retry=10.0,
            )
            self.local_mesos.start()  # its start-up overlaps the API's
        self.datasets = Datasets(self.store)
        self.engine = self._new_engine()
        app = create_app(self, token=opts.api_token, max_upload=opts.max_upload)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        server = self._server
        self._spawn("femto-api", lambda: server.run(sockets=[sock]))
        if self.local_mesos is not None:
            try:
                self.master = self.local_mesos.wait_ready()
            except RuntimeError:
                self.stop()
                raise
        if opts.zk:
            self.leadership = Leadership(
                opts.zk, self.url, on_elected=self._take_lead, on_deposed=self._step_down,
                on_suspended=self._halt, session_timeout=opts.zk_session_timeout,
            )
            self.leadership.start()
        else:
            self._take_lead(None)
        self._spawn("femto-ticker", self._tick)
        self._wait_serving()

    def _new_engine(self) -> Engine:
        assert self.store is not None and self.datasets is not None
        opts = self.options
        return Engine(self.store, self.datasets, EngineConfig(
            executor=ExecutorSpec(command=opts.executor_command),
            api_url=self.url, token=opts.api_token,
            retry=RetryPolicy(backoff_base=opts.retry_backoff),
            launch_timeout=opts.launch_timeout, locality_wait=opts.locality_wait,
            mirrors=self._mirrors,
        ))

    # ----- leadership -----

    @property
    def is_leader(self) -> bool:
        return self._leading and (self.leadership is None or self.leadership.is_leader)

    def leader_url(self) -> str | None:
        if self.is_leader:
            return self.url
        return self.leadership.leader() if self.leadership else None

    def _mirrors(self) -> list[str]:
        if self.leadership is None:
            return []
        return [url for url in self.leadership.contenders() if url != self.url]

    def _take_lead(self, epoch: int | None) -> None:
        """Become the scheduler that acts: fence the store, reload jobs, subscribe."""
        assert self.store is not None
        with self._term_lock:
            if epoch is not None:
                self.store.set_fence(LEADER_FENCE, epoch)
                self.store.fence(epoch)
            engine = self._new_engine()
            engine.load()
            framework_id = self._framework_id()
            self.engine = engine
            if framework_id is None and self._has_live_tasks():
                # A new framework id would orphan the tasks running under the old one.
                self.problem = ("the store holds running tasks but no framework id is known; "
                                "refusing to register a new framework")
                log.error(self.problem)
                return
            self.problem = None
            driver = MesosSchedulerDriver(
                FemtoScheduler(engine, on_framework_id=self._record_framework_id),
                self._framework_info(framework_id), self.master,
                principal=self.options.principal, secret=self.options.secret,
            )
            engine.attach(driver)
            self.driver = driver
            self._leading = True
            driver.start()
            log.info("leading (epoch %s) as %s", epoch, self.url)

    def _halt(self) -> None:
        """ZooKeeper session suspended or lost: stop launching and writing at once."""
        self._leading = False
        if self.engine is not None:
            self.engine.halt()

    def _step_down(self) -> None:
        assert self.store is not None
        with self._term_lock:
            self._halt()
            driver, self.driver = self.driver, None
            if driver is not None:
                driver.stop(failover=True)  # tasks keep running for the next leader
            self.store.fence(None)
            self.engine = self._new_engine()
            log.info("stepped down; standing by")

    def _framework_id(self) -> str | None:
        assert self.store is not None
        stored = self.store.get("meta", "framework")
        from_zk = self.leadership.framework_id() if self.leadership else None
        return from_zk or (stored["id"] if stored else None)

    def _record_framework_id(self, framework_id: str) -> None:
        if self.leadership is not None:
            self.leadership.record_framework_id(framework_id)

    def _has_live_tasks(self) -> bool:
        assert self.store is not None
        return any(self.store.find("tasks", state=s) for s in ("LAUNCHING", "RUNNING"))

    def _framework_info(self, framework_id: str | None) -> dict[str, Any]:
        opts = self.options
        framework: dict[str, Any] = {
            "user": getpass.getuser(), "name": "femto", "roles": [opts.role],
            "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
            "failover_timeout": opts.failover_timeout, "checkpoint": True,
            "hostname": socket.gethostname(), "webui_url": self.url,
        }
        if opts.principal:
            framework["principal"] = opts.principal
        if framework_id:
            framework["id"] = {"value": framework_id}
        return framework

    # ----- threads -----

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _wait_serving(self) -> None:
        server = self._server
        assert server is not None
        for _ in range(200):
            if server.started:
                return
            self._stopping.wait(0.05)
        raise RuntimeError(f"the HTTP API did not start on {self.options.listen}")

    def _tick(self) -> None:
        while not self._stopping.wait(0.25):
            engine = self.engine
            if engine is None or not self.is_leader:
                continue
            try:
                engine.tick()
            except Halted:
                log.debug("deposed during a tick")
            except Exception:  # the ticker must outlive any one bad tick
                log.exception("engine tick failed")

    @property
    def mesos_connected(self) -> bool:
        return bool(self.driver and self.driver.connected)

    def master_url(self) -> str | None:
        """The Mesos master this scheduler last subscribed to (None on a standby)."""
        driver = self.driver
        return driver.master_url if driver is not None else None

    def stop(self) -> None:
        """Stop serving; running tasks keep running (the framework fails over)."""
        self._stopping.set()
        if self.leadership is not None:
            self.leadership.stop()
        else:
            self._step_down()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=10)
        if self.local_mesos is not None:
            self.local_mesos.stop()
        if self.store is not None:
            self.store.close()
