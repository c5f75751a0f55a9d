"""Running a task's external program: the means of the `command` operation, whose
description (params, what its output means) is `jobs/operations/command.py`.

A program reads its stdin from a pipe and writes its stdout to one. It runs in its own
session (so in its own process group), and with a mark in its environment
(`MARK_VARIABLE`) that every descendant inherits, even one that starts its own session: on
cancellation or timeout the group and the marked processes get SIGTERM, then SIGKILL after
a grace period, and whatever the program left behind is killed when it finishes, so no
process outlives the task (see `mesosapi.reaping` for what a mark cannot catch).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from femto.executor.progress import ProgressFile, progress_file
from femto.executor.tasklog import TaskLog
from femto.jobs.operations.programs import (
    CommandCancelled,
    CommandError,
    CommandTimeout,
    ProgramOutput,
)
from mesosapi import reaping

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
POLL_SECONDS = 0.05
STDERR_TAIL_CHARS = 2000
# The environment variable that marks a program and its descendants; its value is this
# process's prefix and the run's own id, so one sweep can end every program run here.
MARK_VARIABLE = "FEMTO_TASK_MARK"
_MARK_PREFIX = f"{MARK_VARIABLE}={uuid.uuid4().hex}."


def run_program(
    argv: Sequence[str],
    stdin: bytes,
    *,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    grace: float = GRACE_SECONDS,
    stderr_log: Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> ProgramOutput:
    """Run argv on `stdin`; its output if it exits with status 0, else CommandError.

    With `stderr_log`, the program writes its stderr to the end of that file as it runs
    (so it can be followed), and the stderr tail returned or carried is what it wrote there.
    With `progress`, the program may write fractions to the file $FEMTO_PROGRESS_FILE
    names (femto.executor.progress), and `progress` gets each as the program runs.
    """
    mark = _MARK_PREFIX + uuid.uuid4().hex
    name, value = mark.split("=", 1)
    with _stderr_sink(stderr_log) as (sink, written), \
            progress_file(progress) as (progress_env, reported):
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if sink is None else sink,
                start_new_session=True,
                env={**os.environ, **progress_env, name: value},
            )
        except OSError as exc:
            message = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
            raise CommandError(message, None, "") from exc
        try:
            return _supervise(proc, argv, stdin, timeout, cancel, grace, written, mark,
                              reported)
        finally:
            # What left the group (setsid, a double fork) still carries the mark.
            reaping.kill_marked(mark)


def end_all_programs() -> list[int]:
    """SIGKILLs every program `run_program` started in this process, and their descendants,
    wherever they went; for an executor's last moments, when worker threads may still be
    supervising programs. Returns the pids that could not be ended."""
    return reaping.kill_marked(_MARK_PREFIX, prefix=True)


@contextlib.contextmanager
def _stderr_sink(
    path: Path | None,
) -> Iterator[tuple[IO[bytes] | None, Callable[[bytes | None], bytes]]]:
    """The file a program's stderr goes to (None: a pipe), and what gives its stderr after."""
    if path is None:
        yield None, lambda piped: piped or b""
        return
    with path.open("ab") as sink:
        start = sink.tell()

        def written(piped: bytes | None) -> bytes:
            with path.open("rb") as f:
                end = f.seek(0, os.SEEK_END)
                # Only the tail is ever shown: its characters are at most 4 bytes each.
                f.seek(max(start, end - 4 * STDERR_TAIL_CHARS))
                return f.read()

        yield sink, written


def _supervise(
    proc: subprocess.Popen[bytes],
    argv: Sequence[str],
    stdin: bytes,
    timeout: float | None,
    cancel: threading.Event | None,
    grace: float,
    written: Callable[[bytes | None], bytes],
    mark: str,
    reported: ProgressFile | None = None,
) -> ProgramOutput:
    logger.debug("started %s as pid %d", list(argv), proc.pid)
    deadline = None if timeout is None else time.monotonic() + timeout
    # A thread feeds stdin: communicate() retried after a timeout stops writing
    # the rest of its input (CPython registers stdin only on the first call).
    pipe, proc.stdin = proc.stdin, None
    writer = threading.Thread(target=_feed, args=(pipe, stdin), daemon=True)
    writer.start()
    try:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if reported is not None:
                reported.poll()
            if proc.poll() is not None:
                # The program is done: whatever it left still holds the pipes open is a
                # leftover helper; end it so that the pipes reach EOF.
                _signal_group(proc.pid, signal.SIGKILL)
                reaping.signal_marked(mark, signal.SIGKILL)
            if cancel is not None and cancel.is_set():
                _, stderr = _stop(proc, grace, mark)
                raise CommandCancelled(
                    f"{argv[0]!r} was cancelled", proc.returncode, _tail(written(stderr))
                )
            if deadline is not None and time.monotonic() >= deadline:
                _, stderr = _stop(proc, grace, mark)
                raise CommandTimeout(
                    f"{argv[0]!r} timed out after {timeout} s",
                    proc.returncode,
                    _tail(written(stderr)),
                )
    finally:
        if proc.returncode is None:
            # Only reached on an unexpected error (e.g. KeyboardInterrupt): still leave nothing.
            _stop(proc, 0.0, mark)
        # Helpers the program left running in its group would be orphans: end them too.
        # The group id cannot have been reused while any of its members is alive.
        _signal_group(proc.pid, signal.SIGKILL)
        writer.join()
    stderr = written(stderr)
    if proc.returncode != 0:
        raise CommandError(
            f"{argv[0]!r} {_describe_exit(proc.returncode)}", proc.returncode, _tail(stderr)
        )
    return ProgramOutput(stdout, _tail(stderr))


def _stop(proc: subprocess.Popen[bytes], grace: float, mark: str) -> tuple[bytes, bytes]:
    """SIGTERM the program's group and marked processes, SIGKILL them after `grace` seconds;
    reap the program."""
    _signal_group(proc.pid, signal.SIGTERM)
    reaping.signal_marked(mark, signal.SIGTERM)
    try:
        return proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        logger.debug("pid %d outlived SIGTERM by %.1f s, sending SIGKILL", proc.pid, grace)
    _signal_group(proc.pid, signal.SIGKILL)
    reaping.signal_marked(mark, signal.SIGKILL)
    try:
        return proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        # A process neither group nor mark reaches (it cleared its environment) still
        # holds the pipes open: stop reading them.
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        return b"", b""


def _feed(pipe: IO[bytes] | None, data: bytes) -> None:
    """Write the whole input, then close it so the program sees EOF."""
    if pipe is None:
        return
    # The program may exit (or close stdin) without reading it all.
    with contextlib.suppress(BrokenPipeError, OSError), pipe:
        pipe.write(data)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _tail(stderr: bytes) -> str:
    return stderr.decode("utf-8", errors="replace")[-STDERR_TAIL_CHARS:].strip()


@dataclass(frozen=True)
class TaskPrograms:
    """The ProgramRunner one task's operation gets: its programs stop when the task is
    killed (`cancel`), and write their stderr to the task's own log as they run."""

    cancel: threading.Event
    task_log: TaskLog | None = None
    grace: float = GRACE_SECONDS
    progress: Callable[[float], None] | None = None  # the program's own, 0..1

    def run(self, argv: Sequence[str], stdin: bytes, timeout: float | None) -> ProgramOutput:
        stderr_log = None
        if self.task_log is not None:
            self.task_log.keep()  # the program's stderr goes to the task's log as it runs
            stderr_log = self.task_log.stderr
        return run_program(argv, stdin, timeout=timeout, cancel=self.cancel, grace=self.grace,
                           stderr_log=stderr_log, progress=self.progress)
