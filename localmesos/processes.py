"""Child processes in their own process group that die with this process, and their orderly
termination.

What a child leaves behind dies with it too: everything it starts inherits the sandbox in its
environment (MESOS_SANDBOX), so once it exits, the processes that still carry that sandbox
(a `setsid` or double-forked descendant, outside its group) are killed. This is the part a
real agent gets from its launcher: the Linux launcher's cgroups hold every process of a
container; the posix launcher kills only the session and process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from localmesos.watchdog import Watchdog
from mesosapi import reaping

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded in the parent: the child of a threaded process should do as little as possible.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGKILL when its parent dies (Linux)."""

    def preexec() -> None:
        if _LIBC is not None and _LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # The parent may have died before prctl took effect: no signal would come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


async def spawn(
    argv: Sequence[str],
    *,
    executable: str | None,
    cwd: Path,
    env: Mapping[str, str],
    watchdog: Watchdog,
) -> asyncio.subprocess.Process:
    """Starts `argv` in a new session (its own process group), stdout/stderr to files in `cwd`.

    The child dies with this process: the kernel SIGKILLs it when the *thread* that
    forked it exits, so call this only from a thread that lives as long as the child
    (localmesos' event-loop thread); the watchdog kills the rest of its group (what
    `/bin/sh -c` forked). Wait for it with `wait_group`.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "stdout", "ab") as out, open(cwd / "stderr", "ab") as err:
        process = await asyncio.create_subprocess_exec(
            *argv,
            executable=executable,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=_die_with(os.getpid()),
        )
    watchdog.watch(process.pid, sandbox_mark(cwd))
    return process


def sandbox_mark(sandbox: Path) -> str:
    """The environment entry every process of a sandbox's container inherits."""
    return f"MESOS_SANDBOX={sandbox}"


async def wait_group(
    process: asyncio.subprocess.Process, watchdog: Watchdog, sandbox: Path
) -> int:
    """Waits for a process spawned in `sandbox` to exit; then SIGKILLs what is left of its
    group and every process that still carries its sandbox."""
    returncode = await process.wait()
    signal_group(process.pid, signal.SIGKILL)
    mark = sandbox_mark(sandbox)
    left = await asyncio.to_thread(reaping.kill_marked, mark)
    if left:
        log.error("pids %s of the container in %s outlived SIGKILL", left, sandbox)
    watchdog.forget(process.pid, mark)
    return returncode


def command_argv(command: dict[str, Any]) -> tuple[list[str], str | None]:
    """argv and executable for a CommandInfo: `shell` (default true) runs `value` via /bin/sh -c."""
    value = command.get("value")
    if not isinstance(value, str) or not value:
        raise ValueError("CommandInfo.value must be a non-empty string")
    if command.get("shell", True):
        return ["/bin/sh", "-c", value], None
    arguments = command.get("arguments") or [value]
    if not all(isinstance(a, str) for a in arguments):
        raise ValueError("CommandInfo.arguments must be strings")
    return list(arguments), value


def signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


async def terminate(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM to the process group, SIGKILL after `grace` s; then SIGKILL any leftover member."""
    if process.returncode is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            log.debug("pid %d ignored SIGTERM for %.1fs: SIGKILL", process.pid, grace)
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    signal_group(process.pid, signal.SIGKILL)
