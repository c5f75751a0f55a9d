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
from pathlib import Path

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0  # the cluster shuts its executors down (SHUTDOWN, then SIGTERM/SIGKILL)


class EmbeddedMesos:
    """A single-node Mesos with `agents` agents, running until `stop()` or until this
    process dies: it watches its standard input, which only this process holds."""

    def __init__(self, agents: int, cpus: float, mem: float, work_dir: Path,
                 update_retry: float) -> None:
        self.argv = [
            sys.executable, "-m", "localmesos", "--listen", "127.0.0.1:0",
            "--agents", str(agents), "--cpus", str(cpus), "--mem", str(mem),
            "--work-dir", str(work_dir), "--update-retry", str(update_retry), "--stop-on-eof",
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self) -> None:
        """Starts the child; `wait_ready` returns once it serves."""
        # Its own session: a Ctrl-C meant for the scheduler must not stop the cluster
        # under it; the scheduler stops it after its driver.
        self._process = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        """The master's HOST:PORT, once it serves (it prints its URL then)."""
        process = self._process
        assert process is not None and process.stdout is not None, "start() first"
        if not select.select([process.stdout], [], [], timeout)[0]:
            raise RuntimeError(f"the embedded Mesos did not start within {timeout:.0f}s")
        line = process.stdout.readline()  # one flushed line, or nothing at its exit
        if not line.endswith(b"\n"):
            raise RuntimeError(f"the embedded Mesos exited with {process.wait()} on start "
                               "(its error is on stderr)")
        self.address = line.decode().strip().split("://", 1)[-1]
        return self.address

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Closing its standard input stops it; SIGKILL if it has not exited in time."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("embedded Mesos pid %d did not stop within %.0fs; killing it",
                      process.pid, timeout)
            process.kill()
            process.wait()
        process.stdout.close()
