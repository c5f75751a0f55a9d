"""One femto scheduler process: store, engine, Mesos driver and HTTP API together."""

from __future__ import annotations

import getpass
import ipaddress
import logging
import os
import shlex
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from femto import credentials
from femto.api.app import create_app
from femto.auth import Tokens
from femto.datasets import DataRoots, Datasets
from femto.embedded import EmbeddedMesos
from femto.engine import Engine, EngineConfig, Halted
from femto.eventlog import EventLog
from femto.jobs.limits import Limits
from femto.launch import ExecutorSpec
from femto.leadership import Leadership
from femto.mesos_scheduler import FemtoScheduler
from femto.retries import RetryPolicy
from femto.store import LEADER_FENCE, Store, open_store
from femto.triggers.shell import Triggers
from femto.workflows.shell import Workflows
from mesosapi.scheduler import MesosSchedulerDriver

log = logging.getLogger(__name__)

FIRST_SUBSCRIBE_WAIT = 10.0  # seconds start() waits for the first subscription

WEEK = 7 * 24 * 3600.0

# What femto's executor reads from its environment, passed on from the scheduler's own in
# CommandInfo.environment (an agent passes nothing of its own environment on). Not passed on:
# HOME and LANG (the executor writes only to its sandbox, and Python runs in UTF-8 in the C
# locale, PEP 538), nor OPENBLAS_*/OMP_* tuning, which belongs to the agents' machines and
# their operators (the agent's --executor_environment_variables), not to the scheduler's.
EXECUTOR_VARIABLES = ("FEMTO_LOG_LEVEL",)


def executor_environment(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, env[name]) for name in EXECUTOR_VARIABLES if name in env)


def default_state_dir() -> Path:
    if os.environ.get("FEMTO_STATE_DIR"):
        return Path(os.environ["FEMTO_STATE_DIR"])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "femto"


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and "localhost": a name may resolve anywhere."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(listen: str, tokens: Tokens | None, insecure: bool) -> None:
    """Refuses an API reachable beyond this host without a token, unless asked for by name:
    anyone who reaches it could read the datasets and run programs (the command operation)."""
    host, _ = split_host_port(listen, "--listen")
    if is_loopback(host) or tokens is not None:
        return
    if not insecure:
        raise ValueError(
            f"--listen {listen} is reachable beyond this host, and no API token is set: "
            "give --token-file or --api-token-file (or $FEMTO_API_TOKEN), or --insecure "
            "to serve anyone"
        )
    log.warning("insecure: --listen %s serves every client without a token (--insecure)",
                listen)


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
    api_token: str | None = None  # one token, the admin's
    token_file: Path | None = None  # named tokens with roles (framework.auth)
    insecure: bool = False  # serve beyond loopback without a token
    role: str = "*"
    principal: str | None = None
    secret: str | None = None
    zk: str | None = None
    state_dir: Path = field(default_factory=default_state_dir)
    failover_timeout: float = WEEK
    launch_timeout: float = 60.0
    retry_backoff: float = 1.0
    locality_wait: float = 3.0
    limits: Limits = field(default_factory=Limits)
    data_roots: list[Path] = field(default_factory=list)  # where datasets may be registered
    zk_session_timeout: float = 10.0
    # The default is this interpreter, by absolute path: right wherever femto is installed
    # at the same place as here (the embedded cluster, or agents sharing the install).
    executor_command: str = field(
        default_factory=lambda: os.environ.get("FEMTO_EXECUTOR_COMMAND")
        or f"{shlex.quote(sys.executable)} -m femto.executor"
    )
    executor_uris: list[str] = field(default_factory=list)
    executor_environment: tuple[tuple[str, str], ...] = field(
        default_factory=lambda: executor_environment(os.environ)
    )


class Service:
    """The API always serves; the engine launches work only while this
    scheduler leads (at once without --zk, after an election with it)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.store: Store | None = None
        self.datasets: Datasets | None = None
        self.engine: Engine | None = None
        self.workflows: Workflows | None = None  # the engine's, replaced with it
        self.triggers: Triggers | None = None  # the engine's, watching while it leads
        # One stream across this process's terms as leader and standby: a client keeps
        # its place through an engine's replacement.
        self.events = EventLog()
        self.attempt_key = b""  # from the store, at start
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
        tokens = self._tokens()
        check_exposure(opts.listen, tokens, opts.insecure)
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
        self.datasets = Datasets(self.store, DataRoots(opts.data_roots), opts.limits)
        self.attempt_key = credentials.load_key(self.store)
        self._use(self._new_engine())
        app = create_app(self, tokens=tokens, attempt_key=self.attempt_key,
                         max_upload=opts.limits.upload_bytes, exposed=not is_loopback(host))
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
            # So that a scheduler that says it serves is healthy too (GET /health is a 503
            # until Mesos is connected); a master that is down does not hold start-up.
            if self.driver is not None:
                self.driver.wait_connected(FIRST_SUBSCRIBE_WAIT)
        self._spawn("femto-ticker", self._tick)
        self._wait_serving()

    def _tokens(self) -> Tokens | None:
        opts = self.options
        if opts.token_file is not None and opts.api_token:
            raise ValueError("give --token-file or a single API token, not both")
        if opts.token_file is not None:
            try:
                return Tokens.from_file(opts.token_file)
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read --token-file: {exc}") from exc
        return Tokens.single(opts.api_token) if opts.api_token else None

    def _new_engine(self) -> Engine:
        assert self.store is not None and self.datasets is not None
        opts = self.options
        return Engine(self.store, self.datasets, EngineConfig(
            executor=ExecutorSpec(
                command=opts.executor_command,
                environment=opts.executor_environment,
                uris=tuple(opts.executor_uris),
            ),
            api_url=self.url, attempt_key=self.attempt_key, limits=opts.limits,
            retry=RetryPolicy(backoff_base=opts.retry_backoff),
            launch_timeout=opts.launch_timeout, locality_wait=opts.locality_wait,
            mirrors=self._mirrors,
        ), events=self.events)

    def _use(self, engine: Engine) -> Workflows:
        """Serve with `engine` and workflows that run on it."""
        self.workflows = Workflows(engine)
        assert self.datasets is not None
        self.triggers = Triggers(engine, self.workflows, self.datasets)
        self.engine = engine
        return self.workflows

    # ----- leadership -----

    @property
    def is_leader(self) -> bool:
        return self._leading and (self.leadership is None or self.leadership.is_leader)

    def leader_url(self) -> str | None:
        if self.is_leader:
            return self.url
        return self.leadership.leader() if self.leadership else None

    def scheduler_urls(self) -> list[str]:
        """The contenders in the election (the leader first), or this scheduler alone."""
        if self.leadership is None:
            return [self.url]
        return self.leadership.contenders() or [self.url]

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
            self.events.new_term()
            engine = self._new_engine()
            engine.load()
            framework_id = self._framework_id()
            workflows = self._use(engine)
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
            # After the jobs: a workflow is re-decided from its step jobs as they are now.
            try:
                workflows.resume()
            except Exception:  # the ticker re-decides a workflow its step jobs touch
                log.exception("resuming workflows failed")
            assert self.triggers is not None
            self.triggers.start()  # after the workflows: a firing may submit one
            log.info("leading (epoch %s) as %s", epoch, self.url)

    def _halt(self) -> None:
        """ZooKeeper session suspended or lost: stop launching and writing at once."""
        self._leading = False
        if self.engine is not None:
            self.engine.halt()
        if self.triggers is not None:
            self.triggers.halt()
        self.events.new_term()

    def _step_down(self) -> None:
        assert self.store is not None
        with self._term_lock:
            self._halt()
            if self.triggers is not None:
                self.triggers.stop()  # its threads end before the next term's start
            driver, self.driver = self.driver, None
            if driver is not None:
                driver.stop(failover=True)  # tasks keep running for the next leader
            self.store.fence(None)
            self._use(self._new_engine())
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
            engine, workflows = self.engine, self.workflows
            if engine is None or not self.is_leader:
                continue
            try:
                engine.tick()
                if workflows is not None:
                    workflows.tick()
            except Halted:
                log.debug("deposed during a tick")
            except Exception:  # the ticker must outlive any one bad tick
                log.exception("engine tick failed")

    @property
    def mesos_connected(self) -> bool:
        return bool(self.driver and self.driver.connected)

    @property
    def health_problem(self) -> str | None:
        """Why this scheduler cannot do its work right now, or None (GET /health)."""
        embedded = self.local_mesos.problem if self.local_mesos is not None else None
        if embedded or self.problem:
            return embedded or self.problem
        if self.is_leader and not self.mesos_connected:
            return f"not connected to the Mesos master at {self.master}"
        return None

    def master_url(self) -> str | None:
        """The Mesos master this scheduler last subscribed to (None on a standby)."""
        driver = self.driver
        return driver.master_url if driver is not None else None

    def stop(self) -> None:
        """Stop serving; running tasks keep running (the framework fails over)."""
        self._stopping.set()
        self.events.close()  # open event streams end, so the server can stop
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
