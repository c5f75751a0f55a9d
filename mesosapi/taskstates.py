"""Mesos's TaskState (include/mesos/v1/mesos.proto), one enum for every side of femto.

The values are the proto names, as TaskStatus.state carries them in JSON, so a member
compares equal to the string off the wire."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    ERROR = "TASK_ERROR"
    LOST = "TASK_LOST"
    DROPPED = "TASK_DROPPED"
    GONE = "TASK_GONE"
    GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    UNREACHABLE = "TASK_UNREACHABLE"
    UNKNOWN = "TASK_UNKNOWN"


# mesos.proto: TASK_UNREACHABLE and TASK_UNKNOWN are not terminal; the task may come back.
TERMINAL = frozenset({
    TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED, TaskState.ERROR, TaskState.LOST,
    TaskState.DROPPED, TaskState.GONE, TaskState.GONE_BY_OPERATOR,
})
# A task in one of these may still be using its agent's resources.
LIVE = frozenset({TaskState.STAGING, TaskState.STARTING, TaskState.RUNNING, TaskState.KILLING})


def task_state(name: str) -> TaskState:
    """Parses a TaskState name; raises ValueError naming an unknown one."""
    try:
        return TaskState(name)
    except ValueError:
        raise ValueError(f"unknown task state {name!r}") from None
