"""The scheduler itself: who leads (/v1/leader), its health, its metrics, its dashboard."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from femto.api.context import Context
from femto.api.metrics import render_metrics

leader_router = APIRouter()  # under /v1, with its authorization
router = APIRouter()

DASHBOARD = resources.files("femto.api").joinpath("static/dashboard.html").read_text()


@leader_router.get("/leader")
def leader(context: Context) -> dict[str, Any]:
    url = context.service.leader_url()
    return {"leader": url.split("://", 1)[-1] if url else None,
            "is_leader": context.service.is_leader}


@router.get("/health")
def health(context: Context) -> JSONResponse:
    """200 while this scheduler can do its work; 503 naming what keeps it from it."""
    service = context.service
    problem = service.health_problem
    return JSONResponse(
        {"status": "ok" if problem is None else "degraded", "problem": problem,
         "is_leader": service.is_leader, "mesos_connected": service.mesos_connected},
        status_code=200 if problem is None else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(context: Context) -> str:
    service = context.service
    return render_metrics(context.engine, service.mesos_connected, service.is_leader)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> str:
    return DASHBOARD

