"""`--master local`: the embedded Mesos (`python -m localmesos`) as a child process.

A process of its own, not threads in the scheduler's: the master and agents serve
several HTTP calls for every task, and in one interpreter they took the GIL from the
engine and the API (a POST /v1/jobs spent most of its time waiting for it).
"""

from __future__ import annotations

import contextlib
import logging
import select
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0  # the cluster shuts its executors down (SHUTDOWN, then SIGTERM/SIGKILL)
RESTART_BACKOFF_MAX = 30.0


class EmbeddedMesos:
    """A single-node Mesos with `agents` agents, running until `stop()` or until this
    process dies: it watches its standard input, which only this process holds.

    Supervised: if it dies, it is started again on the same address, so the scheduler's
    driver re-subscribes there; the tasks it ran died with it, and reconciliation with the
    new cluster has femto retry them as infrastructure faults. `problem` says why it is
    down meanwhile (for /health)."""

    def __init__(self, agents: int, cpus: float, mem: float, work_dir: Path,
                 update_retry: float) -> None:
        self.argv = [
            sys.executable, "-m", "localmesos",
            "--agents", str(agents), "--cpus", str(cpus), "--mem", str(mem),
            "--work-dir", str(work_dir), "--update-retry", str(update_retry), "--stop-on-eof",
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self.address = ""
        self.problem: str | None = None
        self.restarts = 0

    def start(self) -> None:
        """Starts the child; `wait_ready` returns once it serves."""
        self._process = self._spawn("127.0.0.1:0")

    def _spawn(self, listen: str) -> subprocess.Popen[bytes]:
        # Its own session: a Ctrl-C meant for the scheduler must not stop the cluster
        # under it; the scheduler stops it after its driver.
        return subprocess.Popen(
            [*self.argv, "--listen", listen], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        """The master's HOST:PORT, once it serves (it prints its URL then); from then on
        the cluster is supervised."""
        process = self._process
        assert process is not None, "start() first"
        self.address = _ready_address(process, timeout)
        self._supervisor = threading.Thread(target=self._supervise, args=(process,),
                                            name="embedded-mesos-supervisor", daemon=True)
        self._supervisor.start()
        return self.address

    def _supervise(self, process: subprocess.Popen[bytes]) -> None:
        failures = 0
        while True:
            code = process.wait()
            if self._stopping.is_set():
                return
            failures += 1
            self.problem = (f"the embedded Mesos (pid {process.pid}) exited with {code}; "
                            f"restarting it on {self.address}")
            log.error(self.problem)
            _close(process)
            if self._stopping.wait(min(RESTART_BACKOFF_MAX, 0.5 * 2 ** (failures - 1))):
                return
            with self._lock:  # so that stop() either prevents this start or stops it
                if self._stopping.is_set():
                    return
                process = self._process = self._spawn(self.address)
            try:
                _ready_address(process, START_TIMEOUT)
            except RuntimeError as exc:
                self.problem = f"the embedded Mesos would not start again: {exc}"
                log.error(self.problem)
                continue  # its exit is waited for above, and retried with more backoff
            failures = 0
            self.restarts += 1
            self.problem = None
            log.warning("the embedded Mesos is serving again on %s", self.address)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Closing its standard input stops it; SIGKILL if it has not exited in time."""
        with self._lock:
            self._stopping.set()
            process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("embedded Mesos pid %d did not stop within %.0fs; killing it",
                      process.pid, timeout)
            process.kill()
            process.wait()
        _close(process)
        if self._supervisor is not None:
            self._supervisor.join(timeout)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None


def _ready_address(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The HOST:PORT the child prints once it serves; RuntimeError if it does not."""
    assert process.stdout is not None
    if not select.select([process.stdout], [], [], timeout)[0]:
        raise RuntimeError(f"the embedded Mesos did not start within {timeout:.0f}s")
    line = process.stdout.readline()  # one flushed line, or nothing at its exit
    if not line.endswith(b"\n"):
        raise RuntimeError(f"the embedded Mesos exited with {process.wait()} on start "
                           "(its error is on stderr)")
    return line.decode().strip().split("://", 1)[-1]


def _close(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
