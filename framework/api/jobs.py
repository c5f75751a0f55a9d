"""/v1/jobs: submit, list, read and cancel jobs, and end their retry backoff.

A principal that sees only its own jobs gets a 404 for another's: not even whether the id
exists is told.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from femto.api import cursors
from femto.api.bodies import MAX_SPEC_BYTES, json_body_doc, parse_json, read_body
from femto.api.caller import Caller
from femto.api.context import Context, CurrentEngine
from femto.api.docs import errors
from femto.api.models import DelayReset, JobObject, TaskView
from femto.auth import ANYONE
from femto.errors import Forbidden, Invalid
from femto.jobs.schemas import job_spec_schema
from femto.lifecycle import JobState

DEFAULT_PAGE = 100
MAX_PAGE = 10_000  # jobs in one GET /v1/jobs

router = APIRouter(prefix="/jobs")


@router.post("", status_code=201, openapi_extra=json_body_doc(job_spec_schema()),
             response_model=None,
             responses={201: {"model": JobObject, "description": "Submitted"},
                        200: {"model": JobObject,
                              "description": "Submitted before with this id and spec"},
                        **errors(400, 404, 409, 413)})
async def submit_job(request: Request, principal: Caller, context: Context) -> JSONResponse:
    body = parse_json(await read_body(request, MAX_SPEC_BYTES))
    if (context.exposed and isinstance(body, dict) and body.get("operation") == "command"
            and not principal.may_run_commands):
        raise Forbidden(
            f"token {principal.name!r} (role {principal.role.value}) may not run the "
            "command operation on a scheduler reachable beyond loopback: that needs role "
            "command or admin", [{"loc": "operation", "msg": "command not allowed"}])
    # Without tokens there is nobody to own a job (as with `femto run`).
    owner = None if principal is ANYONE else principal.name
    view, created = await run_in_threadpool(context.engine.submit, body, owner)
    return JSONResponse(
        view, status_code=201 if created else 200,
        headers={"Location": f"/v1/jobs/{view['id']}"},
    )


@router.get("", response_model=None, responses={
    200: {"model": list[JobObject], "description": "Newest first, without results", "headers": {
        "X-Total-Count": {"schema": {"type": "integer"}, "description": "jobs that match"},
        "Link": {"schema": {"type": "string"},
                 "description": '<URL of the next page>; rel="next", while there is one'}}}})
def list_jobs(
    request: Request, principal: Caller, engine: CurrentEngine, state: JobState | None = None,
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(None, max_length=64,
                               description="from the Link header of the page before"),
    offset: str | None = Query(None, include_in_schema=False),
) -> JSONResponse:
    """A page of jobs, newest first (no results: GET /v1/jobs/{id} has them); X-Total-Count
    says how many match, and a Link header carries the cursor of the next page."""
    if offset is not None:
        # A client of the old pages would get the first page again and again.
        raise Invalid("offset is no longer accepted: follow the Link header's cursor",
                      [{"loc": "offset", "msg": "use cursor"}])
    jobs, total, following = engine.list_jobs(
        state.value if state else None, owner=principal.owner_filter, limit=limit,
        before=cursors.decode(cursor) if cursor is not None else None)
    return cursors.page(request, jobs, total, following, limit)


@router.get("/{job_id}", response_model=JobObject, responses=errors(404))
def get_job(job_id: str, principal: Caller, engine: CurrentEngine) -> JSONResponse:
    return JSONResponse(engine.job(job_id, owner=principal.owner_filter))


@router.get("/{job_id}/tasks", response_model=list[TaskView], responses=errors(404))
def job_tasks(job_id: str, principal: Caller, engine: CurrentEngine) -> JSONResponse:
    return JSONResponse(engine.task_views(job_id, owner=principal.owner_filter))


@router.delete("/{job_id}", response_model=JobObject, responses=errors(404))
def cancel_job(job_id: str, principal: Caller, engine: CurrentEngine) -> JSONResponse:
    return JSONResponse(engine.cancel(job_id, owner=principal.owner_filter))


@router.delete("/{job_id}/delay", response_model=DelayReset, responses=errors(404))
def reset_delay(job_id: str, principal: Caller, engine: CurrentEngine) -> JSONResponse:
    """End the retry backoff of the job's waiting tasks, as Marathon's DELETE
    /v2/queue/{app}/delay: they launch at the next offer."""
    return JSONResponse(engine.reset_delay(job_id, owner=principal.owner_filter))
