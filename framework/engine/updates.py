"""The core's rules for one TaskStatus: which attempt it is about, and what it means for
its task (running, finished with a result, failed and whose fault)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from femto.engine import streams
from femto.engine.config import ActiveJob
from femto.engine.instructions import Complete, RecordPartial
from femto.jobs.wire import parse_task_result
from femto.lifecycle import TERMINAL_TASK_STATES, JobState, TaskState
from femto.model import Attempt, Task, parse_mesos_task_id
from femto.retries import FAILED_STATES, Fault, classify
from mesosapi import taskstates as mesos
from mesosapi.encoding import decode_data

if TYPE_CHECKING:
    from femto.engine.core import Core

log = logging.getLogger(__name__)


def apply(core: Core, status: dict[str, Any], now: float) -> None:
    """What one TaskStatus means for the attempt it is about."""
    task_id = status["task_id"]["value"]
    state = status["state"]
    active, task, attempt = _attempt_of(core, task_id)
    if active is None or task is None or attempt is None:
        # Not a task femto runs now (a finished job's, a stale attempt
        # from before a restart): make sure it does not keep running.
        if state in mesos.LIVE:
            core.order_kill(task_id, status.get("agent_id", {}).get("value"))
        return
    try:
        if state == mesos.TaskState.FINISHED:
            _finished(core, active, task, attempt, status, now)
        elif state in FAILED_STATES:
            _failed(core, active, task, attempt, status, now)
        elif state == mesos.TaskState.RUNNING:
            _running(core, task, attempt, now)
    except Exception as exc:  # one bad update fails its job, not the scheduler
        log.exception("job %s: cannot handle update %s %s", active.job.id, task_id, state)
        if active.job.finished is None:
            core.end_job(active, JobState.FAILED, now,
                         error=f"internal error on update {state} of {task_id}: {exc}")


def _attempt_of(core: Core, task_id: str) -> tuple[ActiveJob | None, Task | None, Attempt | None]:
    parsed = parse_mesos_task_id(task_id)
    if parsed is None or parsed[0] not in core.active:
        return None, None, None
    active = core.active[parsed[0]]
    if parsed[1] >= len(active.tasks):
        return active, None, None
    task = active.tasks[parsed[1]]
    if not 1 <= parsed[2] <= len(task.attempts):
        return active, task, None
    return active, task, task.attempts[parsed[2] - 1]


def _running(core: Core, task: Task, attempt: Attempt, now: float) -> None:
    attempt.state = mesos.TaskState.RUNNING
    if attempt is not task.current:
        # Not the live attempt: one femto gave up on (e.g. TASK_UNREACHABLE, retried
        # elsewhere) whose agent came back, or a duplicate. Its work is done elsewhere.
        core.dirty_tasks[task] = None
        core.order_kill(task.mesos_id(attempt), attempt.agent_id)
    elif task.state is TaskState.LAUNCHING:  # else a duplicate: nothing changes
        attempt.running = now
        core.queue_wait.observe(max(0.0, now - task.waiting_since))
        core.set_task(task, TaskState.RUNNING, now)


def _ended(core: Core, task: Task, attempt: Attempt, state: str, now: float) -> None:
    """The attempt's end; its run time is counted at the first word of it."""
    if attempt.ended is None and attempt.running is not None:
        core.task_run.observe(max(0.0, now - attempt.running))
    elif attempt.ended is None and attempt is task.current \
            and state == mesos.TaskState.FINISHED:
        # Ended before its TASK_RUNNING was sent (the executor holds it back briefly): it
        # waited no longer than this.
        core.queue_wait.observe(max(0.0, now - task.waiting_since))
    attempt.state, attempt.ended = state, now


def _finished(core: Core, active: ActiveJob, task: Task, attempt: Attempt,
              status: dict[str, Any], now: float) -> None:
    _ended(core, task, attempt, mesos.TaskState.FINISHED, now)
    core.dirty_tasks[task] = None
    if task.state in TERMINAL_TASK_STATES:
        return
    value = result_of(status)
    recorded = task.partition in active.partials
    if value is None and attempt is not task.current:
        # An old attempt's end without its result (e.g. the master's word when its
        # agent re-registers): the live attempt goes on; the result may follow.
        return
    if value is None and not recorded:
        # e.g. a reconciliation answer, which carries no data: run it again.
        core.retry_or_fail(active, task, attempt, Fault.INFRA, "finished without a result",
                           now)
        return
    if value is not None and not recorded:
        # First write wins: a duplicate attempt never counts twice.
        active.partials[task.partition] = attempt.n
        core.writes.append(RecordPartial(active.job.id, task.partition, attempt.n, value))
    core.pending.pop(task, None)
    current = task.current
    if current is not None and current is not attempt:
        core.order_kill(task.mesos_id(current), current.agent_id)
        current.ended, current.message = now, "superseded by an earlier attempt"
    core.set_task(task, TaskState.FINISHED, now)
    core.counters["tasks_finished"] += 1
    if active.standing:
        streams.after_finished(core, active)
    elif active.job.counts.get(TaskState.FINISHED, 0) == active.job.n_tasks:
        core.writes.append(Complete(active.job.id))


def _failed(core: Core, active: ActiveJob, task: Task, attempt: Attempt,
            status: dict[str, Any], now: float) -> None:
    _ended(core, task, attempt, status["state"], now)
    # Keep the reason femto gave up on an attempt (e.g. a launch timeout).
    attempt.message = attempt.message or status.get("message") or status.get("reason")
    core.counters["tasks_failed_attempts"] += 1
    core.dirty_tasks[task] = None
    if attempt is not task.current:
        return
    core.retry_or_fail(active, task, attempt, classify(status),
                       attempt.message or status["state"], now)

def result_of(status: dict[str, Any]) -> Any:
    """The product a TASK_FINISHED carries, or None (none, or not a TaskResult)."""
    data = status.get("data")
    if not data:
        return None
    try:
        message = parse_task_result(decode_data(data))
    except ValueError as exc:
        log.warning("task %s finished with %s", status["task_id"]["value"], exc)
        return None
    return message.output.model_dump() if message.output is not None else message.result
