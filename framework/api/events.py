"""/v1/events: job, task and workflow changes and task progress, as Server-Sent Events.

Each event's id names this scheduler's term and the event's place in it; a client that
reconnects with `Last-Event-ID` gets every later event still in the window
(femto.eventlog.WINDOW), or first a `reset` event when it cannot: then it re-reads the
jobs it follows. Only the leader has events: a standby sends the client to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from femto.api.caller import Caller
from femto.api.context import Context, to_leader
from femto.errors import NotFound
from femto.eventlog import Entry, EventLog, event_id
from femto.events import EVENT_MODELS, ResetEvent, WorkflowEvent
from femto.workflows.shell import Workflows
from femto.workflows.spec import step_job_id

KEEPALIVE = 15.0  # seconds between comments that keep idle proxies from closing a stream

router = APIRouter()


@router.get(
    "/events", dependencies=[Depends(to_leader)],
    response_class=EventSourceResponse,
    responses={
        200: {"description": "A stream of events: each `event:` names one of these types, "
                             "its `data:` the JSON of that type's schema",
              "content": {"text/event-stream": {"schema": {"oneOf": [
                  {"$ref": f"#/components/schemas/{model.__name__}"}
                  for model in EVENT_MODELS]}}}},
        307: {"description": "This is a standby: the leader has the events"},
    },
)
async def events(
    principal: Caller, context: Context, job: str | None = None,
    workflow: str | None = Query(None, description="a workflow's events and its step jobs'"),
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
) -> EventSourceResponse:
    """Follow every job the caller may see, or one (`?job=ID`), or one workflow
    (`?workflow=ID`). An id is not checked: a client may follow a job or workflow it is
    about to submit under its own id, and another's shows nothing, as if it did not
    exist."""
    log = context.service.events
    wanted = WorkflowFilter(workflow, context.service.workflows) if workflow is not None else None
    return EventSourceResponse(
        follow(log, log.resume_point(last_event_id), job, principal.owner_filter, wanted),
        ping=KEEPALIVE, headers={"Cache-Control": "no-store"},
    )


class WorkflowFilter:
    """Which events are a workflow's: its own, and those of its step jobs, whose ids
    follow from the step names (known from the store, or from its first event)."""

    def __init__(self, workflow_id: str, workflows: Workflows | None) -> None:
        self.id = workflow_id
        self.jobs: set[str] = set()
        try:
            shown = workflows.get(workflow_id) if workflows is not None else None
        except NotFound:
            shown = None
        if shown is not None:
            self._learn(shown["steps"])

    def _learn(self, steps: dict[str, Any]) -> None:
        with contextlib.suppress(ValueError):  # not a UUID: a workflow with no steps' jobs
            self.jobs.update(step_job_id(self.id, name) for name in steps)

    def has(self, entry: Entry) -> bool:
        event = entry.event if entry.type == "workflow" else None
        if isinstance(event, WorkflowEvent) and event.workflow == self.id:
            if not self.jobs:
                self._learn(event.steps)
            return True
        return entry.job in self.jobs


async def follow(
    log: EventLog, seq: int | None, job: str | None, owner: str | None,
    workflow: WorkflowFilter | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events after `seq` (None: cannot resume, so a reset first), until the scheduler
    stops or its term ends."""
    epoch = log.epoch
    if seq is None:
        seq = log.last_seq
        yield _reset(epoch, seq, "cannot resume from that Last-Event-ID; re-read the state")
    while not log.closed and log.epoch == epoch:
        if log.missed(seq):
            seq = log.last_seq
            yield _reset(epoch, seq, "this stream fell behind the event window; "
                                     "re-read the state")
            continue
        entries = log.after(seq)
        for entry in entries:
            seq = entry.seq
            if (job is None or entry.job == job) and (owner is None or entry.owner == owner) \
                    and (workflow is None or workflow.has(entry)):
                yield ServerSentEvent(data=entry.json, event=entry.type,
                                      id=event_id(epoch, entry.seq))
        if not entries:
            await log.wait(seq, KEEPALIVE)


def _reset(epoch: str, seq: int, reason: str) -> ServerSentEvent:
    return ServerSentEvent(data=ResetEvent(reason=reason).model_dump_json(), event="reset",
                           id=event_id(epoch, seq))
