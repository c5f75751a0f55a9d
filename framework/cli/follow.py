"""Following one job through the event stream (GET /v1/events?job=ID) until it ends.

`JobProgress` is what is known of the job, built from its object and task list and kept up
by each event; `track` subscribes first and reads the state second, so no change between
the two is missed, and after a dropped stream resumes from the last event's id (or re-reads
the state when the scheduler answers with a reset). A workflow is followed the same way
(femto.cli.flow).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from femto.cli.errors import UserError
from femto.cli.render import counts, parse
from femto.client import ApiError, Client
from femto.events import Event, JobEvent, ProgressEvent, ResetEvent, TaskEvent

DONE = frozenset({"FINISHED", "FAILED", "CANCELLED"})
RECONNECT_FOR = 30.0  # seconds of failed reconnections before giving up on the stream
# Unreachable (0), or no scheduler able to answer yet, as while a new leader is elected.
TRANSIENT = frozenset({0, 502, 503, 504})


@dataclass
class TaskProgress:
    partition: int
    state: str
    attempt: int = 0
    host: str | None = None
    progress: float = 0.0
    message: str | None = None
    fault: str | None = None
    not_before: str | None = None
    running_since: float | None = None  # this client's clock, for a task that reports nothing


@dataclass
class JobProgress:
    job: dict[str, Any]
    tasks: dict[int, TaskProgress] = field(default_factory=dict)
    watched_since: float = field(default_factory=time.time)

    @classmethod
    def load(cls, client: Client, job_id: str) -> JobProgress:
        job = client.json("GET", f"/v1/jobs/{job_id}")
        progress = cls(job)
        for task in client.json("GET", f"/v1/jobs/{job_id}/tasks"):
            latest = task["attempts"][-1] if task["attempts"] else {}
            elapsed = task.get("elapsed")
            progress.tasks[task["partition"]] = TaskProgress(
                task["partition"], task["state"], latest.get("n", 0), latest.get("host"),
                task.get("progress") or 0.0, latest.get("message"), latest.get("fault"),
                running_since=time.time() - elapsed if elapsed is not None else None)
        return progress

    @property
    def done(self) -> bool:
        return self.job["state"] in DONE

    @property
    def counts(self) -> dict[str, int]:
        """Tasks by state, from the tasks themselves: a job event comes when the job
        changes, not on each of its tasks' changes."""
        if not self.tasks:
            return dict(self.job["tasks"])
        states = [t.state for t in self.tasks.values()]
        return {"total": self.job["tasks"]["total"],
                "pending": states.count("PENDING") + states.count("LAUNCHING"),
                **{state.lower(): states.count(state)
                   for state in ("RUNNING", "FINISHED", "FAILED", "KILLED")}}

    @property
    def fraction(self) -> float:
        """Of the job's work: finished tasks whole, running ones as far as they report."""
        total = self.job["tasks"]["total"]
        if total == 0:
            return 1.0 if self.done else 0.0
        running = sum(t.progress for t in self.tasks.values() if t.state == "RUNNING")
        return min(1.0, (self.counts["finished"] + running) / total)

    def elapsed(self, now: float) -> float:
        started = self.job.get("started")
        return max(0.0, now - (parse(started) if started else self.watched_since))

    def eta(self, now: float) -> float | None:
        """Seconds left, at the pace so far; None before there is a pace to go by."""
        fraction, elapsed = self.fraction, self.elapsed(now)
        if self.done or fraction <= 0 or elapsed <= 0:
            return None
        return elapsed * (1 - fraction) / fraction

    def headline(self) -> str:
        error = f" ({self.job['error']})" if self.job.get("error") else ""
        return f"job {self.job['state']}{error}: {counts(self.counts)}"

    def apply(self, event: Event) -> str | None:
        """Take in one event; a line saying what changed state, if something did."""
        if isinstance(event, JobEvent):
            changed = event.state != self.job["state"]
            self.job.update(state=event.state, tasks=event.tasks, attempts=event.attempts,
                            error=event.error, started=event.started, finished=event.finished)
            return self.headline() if changed else None
        if isinstance(event, TaskEvent):
            before = self.tasks.get(event.partition)
            task = TaskProgress(event.partition, event.state, event.attempt, event.host,
                                1.0 if event.state == "FINISHED" else 0.0, event.message,
                                event.fault, event.not_before)
            if task.state == "RUNNING" and before is not None \
                    and before.attempt == task.attempt:
                task.progress = before.progress
                task.running_since = before.running_since or time.time()
            elif task.state == "RUNNING":
                task.running_since = time.time()
            self.tasks[event.partition] = task
            if before is not None and (before.state, before.attempt) == (task.state,
                                                                         task.attempt):
                return None
            return task_line(task)
        if isinstance(event, ProgressEvent):
            current = self.tasks.get(event.partition)
            if current is not None and current.attempt == event.attempt:
                current.progress = event.progress
        return None


def task_line(task: TaskProgress) -> str:
    line = f"task {task.partition} {task.state}"
    if task.attempt:
        line += f" (attempt {task.attempt}{' on ' + task.host if task.host else ''})"
    if task.fault:
        line += f", {task.fault} fault"
    if task.message:
        line += f": {task.message}"
    if task.not_before:
        line += f"; retry after {task.not_before}"
    return line


class Followed(Protocol):
    """What `track` keeps up: built by a load, changed by each event."""

    @property
    def done(self) -> bool: ...

    def headline(self) -> str: ...

    def apply(self, event: Event) -> str | None: ...


F = TypeVar("F", bound=Followed)


def follow(client: Client, job_id: str,
           show: Callable[[JobProgress, str | None], None]) -> JobProgress:
    """Follow the job until it ends, calling `show` with the state and what changed: the
    job as read at first (and after a reset), then each change of state."""
    return track(client, {"job": job_id}, lambda: JobProgress.load(client, job_id), show,
                 f"job {job_id}", f"femto watch {job_id}")


def track(client: Client, params: dict[str, str], load: Callable[[], F],
          show: Callable[[F, str | None], None], what: str, again: str) -> F:
    """Follow the events `params` select until what `load` reads is done; `what` and
    `again` name it and the command that follows it again, for a stream lost for good."""
    last_id: str | None = None
    progress: F | None = None
    failing_since: float | None = None
    while True:
        try:
            with client.events(params, last_id) as events:
                # Read once the stream is open, so nothing falls between; again on every
                # reconnection without an id to resume from, which starts at "now".
                if progress is None or last_id is None:
                    progress = load()
                    show(progress, progress.headline())
                failing_since = None
                for received in () if progress.done else events:
                    last_id = received.id or last_id
                    if isinstance(received.event, ResetEvent):
                        progress = load()
                        show(progress, progress.headline())
                    else:
                        show(progress, progress.apply(received.event))
                    if progress.done:
                        break
        except ApiError as exc:
            if exc.status not in TRANSIENT or progress is None:
                raise  # a scheduler never reached is a mistake to name now, not to wait out
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > RECONNECT_FOR:
                raise UserError(f"lost the events of {what} ({exc}); follow it again "
                                f"with: {again}") from None
        if progress is not None and progress.done:
            return progress
        time.sleep(1.0)  # the stream ended (the scheduler stopped, or leads no more): resume
