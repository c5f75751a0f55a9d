"""Job and task state objects, and how they are stored as documents."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from femto.lifecycle import JobState, TaskState
from mesosapi import taskstates as mesos


def map_floats(value: Any, leaf: Any) -> Any:
    if isinstance(value, dict):
        return {k: map_floats(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [map_floats(v, leaf) for v in value]
    return leaf(value)


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def to_json_safe(value: Any) -> Any:
    """Results as the store keeps them: NaN and infinities (NumPy's sum of data
    holding NaN, say) become {"$float": "nan"}, which strict JSON accepts."""
    return map_floats(value, lambda v: {"$float": str(v)}
                       if isinstance(v, float) and not math.isfinite(v) else v)


def from_json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"$float"} and value["$float"] in _NON_FINITE:
            return _NON_FINITE[value["$float"]]
        return {k: from_json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json_safe(v) for v in value]
    return value


def task_key(job_id: str, partition: int) -> str:
    return f"{job_id}:{partition}"


def mesos_task_id(job_id: str, partition: int, attempt: int) -> str:
    return f"{job_id}.{partition}.{attempt}"


def parse_mesos_task_id(value: str) -> tuple[str, int, int] | None:
    """(job id, partition, attempt) of a femto task id, or None if it is not one."""
    job_id, _, rest = value.partition(".")
    partition, _, attempt = rest.partition(".")
    if not (job_id and partition.isdigit() and attempt.isdigit()):
        return None
    return job_id, int(partition), int(attempt)


@dataclass(slots=True)
class Attempt:
    n: int
    agent_id: str
    host: str
    launched: float
    running: float | None = None
    ended: float | None = None
    state: str = mesos.TaskState.STAGING  # the last Mesos state seen (or TIMED_OUT)
    message: str | None = None
    fault: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "n": self.n, "agent_id": self.agent_id, "host": self.host,
            "launched": self.launched, "running": self.running, "ended": self.ended,
            "state": self.state, "message": self.message, "fault": self.fault,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Attempt:
        return cls(**doc)


# Compared and hashed by identity: the core keys its queue and watch lists by the task
# itself, which costs a queued task no key of its own (10^5 of them wait in a long queue).
@dataclass(slots=True, eq=False)
class Task:
    job_id: str
    partition: int
    waiting_since: float
    state: TaskState = TaskState.PENDING
    # A tuple, the shared empty one until the first launch: a task has a few attempts at
    # most, and a queued one none.
    attempts: tuple[Attempt, ...] = ()
    charged: int = 0  # failures of the work, counted against max_retries
    infra: int = 0  # failures of the infrastructure, under their own cap
    not_before: float = 0.0  # retry backoff
    progress: float = 0.0  # last reported by the executor; not persisted

    @property
    def key(self) -> str:
        return task_key(self.job_id, self.partition)

    @property
    def current(self) -> Attempt | None:
        """The attempt that is live now, if the task is launching or running."""
        if self.state in (TaskState.LAUNCHING, TaskState.RUNNING) and self.attempts:
            return self.attempts[-1]
        return None

    def mesos_id(self, attempt: Attempt) -> str:
        return mesos_task_id(self.job_id, self.partition, attempt.n)

    def avoid_agents(self) -> frozenset[str]:
        return frozenset(a.agent_id for a in self.attempts if a.fault is not None)

    def to_doc(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "partition": self.partition, "state": self.state.value,
            "attempts": [a.to_doc() for a in self.attempts], "charged": self.charged,
            "infra": self.infra, "not_before": self.not_before,
            "waiting_since": self.waiting_since,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Task:
        return cls(
            job_id=doc["job_id"], partition=doc["partition"], state=TaskState(doc["state"]),
            attempts=tuple(Attempt.from_doc(a) for a in doc["attempts"]),
            charged=doc["charged"],
            infra=doc["infra"], not_before=doc["not_before"],
            waiting_since=doc["waiting_since"],
        )


@dataclass(slots=True)
class Job:
    id: str
    name: str
    operation: str
    spec: dict[str, Any]  # the canonical job spec as submitted
    fingerprint: str
    created: float
    n_tasks: int
    output: str | None = None  # the dataset a transform writes
    state: JobState = JobState.PENDING
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # tasks by TaskState
    attempts: int = 0
    owner: str | None = None  # the name of the token that submitted it
    # Why its tasks cannot be placed, from the offers this scheduler saw; not persisted.
    waiting: str | None = None
    workflow: str | None = None  # the workflow whose step it runs, if any
    step: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "operation": self.operation, "spec": self.spec,
            "fingerprint": self.fingerprint, "created": self.created, "n_tasks": self.n_tasks,
            "output": self.output, "state": self.state.value, "started": self.started,
            "finished": self.finished, "result": to_json_safe(self.result),
            "error": self.error,
            "counts": self.counts, "attempts": self.attempts, "owner": self.owner,
            "workflow": self.workflow, "step": self.step,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Job:
        return cls(**{**doc, "state": JobState(doc["state"]),
                      "result": from_json_safe(doc["result"])})
