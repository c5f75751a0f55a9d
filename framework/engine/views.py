"""The JSON the API returns for jobs and tasks (the job object of DESIGN.md's contract)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from femto.eventlog import Deferred
from femto.events import JobEvent, TaskEvent
from femto.lifecycle import TaskState
from femto.model import Job, Task, map_floats, mesos_task_id


def iso(ts: float | None) -> str | None:
    """A timestamp as users read it: ISO 8601 in UTC."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finite(value: Any) -> Any:
    """Results as users read them: JSON has no NaN or infinity, so those are null."""
    return map_floats(value, lambda v: None
                      if isinstance(v, float) and not math.isfinite(v) else v)


def job_view(job: Job, *, with_result: bool = True) -> dict[str, Any]:
    """The job object of the HTTP API contract (`result` left out of lists)."""
    c = job.counts
    view = {
        "id": job.id, "name": job.name, "state": job.state.value,
        "operation": job.operation, "created": iso(job.created),
        "started": iso(job.started), "finished": iso(job.finished),
        "tasks": {
            "total": job.n_tasks,
            "pending": c.get(TaskState.PENDING, 0) + c.get(TaskState.LAUNCHING, 0),
            "running": c.get(TaskState.RUNNING, 0),
            "finished": c.get(TaskState.FINISHED, 0),
            "failed": c.get(TaskState.FAILED, 0),
            # Ended because their job did (cancelled, or failed by another partition):
            # not their own failure.
            "killed": c.get(TaskState.KILLED, 0),
        },
        "attempts": job.attempts, "result": finite(job.result), "error": job.error,
        "owner": job.owner, "waiting": job.waiting, "spec": job.spec,
        "workflow": job.workflow, "step": job.step,
    }
    if not with_result:
        del view["result"]
    return view


def elapsed(task: Task, now: float) -> float | None:
    """Seconds the latest attempt has been at work (running, else launched) until it ended
    or `now`: what shows that a task which reports no progress goes on."""
    if not task.attempts:
        return None
    attempt = task.attempts[-1]
    began = attempt.running if attempt.running is not None else attempt.launched
    return round(max(0.0, (attempt.ended if attempt.ended is not None else now) - began), 3)


def task_view(task: Task, now: float) -> dict[str, Any]:
    """The task as GET /v1/jobs/{id}/tasks shows it."""
    backoff = task.state is TaskState.PENDING and task.not_before > now
    return {
        "partition": task.partition, "state": task.state.value,
        "progress": 1.0 if task.state is TaskState.FINISHED else task.progress,
        "elapsed": elapsed(task, now),
        "not_before": iso(task.not_before) if backoff else None,
        "charged_failures": task.charged, "infra_failures": task.infra,
        "attempts": [
            {**a.to_doc(), "task_id": mesos_task_id(task.job_id, task.partition, a.n),
             "launched": iso(a.launched), "running": iso(a.running), "ended": iso(a.ended)}
            for a in task.attempts
        ],
    }


def job_event(job: Job) -> JobEvent:
    view = job_view(job, with_result=False)
    return JobEvent(job=job.id, state=view["state"], tasks=view["tasks"],
                    attempts=job.attempts, error=job.error, started=view["started"],
                    finished=view["finished"])


@dataclass(slots=True)
class TaskNote(Deferred):
    """A task's event as it was told: references to the values it had then (shared with
    the task, so a queued task's note costs the event window a hundred bytes or so)."""

    type: ClassVar[str] = "task"
    job: str
    partition: int
    state: str
    attempt: int
    host: str | None
    mesos_state: str | None
    message: str | None
    fault: str | None
    not_before: float | None  # of a retry in its backoff

    def build(self) -> TaskEvent:
        return TaskEvent(
            job=self.job, partition=self.partition, state=self.state, attempt=self.attempt,
            host=self.host, mesos_state=self.mesos_state, message=self.message,
            fault=self.fault, not_before=iso(self.not_before))


def task_event(task: Task, now: float) -> TaskNote:
    """The TaskEvent of the task as it is now, made when a client reads it."""
    latest = task.attempts[-1] if task.attempts else None
    not_before = task.not_before if task.not_before > now else None
    if latest is None:
        return TaskNote(task.job_id, task.partition, task.state.value, 0, None, None, None,
                        None, not_before)
    return TaskNote(task.job_id, task.partition, task.state.value, latest.n, latest.host,
                    latest.state, latest.message, latest.fault, not_before)
