"""The engine's settings, and the in-memory records the core keeps per job."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from femto.datasets import partition_url
from femto.engine.admission import Admitted
from femto.engine.columns import PackedStrings
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
    """One partition of a job's input, as the core reads it (InputColumns holds them)."""

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


class InputColumns(Sequence[InputPartition]):
    """One input's partitions as columns, read as InputPartitions made on demand. A queued
    task holds no object of its own here: per partition, a packed uri (the dataset's
    folder shared), its length, and a reference to its host's one string; its API URL
    follows from its index."""

    __slots__ = ("_api_url", "_dataset", "_dtype", "_hosts", "_in_place", "_lengths", "_uris")

    def __init__(self, api_url: str, dataset: str, dtype: str, refs: list[dict[str, Any]]
                 ) -> None:
        self._api_url, self._dataset, self._dtype = api_url, dataset, dtype
        self._uris = PackedStrings()
        self._lengths = array("q")
        self._hosts: list[str | None] = []
        # (format, path, rows) of each row range read in place; a whole .npy has none
        self._in_place: dict[int, tuple[str, str | None, tuple[int, int] | None]] = {}
        for r in refs:
            self.append(InputPartition(r["uri"], None, r["length"], dtype, r["host"],
                                       r["format"], r["path"], r["rows"]))

    def append(self, partition: InputPartition) -> None:
        """A partition appended to the dataset (femto.streams); its URL follows from its
        index."""
        if partition.format != "npy" or partition.path is not None \
                or partition.rows is not None:
            self._in_place[len(self)] = (partition.format, partition.path, partition.rows)
        self._uris.append(partition.uri)
        self._lengths.append(partition.length)
        # One string per host, not one per partition as the dataset's JSON gave them.
        self._hosts.append(None if partition.host is None else sys.intern(partition.host))

    def __len__(self) -> int:
        return len(self._lengths)

    def host(self, index: int) -> str | None:
        """partition `index`'s host, without making the partition (placement reads it)."""
        return self._hosts[index]

    @overload
    def __getitem__(self, index: int) -> InputPartition: ...

    @overload
    def __getitem__(self, index: slice) -> list[InputPartition]: ...

    def __getitem__(self, index: int | slice) -> InputPartition | list[InputPartition]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        length = self._lengths[index]  # IndexError past the end, as a Sequence says
        fmt, path, rows = self._in_place.get(index) or ("npy", None, None)
        return InputPartition(self._uris[index],
                              partition_url(self._api_url, self._dataset, index),
                              length, self._dtype, self._hosts[index], fmt, path, rows)


# One input of a job, per partition: the shell hands columns, the core's tests lists.
Input = InputColumns | list[InputPartition]


def hosts_of(inputs: list[Input], partition: int) -> frozenset[str]:
    """Where a task's input partitions lie (placement prefers those hosts)."""
    return frozenset(host for parts in inputs if (host := (
        parts.host(partition) if isinstance(parts, InputColumns) else parts[partition].host)))


@dataclass(slots=True)
class ActiveJob:
    """An unfinished job (or one that ended and is not yet forgotten), all in memory."""

    job: Job
    tasks: list[Task]
    admitted: Admitted
    inputs: list[Input]  # per input, per partition
    # partition -> the attempt whose partial is recorded (exactly once: the first wins)
    partials: dict[int, int] = field(default_factory=dict)
    # A standing job (framework.engine.streams): whether its input is closed, and how many
    # output partitions, from the first, are in its output dataset.
    standing: bool = False
    input_closed: bool = False
    published: int = 0
