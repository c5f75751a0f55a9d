"""Each task's own log files in the executor's sandbox: `tasks/<task id>/stdout` and `stderr`.

One executor runs many tasks at once, so the sandbox's own stdout and stderr (the executor's)
interleave them all. A task's `stderr` gets the stderr of the program it runs (a `command`),
as it runs, and the error and traceback of a failure; its `stdout` records what femto did
with it (started, and how it ended). The agent serves both through its files API (`femto
logs`).

Only tasks with something to tell keep a log: those that run a program, and those that
fail. A task that computes in-process and succeeds writes nothing: at a thousand tasks a
second, three new files each cost more than the task (up to 1.7 ms of kernel time apiece on
a busy disk).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

TASKS_DIR = "tasks"
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class TaskLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stdout = directory / "stdout"
        self.stderr = directory / "stderr"
        self.kept = False
        self._start: tuple[float, str] | None = None

    @classmethod
    def for_task(cls, sandbox: Path, task_id: str) -> TaskLog | None:
        """The task's log in `sandbox` (nothing is written yet); None for an id that is not
        one path component."""
        if task_id in ("", ".", "..") or "/" in task_id:
            return None  # Mesos refuses such ids; never let one name a path elsewhere
        return cls(sandbox / TASKS_DIR / task_id)

    def started(self, description: str) -> None:
        """The task began (its line is written if the log is kept)."""
        self._start = (time.time(), description)

    def keep(self) -> None:
        """Make the log's files now, beginning with the start line; a task that runs a
        program calls this before the program starts, so its stderr has a place to go."""
        if self.kept:
            return
        self.kept = True
        start = b""
        if self._start is not None:
            at, description = self._start
            start = f"{_stamp(at)} {description}: started\n".encode()
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._write(self.stdout, start)
            self._write(self.stderr, b"")
        except OSError as exc:
            # A log is a convenience: a sandbox that cannot take it must not fail the task.
            log.warning("no log files in %s: %s", self.directory, exc)

    def error(self, text: str) -> None:
        """Text for the task's stderr (its failure); keeps the log."""
        self.keep()
        self._append(self.stderr, text if text.endswith("\n") else text + "\n")

    def ended(self, text: str) -> None:
        """How the task ended, for its stdout, when the log is kept."""
        if self.kept:
            self._append(self.stdout, f"{_stamp(time.time())} {text}\n")

    def _append(self, path: Path, text: str) -> None:
        try:
            self._write(path, text.encode("utf-8", errors="replace"))
        except OSError as exc:
            log.debug("cannot write %s: %s", path, exc)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        fd = os.open(path, _APPEND, 0o644)
        try:
            if data:
                os.write(fd, data)
        finally:
            os.close(fd)
