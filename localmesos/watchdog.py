"""A helper process that SIGKILLs the executors' containers if the process hosting
localmesos dies without stopping them (SIGKILL, a crash).

The kernel's parent-death signal (see `processes.spawn`) only reaches the process
localmesos started, which is often `/bin/sh -c ...`; the executor the shell
forked would live on, and so would what it started in sessions of its own. So
every process group localmesos starts is registered here with its container's
mark (`+PGID MARK` / `-PGID MARK` lines on the watchdog's stdin; see `reaping`);
when the pipe reaches EOF the host is gone (or stopped) and the watchdog kills
every group still registered and every process that carries one of their marks.

Run as a script with `python -I`, so it imports only the standard library and the
file `mesosapi/reaping.py` (the packages would pull in the web stack, and this folder's
`http.py` would shadow the standard one).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)


class Watchdog:
    """The host side: starts the helper and registers process groups with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Its own session: a Ctrl-C meant for the host must not kill the watchdog first.
        self._process = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def watch(self, pgid: int, mark: str) -> None:
        self._send(f"+{pgid} {mark}\n")

    def forget(self, pgid: int, mark: str) -> None:
        self._send(f"-{pgid} {mark}\n")

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the helper; it kills the groups still registered, if any."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("orphan watchdog pid %d did not exit within %.0fs", process.pid, timeout)
            process.kill()
            process.wait()

    def _send(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._process.stdin is None:
                raise RuntimeError("the orphan watchdog is not running")
            try:
                self._process.stdin.write(line.encode())
                self._process.stdin.flush()
            except BrokenPipeError:
                log.error(
                    "orphan watchdog pid %d is gone (exit %s): process group %s is unguarded",
                    self._process.pid,
                    self._process.poll(),
                    line[1:].strip(),
                )


def _load_reaping() -> ModuleType:
    """mesosapi/reaping.py by its path: importing the mesosapi package would pull in httpx."""
    path = Path(__file__).resolve().parent.parent / "mesosapi" / "reaping.py"
    spec = importlib.util.spec_from_file_location("reaping", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    reaping = _load_reaping()

    containers: set[tuple[int, str]] = set()
    for line in sys.stdin:
        pgid, mark = line[1:].rstrip("\n").split(" ", 1)
        if line.startswith("+"):
            containers.add((int(pgid), mark))
        else:
            containers.discard((int(pgid), mark))
    for pgid, _ in containers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for _, mark in containers:
        reaping.kill_marked(mark)


if __name__ == "__main__":
    main()
