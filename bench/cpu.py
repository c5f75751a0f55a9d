"""CPU seconds spent by this process and every process below it: the same meter for femto
(scheduler, embedded master and agents, executors) and for its peers (Pool or Dask workers)."""

from __future__ import annotations

import psutil


def _seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def tree_cpu_seconds() -> float:
    """User and system CPU of this process and its live descendants. A child that exited
    is not counted, so callers read it around work that starts and stops no process."""
    me = psutil.Process()
    total = _seconds(me)
    for child in me.children(recursive=True):
        try:
            total += _seconds(child)
        except psutil.NoSuchProcess:
            continue
    return total
