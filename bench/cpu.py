"""CPU seconds spent by this process and every process below it: the same meter for femto
(scheduler, embedded master and agents, executors) and for its peers (Pool or Dask workers),
kept apart by role so a miss can be traced to the process that spends it."""

from __future__ import annotations

import psutil


def _role(process: psutil.Process) -> str:
    """'this process', else the module a child runs (`python -m X`) or its program name."""
    if process.pid == psutil.Process().pid:
        return "this process"
    argv = process.cmdline()
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1]
    return process.name()


def tree_cpu_seconds() -> dict[str, float]:
    """User and system CPU of this process and its live descendants, summed by role. A
    child that exited is not counted, so callers read it around work that starts and
    stops no process."""
    me = psutil.Process()
    totals: dict[str, float] = {}
    for process in [me, *me.children(recursive=True)]:
        try:
            times, role = process.cpu_times(), _role(process)
        except psutil.NoSuchProcess:
            continue
        totals[role] = totals.get(role, 0.0) + times.user + times.system
    return totals


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each role spent between two readings."""
    return {role: after[role] - before.get(role, 0.0) for role in after}
