"""/v1/events: job and task changes and task progress, as Server-Sent Events.

Each event's id names this scheduler's term and the event's place in it; a client that
reconnects with `Last-Event-ID` gets every later event still in the window
(femto.eventlog.WINDOW), or first a `reset` event when it cannot: then it re-reads the
jobs it follows. Only the leader has events: a standby sends the client to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from femto.api.caller import Caller
from femto.api.context import Context, to_leader
from femto.eventlog import EventLog, event_id
from femto.events import EVENT_MODELS, ResetEvent

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
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
) -> EventSourceResponse:
    """Follow every job the caller may see, or one (`?job=ID`). A job id is not checked:
    a client may follow a job it is about to submit under its own id, and another's job
    shows nothing, as if it did not exist."""
    log = context.service.events
    return EventSourceResponse(
        follow(log, log.resume_point(last_event_id), job, principal.owner_filter),
        ping=KEEPALIVE, headers={"Cache-Control": "no-store"},
    )


async def follow(
    log: EventLog, seq: int | None, job: str | None, owner: str | None
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
            if (job is None or entry.job == job) and (owner is None or entry.owner == owner):
                yield ServerSentEvent(data=entry.json, event=entry.event.type,
                                      id=event_id(epoch, entry.seq))
        if not entries:
            await log.wait(seq, KEEPALIVE)


def _reset(epoch: str, seq: int, reason: str) -> ServerSentEvent:
    return ServerSentEvent(data=ResetEvent(reason=reason).model_dump_json(), event="reset",
                           id=event_id(epoch, seq))
