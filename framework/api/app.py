"""The HTTP API (DESIGN.md, HTTP API): jobs, datasets, leader, health, metrics."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from framework.api.bodies import (
    MAX_SPEC_BYTES,
    NPY,
    NPY_BODY_DOC,
    json_body_doc,
    parse_json,
    read_body,
)
from framework.api.caller import WRITES, Caller, authorize
from framework.api.executor_io import executor_router
from framework.api.logs import logs_router
from framework.api.metrics import render_metrics
from framework.auth import ANYONE, Tokens
from framework.datasets import Datasets
from framework.engine import Engine
from framework.errors import (
    FemtoError,
    Forbidden,
    Unauthorized,
    Unavailable,
    error_details,
)
from framework.lifecycle import JobState
from framework.store import Fenced, StoreUnavailable
from jobs.schemas import job_spec_schema, register_dataset_schema

log = logging.getLogger(__name__)


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location

class ServiceInfo(Protocol):
    """What the API needs of the scheduler process it serves."""

    url: str
    engine: Engine | None
    datasets: Datasets | None

    @property
    def health_problem(self) -> str | None: ...

    @property
    def mesos_connected(self) -> bool: ...

    @property
    def is_leader(self) -> bool: ...

    def leader_url(self) -> str | None: ...

    def master_url(self) -> str | None: ...


def error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "details": details or []}, status_code=status)


MAX_PAGE = 10_000  # jobs in one GET /v1/jobs


def create_app(
    service: ServiceInfo, *, tokens: Tokens | None, attempt_key: bytes,
    max_upload: int = 4 << 30, exposed: bool = False,
) -> FastAPI:
    """`tokens` None: every client is admin (a loopback scheduler). `exposed`: the API is
    reachable beyond loopback, so the command operation needs a role that allows it."""
    app = FastAPI(title="femto", version="0.1.0", description="Scientific data jobs on Mesos")
    datasets = service.datasets
    assert datasets is not None

    def current_engine() -> Engine:
        engine = service.engine
        assert engine is not None, "the service builds its engine before serving"
        return engine

    app.state.tokens = tokens

    async def leader_only(request: Request) -> None:
        """A standby serves reads; writes go to the leader (307 keeps method and body)."""
        if request.method not in WRITES or service.is_leader:
            return
        leader = await run_in_threadpool(service.leader_url)  # may ask ZooKeeper
        if not leader or leader == service.url:
            raise Unavailable("no leader is elected right now; retry shortly")
        target = leader + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(target)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize), Depends(leader_only)])

    # ----- datasets -----

    @v1.put("/datasets/{name}", status_code=201, openapi_extra=NPY_BODY_DOC)
    async def upload_dataset(
        name: str, request: Request, partitions: int | None = Query(None, ge=1)
    ) -> dict[str, Any]:
        body = await read_body(request, max_upload)
        doc = await run_in_threadpool(datasets.upload, name, body, partitions)
        return Datasets.view(doc)

    @v1.post("/datasets", status_code=201,
             openapi_extra=json_body_doc(register_dataset_schema()))
    async def register_dataset(request: Request) -> dict[str, Any]:
        body = parse_json(await read_body(request, MAX_SPEC_BYTES))
        return Datasets.view(await run_in_threadpool(datasets.register, body))

    @v1.get("/datasets")
    def list_datasets() -> list[dict[str, Any]]:
        return [Datasets.view(d) for d in datasets.all()]

    @v1.get("/datasets/{name}")
    def get_dataset(name: str) -> dict[str, Any]:
        return Datasets.view(datasets.get(name))

    @v1.get("/datasets/{name}/data")
    def dataset_data(name: str) -> Response:
        return Response(datasets.whole_npy(name), media_type=NPY)

    @v1.get("/datasets/{name}/partitions/{index}")
    def dataset_partition(name: str, index: int) -> Response:
        return Response(datasets.partition_npy(name, index), media_type=NPY)

    @v1.delete("/datasets/{name}", status_code=204)
    def delete_dataset(name: str) -> Response:
        current_engine().delete_dataset(name)
        return Response(status_code=204)

    # ----- jobs -----

    @v1.post("/jobs", status_code=201, openapi_extra=json_body_doc(job_spec_schema()))
    async def submit_job(
        request: Request, principal: Caller
    ) -> JSONResponse:
        body = parse_json(await read_body(request, MAX_SPEC_BYTES))
        if (exposed and isinstance(body, dict) and body.get("operation") == "command"
                and not principal.may_run_commands):
            raise Forbidden(
                f"token {principal.name!r} (role {principal.role.value}) may not run the "
                "command operation on a scheduler reachable beyond loopback: that needs role "
                "command or admin", [{"loc": "operation", "msg": "command not allowed"}])
        # Without tokens there is nobody to own a job (as with `femto run`).
        owner = None if principal is ANYONE else principal.name
        view, created = await run_in_threadpool(current_engine().submit, body, owner)
        return JSONResponse(
            view, status_code=201 if created else 200,
            headers={"Location": f"/v1/jobs/{view['id']}"},
        )

    # A principal that sees only its own jobs gets a 404 for another's: not even whether
    # the id exists is told.
    @v1.get("/jobs", response_model=list[dict[str, Any]])
    def list_jobs(
        request: Request, principal: Caller, state: JobState | None = None,
        offset: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=MAX_PAGE),
    ) -> JSONResponse:
        """A page of jobs (no results: GET /v1/jobs/{id} has them); X-Total-Count says how
        many there are, and a Link header points to the next page."""
        jobs, total = current_engine().list_jobs(
            state.value if state else None, owner=principal.owner_filter, offset=offset,
            limit=limit)
        headers = {"X-Total-Count": str(total)}
        if offset + len(jobs) < total:
            following = request.url.include_query_params(offset=offset + len(jobs), limit=limit)
            headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
        return JSONResponse(jobs, headers=headers)

    @v1.get("/jobs/{job_id}")
    def get_job(job_id: str, principal: Caller) -> dict[str, Any]:
        return current_engine().job(job_id, owner=principal.owner_filter)

    @v1.get("/jobs/{job_id}/tasks")
    def job_tasks(
        job_id: str, principal: Caller
    ) -> list[dict[str, Any]]:
        return current_engine().task_views(job_id, owner=principal.owner_filter)

    @v1.delete("/jobs/{job_id}")
    def cancel_job(job_id: str, principal: Caller) -> dict[str, Any]:
        return current_engine().cancel(job_id, owner=principal.owner_filter)

    # ----- cluster -----

    @v1.get("/leader")
    def leader() -> dict[str, Any]:
        url = service.leader_url()
        return {"leader": url.split("://", 1)[-1] if url else None,
                "is_leader": service.is_leader}

    v1.include_router(logs_router(current_engine, service.master_url))
    app.include_router(v1)
    app.state.attempt_key = attempt_key
    app.include_router(executor_router(current_engine, datasets, max_upload, leader_only))

    @app.get("/health")
    def health() -> JSONResponse:
        """200 while this scheduler can do its work; 503 naming what keeps it from it."""
        problem = service.health_problem
        return JSONResponse(
            {"status": "ok" if problem is None else "degraded", "problem": problem,
             "is_leader": service.is_leader, "mesos_connected": service.mesos_connected},
            status_code=200 if problem is None else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        return render_metrics(current_engine(), service.mesos_connected, service.is_leader)

    dashboard = resources.files("framework.api").joinpath("static/dashboard.html").read_text()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return dashboard

    # ----- errors: always JSON, never a 5xx for bad input -----

    @app.exception_handler(FemtoError)
    async def femto_error(request: Request, exc: FemtoError) -> JSONResponse:
        response = error(exc.status, exc.message, exc.details)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="femto"'
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = error_details(exc.errors())
        return error(422, "invalid request: " + "; ".join(
            f"{d['loc']}: {d['msg']}" for d in details), details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Redirect)
    async def redirect(request: Request, exc: Redirect) -> Response:
        return Response(status_code=307, headers={"Location": exc.location})

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return error(503, f"store unavailable: {exc}")

    @app.exception_handler(Fenced)
    async def fenced(request: Request, exc: Fenced) -> JSONResponse:
        return error(503, f"this scheduler is no longer the leader: {exc}")

    return app
