"""Finding and ending every process that carries a mark in its environment.

A mark is an environment entry (`NAME=VALUE`) a program is started with. Every descendant
inherits it, whichever session or process group it moves to and whoever adopts it, so a
sweep of /proc finds what a process-group kill misses (`setsid`, double forks). Chosen over
a cgroup because it needs no privilege nor delegated hierarchy (this machine kind mounts
cgroup2 only beside v1, at /sys/fs/cgroup/unified, with no controllers), and over
PR_SET_CHILD_SUBREAPER because it names the task, not just the ancestor, and leaves the
reaping of adopted orphans to init. What it cannot see: a program that clears or rewrites
its environment at exec (`env -i`), or one whose /proc entry its owner may not read.

Process hygiene for executors and agents (DESIGN.md, "Executor hygiene"), so it sits with
the executor driver; it knows nothing of femto. Standard library only: localmesos' watchdog
loads this file by itself under `python -I`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

SWEEP_PAUSE = 0.01  # seconds between sweeps while marked processes are dying


def _carries(pid: int, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except OSError:  # gone, a zombie's is empty, or not ours to read
        return False
    return needle in b"\0" + environ


def signal_marked(mark: str, signum: signal.Signals, *, prefix: bool = False) -> list[int]:
    """Sends `signum` to every other process whose environment holds the entry `mark`
    (with `prefix`, any entry that starts with it); returns their pids."""
    needle = b"\0" + mark.encode() + (b"" if prefix else b"\0")
    me = os.getpid()
    hit = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            # A pidfd taken before the environment is read: the signal reaches the process
            # that was read, never one that took its pid after it exited.
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if _carries(pid, needle):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(fd, signum)
                hit.append(pid)
        finally:
            os.close(fd)
    return hit


def kill_marked(mark: str, *, prefix: bool = False, timeout: float = 5.0) -> list[int]:
    """SIGKILLs the marked processes until a sweep finds none (one may fork while it is
    swept) or `timeout` seconds pass; returns the pids still marked at the end."""
    deadline = time.monotonic() + timeout
    while True:
        left = signal_marked(mark, signal.SIGKILL, prefix=prefix)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(SWEEP_PAUSE)
