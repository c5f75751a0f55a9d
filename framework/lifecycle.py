"""Job and task state machines: the states and every legal transition."""

from __future__ import annotations

from enum import StrEnum


class InvalidTransition(Exception):
    pass


class JobState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TaskState(StrEnum):
    PENDING = "PENDING"  # waiting for an offer (or for its retry backoff to pass)
    LAUNCHING = "LAUNCHING"  # accepted into an offer, not yet reported running
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"  # out of retries
    KILLED = "KILLED"  # its job was cancelled or failed


JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.FINISHED, JobState.FAILED, JobState.CANCELLED}),
    JobState.FINISHED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # PENDING -> FINISHED: an attempt given up for lost reports success after all.
    TaskState.PENDING: frozenset({TaskState.LAUNCHING, TaskState.FINISHED, TaskState.KILLED}),
    # An update for a launch may arrive without RUNNING before it (FINISHED
    # straight away), and any live attempt can fail back to PENDING for a retry.
    TaskState.LAUNCHING: frozenset(
        {TaskState.RUNNING, TaskState.FINISHED, TaskState.PENDING, TaskState.FAILED,
         TaskState.KILLED}
    ),
    TaskState.RUNNING: frozenset(
        {TaskState.FINISHED, TaskState.PENDING, TaskState.FAILED, TaskState.KILLED}
    ),
    TaskState.FINISHED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.KILLED: frozenset(),
}

TERMINAL_JOB_STATES = frozenset(s for s, nxt in JOB_TRANSITIONS.items() if not nxt)
TERMINAL_TASK_STATES = frozenset(s for s, nxt in TASK_TRANSITIONS.items() if not nxt)


def job_transition(current: JobState, new: JobState) -> JobState:
    if new not in JOB_TRANSITIONS[current]:
        raise InvalidTransition(f"job cannot go from {current} to {new}")
    return new


def task_transition(current: TaskState, new: TaskState) -> TaskState:
    if new not in TASK_TRANSITIONS[current]:
        raise InvalidTransition(f"task cannot go from {current} to {new}")
    return new
