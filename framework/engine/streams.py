"""The core's rules for standing jobs, pure: a transform that stays open over a stream.

A standing job has one task per partition of its input, those present at submission and
every one appended later (`on_appended`), keyed by the partition's index, so a partition
is processed once however often it is announced. Its outputs go into its output dataset in
input order: partition i is published once it and every partition before it are done. It
completes once its input is closed and every task is done; whenever it ends, its output
is closed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from femto.engine import offers
from femto.engine.config import ActiveJob, InputPartition
from femto.engine.instructions import Complete, PublishOutputs
from femto.lifecycle import JobState, TaskState
from femto.model import Task

if TYPE_CHECKING:
    from femto.engine.core import Core


def on_appended(core: Core, dataset: str, start: int, partitions: Sequence[InputPartition],
                closed: bool, now: float) -> None:
    """`partitions` were appended to `dataset` as its partitions `start`, `start + 1`, ...
    (none: only `closed` is news, or the shell reconciles after a load). Each standing job
    reading it takes the partitions it lacks, and gets a task for each input partition
    that has none."""
    added = False
    for active in core.active.values():
        if not active.standing or active.job.finished is not None \
                or active.admitted.spec.inputs[0] != dataset:
            continue
        known = active.inputs[0]
        for index, partition in enumerate(partitions, start):
            if index == len(known):  # one announced twice, or out of order, is not taken
                known.append(partition)
        changed = closed and not active.input_closed
        active.input_closed = active.input_closed or closed
        for index in range(len(active.tasks), len(known)):
            _add_task(core, active, index, now)
            added = changed = True
        if changed:
            core.dirty_jobs[active.job.id] = active.job
        publish(core, active)
        complete_if_drained(core, active)
    if added:
        offers.want_offers(core, now)


def _add_task(core: Core, active: ActiveJob, partition: int, now: float) -> None:
    job = active.job
    task = Task(job_id=job.id, partition=partition, waiting_since=now)
    active.tasks.append(task)
    job.n_tasks = len(active.tasks)
    job.counts[TaskState.PENDING] = job.counts.get(TaskState.PENDING, 0) + 1
    core.pending[task] = None
    core.dirty_tasks[task] = None


def publish(core: Core, active: ActiveJob) -> None:
    """Publish the finished outputs that follow the published ones without a gap."""
    first = active.published
    while active.published in active.partials and active.published < len(active.tasks):
        active.published += 1
    if active.published > first:
        core.writes.append(PublishOutputs(active.job.id,
                                          tuple(range(first, active.published))))


def complete_if_drained(core: Core, active: ActiveJob) -> None:
    """Closed and every task done (and so every output published): the job completes."""
    job = active.job
    if job.finished is None and active.input_closed \
            and job.counts.get(TaskState.FINISHED, 0) == job.n_tasks:
        core.writes.append(Complete(job.id))


def after_finished(core: Core, active: ActiveJob) -> None:
    """One of the job's tasks has just finished with its partial recorded."""
    publish(core, active)
    complete_if_drained(core, active)


def kept_outputs(active: ActiveJob, state: JobState) -> dict[int, int]:
    """The output blobs (partition -> attempt) an ending job keeps: a finished job's every
    partial; a standing job's published ones whatever its end (they are in its output
    dataset); none of another job that did not finish."""
    if state is JobState.FINISHED:
        return active.partials
    return {p: a for p, a in active.partials.items() if p < active.published}
