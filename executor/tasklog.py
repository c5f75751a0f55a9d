"""Each task's own log files in the executor's sandbox: `tasks/<task id>/stdout` and `stderr`.

One executor runs many tasks at once, so the sandbox's own stdout and stderr (the executor's)
interleave them all. A task's `stdout` records what femto did with it (started, outcome);
its `stderr` gets the stderr of the program a `command` runs, as it runs, and the error and
traceback of a failure. The agent serves both through its files API (`femto logs`).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

TASKS_DIR = "tasks"
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


class TaskLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stdout = directory / "stdout"
        self.stderr = directory / "stderr"

    @classmethod
    def open(cls, sandbox: Path, task_id: str) -> TaskLog | None:
        """The task's log in `sandbox`, its files created empty; None if it cannot be made.

        A log is a convenience: a sandbox that cannot take it must not fail the task.
        """
        if task_id in ("", ".", "..") or "/" in task_id:
            return None  # Mesos refuses such ids; never let one name a path elsewhere
        task_log = cls(sandbox / TASKS_DIR / task_id)
        # Plain os calls: every task pays for these, and pathlib's cost twice as much CPU.
        try:
            try:
                os.mkdir(task_log.directory)
            except FileNotFoundError:
                os.makedirs(task_log.directory, exist_ok=True)
            except FileExistsError:
                pass  # the same task id launched again
            os.close(os.open(task_log.stderr, _APPEND, 0o644))
        except OSError as exc:
            log.warning("no log files for task %s in %s: %s", task_id, sandbox, exc)
            return None
        return task_log

    def note(self, text: str) -> None:
        """A line in the task's stdout, stamped with the time (UTC)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._append(self.stdout, f"{stamp} {text}\n")

    def error(self, text: str) -> None:
        self._append(self.stderr, text if text.endswith("\n") else text + "\n")

    def _append(self, path: Path, text: str) -> None:
        try:
            fd = os.open(path, _APPEND, 0o644)
            try:
                os.write(fd, text.encode("utf-8", errors="replace"))
            finally:
                os.close(fd)
        except OSError as exc:
            log.debug("cannot write %s: %s", path, exc)
