"""GET /v1/queue: the tasks waiting to launch and why each waits (Marathon's /v2/queue)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from femto.api.caller import Caller
from femto.api.context import CurrentEngine, to_leader
from femto.api.docs import errors
from femto.api.models import QueueEntry

router = APIRouter()


@router.get("/queue", response_model=list[QueueEntry], dependencies=[Depends(to_leader)],
            responses={307: {"description": "This is a standby: the leader has the queue"},
                       **errors(404)})
def queue(principal: Caller, engine: CurrentEngine,
          job: str | None = Query(None, min_length=1, description="only this job's tasks"),
          ) -> JSONResponse:
    """Every task waiting to launch, the longest waiting first, with why: "offer" (none
    that fits yet), "locality" (held for its data's host until `until`), "backoff"
    (retrying after a failure at `until`, after `delay` seconds) or "fits_no_agent"."""
    return JSONResponse(engine.queue(job, owner=principal.owner_filter))
