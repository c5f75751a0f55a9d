"""/v1/jobs: submit, list, read and cancel jobs.

A principal that sees only its own jobs gets a 404 for another's: not even whether the id
exists is told.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from femto.api.bodies import MAX_SPEC_BYTES, json_body_doc, parse_json, read_body
from femto.api.caller import Caller
from femto.api.context import Context, CurrentEngine
from femto.auth import ANYONE
from femto.errors import Forbidden
from femto.jobs.schemas import job_spec_schema
from femto.lifecycle import JobState

MAX_PAGE = 10_000  # jobs in one GET /v1/jobs

router = APIRouter(prefix="/jobs")


@router.post("", status_code=201, openapi_extra=json_body_doc(job_spec_schema()))
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


@router.get("", response_model=list[dict[str, Any]])
def list_jobs(
    request: Request, principal: Caller, engine: CurrentEngine, state: JobState | None = None,
    offset: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=MAX_PAGE),
) -> JSONResponse:
    """A page of jobs (no results: GET /v1/jobs/{id} has them); X-Total-Count says how
    many there are, and a Link header points to the next page."""
    jobs, total = engine.list_jobs(
        state.value if state else None, owner=principal.owner_filter, offset=offset,
        limit=limit)
    headers = {"X-Total-Count": str(total)}
    if offset + len(jobs) < total:
        following = request.url.include_query_params(offset=offset + len(jobs), limit=limit)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return JSONResponse(jobs, headers=headers)


@router.get("/{job_id}")
def get_job(job_id: str, principal: Caller, engine: CurrentEngine) -> dict[str, Any]:
    return engine.job(job_id, owner=principal.owner_filter)


@router.get("/{job_id}/tasks")
def job_tasks(job_id: str, principal: Caller, engine: CurrentEngine) -> list[dict[str, Any]]:
    return engine.task_views(job_id, owner=principal.owner_filter)


@router.delete("/{job_id}")
def cancel_job(job_id: str, principal: Caller, engine: CurrentEngine) -> dict[str, Any]:
    return engine.cancel(job_id, owner=principal.owner_filter)
