"""Why each waiting task waits (GET /v1/queue, in the manner of Marathon's /v2/queue): pure
reads of the core's state, in the order the core would launch them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from femto.engine.config import hosts_of
from femto.engine.views import iso
from femto.lifecycle import TaskState
from femto.model import Task

if TYPE_CHECKING:
    from femto.engine.core import Core


class Reason(StrEnum):
    OFFER = "offer"  # nothing keeps it from the next offer that fits
    LOCALITY = "locality"  # held back for an offer from the host its data is on
    BACKOFF = "backoff"  # retrying after a failure, not before `until`
    FITS_NO_AGENT = "fits_no_agent"  # bigger than every agent that has offered


@dataclass(frozen=True, slots=True)
class Wait:
    job: str
    partition: int
    waiting_since: float
    reason: Reason
    message: str
    until: float | None = None
    delay: float | None = None  # of a backoff: how long it was told to wait

    def view(self) -> dict[str, object]:
        return {"job": self.job, "partition": self.partition,
                "waiting_since": iso(self.waiting_since), "reason": self.reason.value,
                "message": self.message, "until": iso(self.until), "delay": self.delay}


def waits(core: Core, now: float, job_id: str | None = None) -> list[Wait]:
    """Every pending task (of `job_id` only, if given), the longest waiting first."""
    found = [why(core, task, now) for task in core.pending
             if task.state is TaskState.PENDING and job_id in (None, task.job_id)]
    return sorted(found, key=lambda w: w.waiting_since)


def why(core: Core, task: Task, now: float) -> Wait:
    """The one reason that holds `task` back now, the hardest first: a backoff outlasts any
    offer, and a task no agent can hold gains nothing from a local one."""
    active = core.active[task.job_id]
    key = (task.job_id, task.partition)
    if task.not_before > now:
        ended = task.attempts[-1].ended if task.attempts else None
        since = ended if ended is not None else now
        delay = round(task.not_before - since, 3)
        return Wait(*key, since, Reason.BACKOFF,
                    f"retrying after a failure, in {task.not_before - now:.1f}s "
                    f"(backoff of {delay:g}s)", task.not_before, delay)
    if active.job.waiting is not None:
        return Wait(*key, task.waiting_since, Reason.FITS_NO_AGENT, active.job.waiting)
    hosts = sorted(hosts_of(active.inputs, task.partition))
    until = task.waiting_since + core.config.locality_wait
    if hosts and now < until:
        return Wait(*key, task.waiting_since, Reason.LOCALITY,
                    f"waiting for an offer from {', '.join(hosts)}, where its data is, "
                    "then any agent", until)
    resources = active.admitted.spec.resources
    return Wait(*key, task.waiting_since, Reason.OFFER,
                f"waiting for an offer of {resources.cpus:g} cpus and {resources.mem:g} MB")
