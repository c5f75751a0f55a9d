"""/v1/workflows: submit, list, read and cancel workflows (DAGs of jobs).

Owner rules as for jobs: a principal that sees only its own workflows gets a 404 for
another's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from femto.api import cursors
from femto.api.bodies import MAX_SPEC_BYTES, json_body_doc, parse_json, read_body
from femto.api.caller import Caller
from femto.api.context import Context, CurrentWorkflows
from femto.api.docs import errors
from femto.api.jobs import DEFAULT_PAGE, MAX_PAGE
from femto.api.models import WorkflowObject
from femto.auth import ANYONE
from femto.errors import Forbidden
from femto.jobs.names import NAME_PATTERN
from femto.jobs.schemas import job_spec_schema
from femto.workflows.rules import WorkflowState
from femto.workflows.spec import MAX_STEPS

router = APIRouter(prefix="/workflows")


def _step_schema(variant: dict[str, Any]) -> dict[str, Any]:
    """A job spec variant as a step: no id (the workflow picks it), name optional, `keep`,
    and inputs that may be "@step"."""
    properties = {k: v for k, v in variant["properties"].items() if k != "id"}
    inputs = properties["inputs"]
    properties["inputs"] = {**inputs, "items": {
        **inputs["items"], "pattern": "^@?" + inputs["items"]["pattern"].removeprefix("^")}}
    properties["keep"] = {"type": "boolean", "default": True,
                          "description": "false: delete the output once its readers finished"}
    return {**variant, "title": variant["title"].replace("JobSpec", "Step"),
            "properties": properties,
            "required": [r for r in variant["required"] if r != "name"]}


def _body_schema() -> dict[str, Any]:
    step = {"title": "Step", "oneOf": [_step_schema(v) for v in job_spec_schema()["oneOf"]]}
    return {
        "title": "WorkflowSpec", "type": "object", "required": ["name", "steps"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN},
            "id": {"type": "string", "format": "uuid"},
            "steps": {"type": "object", "additionalProperties": step, "minProperties": 1,
                      "maxProperties": MAX_STEPS,
                      "description": 'each a job spec; "@step" in inputs names the output '
                                     "of that transform step"},
        },
    }


@router.post("", status_code=201, openapi_extra=json_body_doc(_body_schema()),
             response_model=None,
             responses={201: {"model": WorkflowObject, "description": "Submitted"},
                        200: {"model": WorkflowObject,
                              "description": "Submitted before with this id and body"},
                        **errors(400, 409, 413, 422)})
async def submit_workflow(request: Request, principal: Caller, context: Context,
                          workflows: CurrentWorkflows) -> JSONResponse:
    body = parse_json(await read_body(request, MAX_SPEC_BYTES))
    steps = body.get("steps") if isinstance(body, dict) else None
    if context.exposed and not principal.may_run_commands and isinstance(steps, dict):
        for name, spec in steps.items():
            if isinstance(spec, dict) and spec.get("operation") == "command":
                raise Forbidden(
                    f"token {principal.name!r} (role {principal.role.value}) may not run the "
                    "command operation on a scheduler reachable beyond loopback: that needs "
                    "role command or admin",
                    [{"loc": f"steps.{name}.operation", "msg": "command not allowed"}])
    owner = None if principal is ANYONE else principal.name
    view, created = await run_in_threadpool(workflows.submit, body, owner)
    return JSONResponse(view, status_code=201 if created else 200,
                        headers={"Location": f"/v1/workflows/{view['id']}"})


@router.get("", response_model=None, responses={
    200: {"model": list[WorkflowObject], "description": "Newest first", "headers": {
        "X-Total-Count": {"schema": {"type": "integer"}, "description": "workflows that match"},
        "Link": {"schema": {"type": "string"},
                 "description": '<URL of the next page>; rel="next", while there is one'}}}})
def list_workflows(
    request: Request, principal: Caller, workflows: CurrentWorkflows,
    state: WorkflowState | None = None, limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(None, max_length=64,
                               description="from the Link header of the page before"),
) -> JSONResponse:
    """A page of workflows, newest first, as GET /v1/jobs."""
    page, total, following = workflows.list_workflows(
        state.value if state else None, principal.owner_filter, limit=limit,
        before=cursors.decode(cursor) if cursor is not None else None)
    return cursors.page(request, page, total, following, limit)


@router.get("/{workflow_id}", response_model=WorkflowObject, responses=errors(404))
def get_workflow(workflow_id: str, principal: Caller,
                 workflows: CurrentWorkflows) -> JSONResponse:
    return JSONResponse(workflows.get(workflow_id, principal.owner_filter))


@router.delete("/{workflow_id}", response_model=WorkflowObject, responses=errors(404))
def cancel_workflow(workflow_id: str, principal: Caller,
                    workflows: CurrentWorkflows) -> JSONResponse:
    """Cancel every unfinished step's job; steps not yet submitted are SKIPPED. A finished
    workflow is returned unchanged."""
    return JSONResponse(workflows.cancel(workflow_id, principal.owner_filter))
