"""Mesos v1 HTTP API drivers: RecordIO, scheduler driver, executor driver, master detection.

Knows nothing of femto; pymesos-style callback names so pymesos users feel at home.
"""

from mesosapi.errors import CallError, MesosError, NotConnected, RecordIOError
from mesosapi.executor import Executor, MesosExecutorDriver
from mesosapi.scheduler import MesosSchedulerDriver, Scheduler

__all__ = [
    "CallError",
    "Executor",
    "MesosError",
    "MesosExecutorDriver",
    "MesosSchedulerDriver",
    "NotConnected",
    "RecordIOError",
    "Scheduler",
]
