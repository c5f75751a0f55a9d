"""The life of one task inside the executor, as an explicit state machine.

QUEUED -> STARTED -> RUNNING -> FINISHED | FAILED | LOST, and KILL from anywhere not
terminal. STARTED is a task whose worker has begun but whose TASK_RUNNING is held back for a
moment: a task that ends within it sends its terminal update alone, which halves the updates
(and the acknowledgements through the master) of short tasks. A KILL of a started or running
task goes through KILLING: the task is asked to stop and whatever it still produces is
dropped; it becomes KILLED when its worker returns or its kill grace period runs out,
whichever comes first. Only entering a state sends a status update, and a terminal state has
no way out, so each task gets exactly one terminal update.
"""

from __future__ import annotations

from enum import Enum

from mesosapi.taskstates import TaskState as MesosTaskState


class TaskState(Enum):
    QUEUED = "QUEUED"
    STARTED = "STARTED"  # working; TASK_RUNNING not sent yet
    RUNNING = "RUNNING"
    KILLING = "KILLING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    LOST = "LOST"  # femto's API was unreachable: the task can run again elsewhere
    KILLED = "KILLED"


class TaskEvent(Enum):
    START = "START"  # a worker picked the task up
    REPORT = "REPORT"  # the task has worked long enough to be reported running
    KILL = "KILL"  # the scheduler or a shutdown asked for the task to stop
    FINISHED = "FINISHED"  # the worker returned: the work succeeded
    FAILED = "FAILED"  # the worker returned: the work failed
    LOST = "LOST"  # the worker returned: it could not reach femto's API
    STOPPED = "STOPPED"  # the worker returned: it noticed the cancellation and stopped
    GRACE_EXPIRED = "GRACE_EXPIRED"  # a killed task's worker did not return in time


TRANSITIONS: dict[tuple[TaskState, TaskEvent], TaskState] = {
    (TaskState.QUEUED, TaskEvent.START): TaskState.STARTED,
    (TaskState.QUEUED, TaskEvent.KILL): TaskState.KILLED,
    (TaskState.STARTED, TaskEvent.REPORT): TaskState.RUNNING,
    (TaskState.STARTED, TaskEvent.KILL): TaskState.KILLING,
    (TaskState.STARTED, TaskEvent.FINISHED): TaskState.FINISHED,
    (TaskState.STARTED, TaskEvent.FAILED): TaskState.FAILED,
    (TaskState.STARTED, TaskEvent.LOST): TaskState.LOST,
    (TaskState.STARTED, TaskEvent.STOPPED): TaskState.KILLED,
    (TaskState.RUNNING, TaskEvent.KILL): TaskState.KILLING,
    (TaskState.RUNNING, TaskEvent.FINISHED): TaskState.FINISHED,
    (TaskState.RUNNING, TaskEvent.FAILED): TaskState.FAILED,
    (TaskState.RUNNING, TaskEvent.LOST): TaskState.LOST,
    (TaskState.RUNNING, TaskEvent.STOPPED): TaskState.KILLED,
    (TaskState.KILLING, TaskEvent.FINISHED): TaskState.KILLED,
    (TaskState.KILLING, TaskEvent.FAILED): TaskState.KILLED,
    (TaskState.KILLING, TaskEvent.LOST): TaskState.KILLED,
    (TaskState.KILLING, TaskEvent.STOPPED): TaskState.KILLED,
    (TaskState.KILLING, TaskEvent.GRACE_EXPIRED): TaskState.KILLED,
}

TERMINAL = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.LOST, TaskState.KILLED})

# The Mesos TaskState reported on entering each state; STARTED and KILLING are internal.
MESOS_STATE: dict[TaskState, MesosTaskState] = {
    TaskState.RUNNING: MesosTaskState.RUNNING,
    TaskState.FINISHED: MesosTaskState.FINISHED,
    TaskState.FAILED: MesosTaskState.FAILED,
    TaskState.LOST: MesosTaskState.LOST,
    TaskState.KILLED: MesosTaskState.KILLED,
}


def transition(state: TaskState, event: TaskEvent) -> TaskState | None:
    """The next state, or None when the event does not apply (e.g. a KILL after FINISHED)."""
    return TRANSITIONS.get((state, event))
