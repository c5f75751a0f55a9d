"""The scheduler itself: who leads (/v1/leader, /v1/leader/health), its health, its
metrics, its dashboard."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from femto.api.context import Context
from femto.api.docs import errors
from femto.api.metrics import CONTENT_TYPE, render
from femto.api.models import ErrorBody, Health, Leader, LeaderHealth

leader_router = APIRouter()  # under /v1, with its authorization
router = APIRouter()

DASHBOARD = resources.files("femto.api").joinpath("static/dashboard.html").read_text()


@leader_router.get("/leader", response_model=Leader)
def leader(context: Context) -> JSONResponse:
    url = context.service.leader_url()
    return JSONResponse({"leader": url.split("://", 1)[-1] if url else None,
                         "is_leader": context.service.is_leader})


@router.get("/v1/leader/health", response_model=LeaderHealth, responses={
    503: {"model": ErrorBody, "description": "This scheduler is a standby"}})
def leader_health(context: Context) -> JSONResponse:
    """For load balancers (as Aurora's /leaderhealth): 200 on the leader only. No token."""
    if context.service.is_leader:
        return JSONResponse({"is_leader": True})
    # Without a token: where the leader is stays for GET /v1/leader, which needs one.
    return JSONResponse({"error": "this scheduler is a standby",
                         "details": [{"loc": "is_leader", "msg": "false"}]},
                        status_code=503)


@router.get("/health", response_model=Health, responses={
    503: {"model": Health, "description": "Degraded: `problem` says why"}})
def health(context: Context) -> JSONResponse:
    """200 while this scheduler can do its work; 503 naming what keeps it from it."""
    service = context.service
    problem = service.health_problem
    return JSONResponse(
        {"status": "ok" if problem is None else "degraded", "problem": problem,
         "is_leader": service.is_leader, "mesos_connected": service.mesos_connected},
        status_code=200 if problem is None else 503)


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text exposition", "content": {CONTENT_TYPE: {
        "schema": {"type": "string"}}}}, **errors(503)})
def metrics(context: Context) -> Response:
    return Response(render(context.metrics), media_type=CONTENT_TYPE)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> str:
    return DASHBOARD
