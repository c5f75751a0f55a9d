"""What the core asks the shell to do, in order: writes first, then Mesos calls.

The shell carries each one out as it comes; a write that must precede an action (a
launch, a kill, an acknowledgement) comes before it in the list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from femto.jobs.wire import TaskPayload
from femto.model import Job, Task


@dataclass(frozen=True, slots=True)
class Persist:
    """Write these tasks and jobs as they are now."""

    tasks: tuple[Task, ...]
    jobs: tuple[Job, ...]


@dataclass(frozen=True, slots=True)
class RecordPartial:
    """A partition's product, from its attempt's TASK_FINISHED; the first write wins."""

    job_id: str
    partition: int
    attempt: int
    value: Any


@dataclass(frozen=True, slots=True)
class TaskLaunch:
    task_id: str
    name: str
    cpus: float
    mem: float
    payload: TaskPayload  # without the credential and mirrors, which the shell adds


@dataclass(frozen=True, slots=True)
class Launch:
    offer: dict[str, Any]
    tasks: tuple[TaskLaunch, ...]


@dataclass(frozen=True, slots=True)
class Decline:
    offer_ids: tuple[dict[str, Any], ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class Kill:
    task_id: str
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Ask the master about these (task id, agent id); none: about every task (implicit)."""

    tasks: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class Revive:
    pass


@dataclass(frozen=True, slots=True)
class Suppress:
    pass


@dataclass(frozen=True, slots=True)
class Complete:
    """Every partition of the job has its partial: reduce them (a query) or make the
    output dataset (a transform), then tell the core with `completed` or `incomplete`."""

    job_id: str


@dataclass(frozen=True, slots=True)
class DeleteOutputs:
    """Drop these (partition, attempt) output blobs of a transform job."""

    job_id: str
    attempts: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ForgetPartials:
    """The job has ended and is out of memory: its partials are no longer needed."""

    job_id: str


@dataclass(frozen=True, slots=True)
class Progressed:
    """An attempt reported how far it is: tell whoever follows the job."""

    job_id: str
    partition: int
    attempt: int
    progress: float


@dataclass(frozen=True, slots=True)
class RememberFramework:
    framework_id: str


@dataclass(frozen=True, slots=True)
class PublishOutputs:
    """A standing job's next output partitions, in order, are ready: append them (their
    recorded partials name the attempts) to its output dataset, each once."""

    job_id: str
    partitions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CloseOutput:
    """A standing job has ended: its output dataset takes no more partitions."""

    job_id: str


Instruction = (
    Persist | RecordPartial | Launch | Decline | Kill | Reconcile | Revive | Suppress
    | Complete | DeleteOutputs | ForgetPartials | RememberFramework | Progressed
    | PublishOutputs | CloseOutput
)
