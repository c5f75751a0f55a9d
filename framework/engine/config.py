"""The engine's settings, and the in-memory records the core keeps per job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from femto.engine.admission import Admitted
from femto.jobs.limits import Limits
from femto.jobs.wire import PartitionRef
from femto.launch import ExecutorSpec
from femto.model import Job, Task
from femto.retries import RetryPolicy


@dataclass(frozen=True, slots=True)
class EngineConfig:
    executor: ExecutorSpec
    api_url: str = ""
    attempt_key: bytes = b""  # signs each attempt's credential (framework.credentials)
    limits: Limits = field(default_factory=Limits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    launch_timeout: float = 60.0  # a launch not RUNNING by then is killed and retried
    locality_wait: float = 3.0  # how long a task waits for an offer from its data's host
    kill_interval: float = 5.0  # kills are repeated until a terminal update confirms them
    decline_seconds: float = 5.0
    idle_decline_seconds: float = 60.0
    reconcile_backoff_max: float = 60.0
    implicit_reconcile_interval: float = 600.0
    # Other schedulers' API base URLs: executors try them when this one is gone.
    mirrors: Callable[[], list[str]] = list


@dataclass(frozen=True, slots=True)
class InputPartition:
    """One partition of a job's input, held per queued task: plain slots, a fifth of what
    a PartitionRef model costs (100,000 queued tasks are the memory benchmark's case)."""

    uri: str | None
    url: str | None
    length: int
    dtype: str
    host: str | None  # where it lies, for placement only
    format: str = "npy"
    path: str | None = None  # the array in an HDF5 file or Zarr group
    rows: tuple[int, int] | None = None  # of an array read in place

    @property
    def ref(self) -> PartitionRef:
        """As the executor reads it. Not validated again: the values come from a dataset
        checked when it was registered, and the executor validates its payload."""
        return PartitionRef.model_construct(
            uri=self.uri, url=self.url, length=self.length, dtype=self.dtype,
            format=self.format, path=self.path, rows=self.rows)


@dataclass(slots=True)
class ActiveJob:
    """An unfinished job (or one that ended and is not yet forgotten), all in memory."""

    job: Job
    tasks: list[Task]
    admitted: Admitted
    inputs: list[list[InputPartition]]  # per input, per partition
    # partition -> the attempt whose partial is recorded (exactly once: the first wins)
    partials: dict[int, int] = field(default_factory=dict)
    # A standing job (framework.engine.streams): whether its input is closed, and how many
    # output partitions, from the first, are in its output dataset.
    standing: bool = False
    input_closed: bool = False
    published: int = 0
