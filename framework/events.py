"""The event stream's messages (GET /v1/events), one typed definition for the scheduler
that sends them, the `femto` command and the tests that read them.

Only pydantic here: the client imports this without the server stack."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class JobEvent(_Event):
    """A job changed: its state, or its tasks' counts. No result: GET the job for it."""

    type: Literal["job"] = "job"
    job: str
    state: str
    tasks: dict[str, int]
    attempts: int
    error: str | None = None
    started: str | None = None
    finished: str | None = None


class TaskEvent(_Event):
    """A task changed state (a femto task state); `attempt` is its latest attempt's number,
    0 before its first launch."""

    type: Literal["task"] = "task"
    job: str
    partition: int
    state: str
    attempt: int
    host: str | None = None
    mesos_state: str | None = None
    message: str | None = None
    fault: str | None = None
    not_before: str | None = None  # a retry waits out its backoff until then


class ProgressEvent(_Event):
    """An attempt's executor reported how far it is (0 to 1)."""

    type: Literal["progress"] = "progress"
    job: str
    partition: int
    attempt: int
    progress: float


class WorkflowEvent(_Event):
    """A workflow or one of its steps changed state; each step's job is null until it is
    submitted (the job's own events are on the stream too)."""

    type: Literal["workflow"] = "workflow"
    workflow: str
    state: str
    steps: dict[str, dict[str, str | None]]
    error: str | None = None


class TriggerEvent(_Event):
    """A trigger fired on a file or dataset (`item`), failed to, or was created, paused,
    resumed or deleted; `job` or `workflow` is what a firing submitted."""

    type: Literal["trigger"] = "trigger"
    trigger: str
    state: str  # fired, failed, created, paused, resumed, deleted
    item: str | None = None
    dataset: str | None = None
    job: str | None = None
    workflow: str | None = None
    error: str | None = None


class ResetEvent(_Event):
    """The stream cannot resume from the client's Last-Event-ID (another scheduler leads
    now, or the event fell out of the window): re-read the state, then follow again."""

    type: Literal["reset"] = "reset"
    reason: str


Event = JobEvent | TaskEvent | ProgressEvent | WorkflowEvent | ResetEvent | TriggerEvent

EVENT_MODELS: tuple[type[_Event], ...] = (
    JobEvent, TaskEvent, ProgressEvent, WorkflowEvent, ResetEvent, TriggerEvent)
_TYPES: dict[str, type[_Event]] = {
    model.model_fields["type"].default: model for model in EVENT_MODELS}


def parse_event(kind: str, data: str) -> Event:
    """One SSE event's `event:` and `data:` fields; ValueError for an unknown kind or a
    body that is not that event."""
    model = _TYPES.get(kind)
    if model is None:
        raise ValueError(f"unknown event type {kind!r}")
    return cast(Event, model.model_validate_json(data))


@dataclass(frozen=True, slots=True)
class Received:
    id: str | None  # send as Last-Event-ID to resume after it
    event: Event


def read_stream(lines: Iterable[str]) -> Iterator[Received]:
    """The events of a text/event-stream, given its lines (as httpx's `iter_lines`);
    comments (keep-alives) and unknown event types are skipped."""
    kind, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                try:
                    event = parse_event(kind, "\n".join(data))
                except ValueError:
                    pass  # a newer scheduler's kind of event: not for this client
                else:
                    yield Received(event_id, event)
            kind, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            kind = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
