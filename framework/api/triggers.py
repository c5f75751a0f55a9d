"""/v1/triggers: watch a directory (or dataset names) and submit a job or workflow on each
new file (or dataset) once; list, read, pause, resume and delete them.

Owner rules as for jobs: a principal that sees only its own triggers gets a 404 for
another's; each firing's job is submitted as the trigger's owner."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from femto.api.bodies import MAX_SPEC_BYTES, json_body_doc, parse_json, read_body
from femto.api.caller import Caller
from femto.api.context import Context
from femto.api.docs import errors
from femto.api.models import Timestamp
from femto.auth import ANYONE
from femto.errors import Forbidden
from femto.jobs.names import NAME_PATTERN
from femto.triggers.shell import Triggers

router = APIRouter(prefix="/triggers")


class TriggerObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    id: str = Field(description="this trigger's incarnation: a firing's job id derives from it")
    owner: str | None
    state: str = Field(description="ACTIVE or PAUSED")
    watch: dict[str, Any]
    submit: dict[str, Any] = Field(description='the job spec or workflow, with "@new"')
    created: Timestamp
    fired: int = Field(description="files or datasets it has submitted a job on")
    last_event: dict[str, Any] | None = Field(
        description='the latest firing: {"at", "item", "dataset", "job" | "workflow"}')
    errors: list[dict[str, Any]] = Field(
        description='the latest problems, oldest first: {"at", "item", "error"}')


_BODY = {
    "title": "TriggerSpec", "type": "object", "required": ["name", "watch", "submit"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "watch": {"oneOf": [
            {"type": "object", "required": ["directory"], "additionalProperties": False,
             "properties": {
                 "directory": {"type": "string", "description": "under a --data-root"},
                 "pattern": {"type": "string", "default": "*.npy"},
                 "host": {"type": "string", "description": "the agent holding the files"},
                 "partitions": {"type": "integer", "minimum": 1, "default": 8,
                                "description": "row ranges per file, at most one a row"}}},
            {"type": "object", "required": ["datasets"], "additionalProperties": False,
             "properties": {"datasets": {"type": "string", "description": "as raw-*"}}}]},
        "submit": {"type": "object", "description": 'a job spec or a workflow; "@new" in '
                                                    "its inputs names the new dataset"},
    },
}


async def current_triggers(context: Context) -> Triggers:
    triggers = context.service.triggers
    assert triggers is not None, "the service builds them with its engine"
    return triggers


CurrentTriggers = Annotated[Triggers, Depends(current_triggers)]


def _check_commands(body: Any, principal: Caller, exposed: bool) -> None:
    """As POST /v1/jobs: the command operation needs its role beyond loopback."""
    submit = body.get("submit") if isinstance(body, dict) else None
    if not exposed or principal.may_run_commands or not isinstance(submit, dict):
        return
    steps = submit.get("steps")
    specs = steps.values() if isinstance(steps, dict) else [submit]
    if any(isinstance(s, dict) and s.get("operation") == "command" for s in specs):
        raise Forbidden(
            f"token {principal.name!r} (role {principal.role.value}) may not run the command "
            "operation on a scheduler reachable beyond loopback: that needs role command or "
            "admin", [{"loc": "submit.operation", "msg": "command not allowed"}])


@router.post("", status_code=201, openapi_extra=json_body_doc(_BODY), response_model=None,
             responses={201: {"model": TriggerObject, "description": "Created"},
                        **errors(400, 403, 409, 413, 422)})
async def create_trigger(request: Request, principal: Caller, context: Context,
                         triggers: CurrentTriggers) -> JSONResponse:
    body = parse_json(await read_body(request, MAX_SPEC_BYTES))
    _check_commands(body, principal, context.exposed)
    owner = None if principal is ANYONE else principal.name
    view = await run_in_threadpool(triggers.create, body, owner)
    return JSONResponse(view, status_code=201,
                        headers={"Location": f"/v1/triggers/{view['name']}"})


@router.get("", response_model=list[TriggerObject])
def list_triggers(principal: Caller, triggers: CurrentTriggers) -> JSONResponse:
    return JSONResponse(triggers.list_triggers(principal.owner_filter))


@router.get("/{name}", response_model=TriggerObject, responses=errors(404))
def get_trigger(name: str, principal: Caller, triggers: CurrentTriggers) -> JSONResponse:
    return JSONResponse(triggers.get(name, principal.owner_filter))


@router.delete("/{name}", response_model=TriggerObject, responses=errors(404))
def delete_trigger(name: str, principal: Caller, triggers: CurrentTriggers) -> JSONResponse:
    """Stop watching; the jobs and datasets it made stay."""
    return JSONResponse(triggers.delete(name, principal.owner_filter))


@router.post("/{name}/pause", response_model=TriggerObject, responses=errors(404))
def pause_trigger(name: str, principal: Caller, triggers: CurrentTriggers) -> JSONResponse:
    return JSONResponse(triggers.set_paused(name, principal.owner_filter, True))


@router.post("/{name}/resume", response_model=TriggerObject, responses=errors(404))
def resume_trigger(name: str, principal: Caller, triggers: CurrentTriggers) -> JSONResponse:
    """Fire again, on what came while it was paused too."""
    return JSONResponse(triggers.set_paused(name, principal.owner_filter, False))
