"""Leader election among femto schedulers through ZooKeeper (kazoo).

Every scheduler contends; the leader holds an epoch, a counter raised in
ZooKeeper at each election, which fences the store: a deposed leader's writes
are refused once a newer leader exists. A leader whose session is suspended
or lost steps down at once, before it knows whether the session survives, and
contends again once ZooKeeper is back.

ZooKeeper layout under the chroot path (`--zk HOSTS/PATH`):
  election/      kazoo Election contenders; their identifier is the API URL
  epoch          leadership epoch counter
  framework_id   the Mesos framework id, shared by successive leaders
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import CancelledError, KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.recipe.election import Election

log = logging.getLogger(__name__)

CONTENDERS_TTL = 1.0


class Role(StrEnum):
    STANDBY = "STANDBY"  # contending, or waiting for ZooKeeper
    LEADING = "LEADING"
    STEPPING_DOWN = "STEPPING_DOWN"  # session suspended or lost: stop acting now


ROLE_TRANSITIONS: dict[Role, frozenset[Role]] = {
    Role.STANDBY: frozenset({Role.LEADING}),
    Role.LEADING: frozenset({Role.STEPPING_DOWN}),
    Role.STEPPING_DOWN: frozenset({Role.STANDBY}),
}


def parse_zk(spec: str) -> tuple[str, str]:
    """`HOSTS/PATH` (a `zk://` prefix allowed) -> (hosts, base path)."""
    spec = spec.removeprefix("zk://")
    hosts, sep, path = spec.partition("/")
    if not hosts or not sep or not path.strip("/"):
        raise ValueError(f"--zk {spec!r} must be HOSTS/PATH, e.g. 127.0.0.1:2181/femto")
    return hosts, "/" + path.strip("/")


class Leadership:
    def __init__(
        self,
        zk: str,
        identifier: str,
        *,
        on_elected: Callable[[int], None],
        on_deposed: Callable[[], None],
        on_suspended: Callable[[], None],
        session_timeout: float = 10.0,
    ) -> None:
        hosts, self.base = parse_zk(zk)
        self.identifier = identifier
        self.client = KazooClient(hosts=hosts, timeout=session_timeout)
        self.client.add_listener(self._on_state)
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._on_suspended = on_suspended
        self.role = Role.STANDBY
        self._role_lock = threading.Lock()
        self._lost = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._contend, name="femto-election", daemon=True)
        self._election: Election | None = None
        self._contenders: list[str] = []
        self._contenders_at = -CONTENDERS_TTL

    def start(self) -> None:
        self.client.start(timeout=30)
        self.client.ensure_path(self.base)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._lost.set()
        election = self._election
        if election is not None:
            election.cancel()  # a standby waits inside the election's lock
        self._thread.join(timeout=30)
        self.client.stop()
        self.client.close()

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADING

    def contenders(self) -> list[str]:
        """Every scheduler's identifier (API URL), the leader first; cached for a second
        because the API asks on every redirect and the engine on every launch."""
        now = time.monotonic()
        if now - self._contenders_at > CONTENDERS_TTL:
            try:
                found = self.client.Election(f"{self.base}/election").contenders()
            except (KazooException, KazooTimeoutError):
                found = []
            self._contenders, self._contenders_at = list(found), now
        return self._contenders

    def leader(self) -> str | None:
        """The identifier (API URL) of the current leader, as ZooKeeper says."""
        contenders = self.contenders()
        return contenders[0] if contenders else None

    def framework_id(self) -> str | None:
        try:
            data, _ = self.client.get(f"{self.base}/framework_id")
        except NoNodeError:
            return None
        return data.decode() or None

    def record_framework_id(self, framework_id: str) -> None:
        path = f"{self.base}/framework_id"
        self.client.ensure_path(path)
        self.client.set(path, framework_id.encode())

    # ----- internals -----

    def _move(self, role: Role) -> None:
        with self._role_lock:
            if role not in ROLE_TRANSITIONS[self.role]:
                raise RuntimeError(f"leadership cannot go from {self.role} to {role}")
            self.role = role
        log.info("leadership: %s", role.value)

    def _on_state(self, state: str) -> None:
        # Runs on kazoo's connection thread: only flip flags, never block.
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            log.warning("ZooKeeper session %s", state.lower())
            self._lost.set()
            with self._role_lock:
                leading = self.role is Role.LEADING
            if leading:
                self._on_suspended()

    def _contend(self) -> None:
        while not self._stopping.is_set():
            try:
                self._wait_connected()
                self._lost.clear()
                self._election = self.client.Election(f"{self.base}/election", self.identifier)
                if not self._stopping.is_set():
                    self._election.run(self._lead)
            except CancelledError:
                return
            except (KazooException, KazooTimeoutError) as exc:
                log.info("election interrupted (%s); contending again", exc)
                self._stopping.wait(0.5)
            except Exception:  # e.g. the store was down when taking over: try again
                log.exception("taking the lead failed; contending again")
                self._stopping.wait(1.0)

    def _wait_connected(self) -> None:
        while not self._stopping.is_set() and not self.client.connected:
            self._stopping.wait(0.1)

    def _lead(self) -> None:
        if self._lost.is_set() or self._stopping.is_set():
            return
        counter = self.client.Counter(f"{self.base}/epoch")
        counter += 1
        epoch = int(counter.value)
        self._move(Role.LEADING)
        try:
            self._on_elected(epoch)
            self._lost.wait()
        finally:
            self._move(Role.STEPPING_DOWN)
            self._on_deposed()
            self._move(Role.STANDBY)
