"""The HTTP API (DESIGN.md, HTTP API): jobs, datasets, leader, health, metrics."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from framework.api.logs import logs_router
from framework.api.metrics import render_metrics
from framework.datasets import Datasets
from framework.engine import Engine
from framework.errors import (
    BadRequest,
    Conflict,
    FemtoError,
    TooLarge,
    Unauthorized,
    Unavailable,
    error_details,
)
from framework.states import JobState
from framework.store import Fenced, StoreUnavailable

log = logging.getLogger(__name__)


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location

MAX_SPEC_BYTES = 1 << 20
NPY = "application/octet-stream"


class ServiceInfo(Protocol):
    """What the API needs of the scheduler process it serves."""

    url: str
    engine: Engine | None
    datasets: Datasets | None
    problem: str | None

    @property
    def mesos_connected(self) -> bool: ...

    @property
    def is_leader(self) -> bool: ...

    def leader_url(self) -> str | None: ...

    def master_url(self) -> str | None: ...


def error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "details": details or []}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body of {declared} bytes is over the limit of {limit}", [{"loc": "body"}])
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is over the limit of {limit} bytes", [{"loc": "body"}])
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", [{"loc": "body", "msg": str(exc)}]) from exc


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def create_app(service: ServiceInfo, *, token: str | None, max_upload: int = 4 << 30) -> FastAPI:
    app = FastAPI(title="femto", version="0.1.0", description="Scientific data jobs on Mesos")
    datasets = service.datasets
    assert datasets is not None

    def current_engine() -> Engine:
        engine = service.engine
        assert engine is not None, "the service builds its engine before serving"
        return engine

    # Dependencies are async: a sync one costs every request a trip through the thread pool.
    async def authorize(request: Request) -> None:
        if token and request.headers.get("authorization") != f"Bearer {token}":
            raise Unauthorized("missing or wrong bearer token", [{"loc": "Authorization"}])

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

    @v1.put("/datasets/{name}", status_code=201)
    async def upload_dataset(
        name: str, request: Request, partitions: int | None = Query(None, ge=1)
    ) -> dict[str, Any]:
        body = await read_body(request, max_upload)
        doc = await run_in_threadpool(datasets.upload, name, body, partitions)
        return Datasets.view(doc)

    @v1.post("/datasets", status_code=201)
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
        datasets.get(name)
        if name in current_engine().busy_datasets():
            raise Conflict(f"dataset {name!r} is an input of a running job", [{"loc": "name"}])
        datasets.delete(name)
        return Response(status_code=204)

    # ----- jobs -----

    @v1.post("/jobs", status_code=201)
    async def submit_job(request: Request) -> JSONResponse:
        body = parse_json(await read_body(request, MAX_SPEC_BYTES))
        view, created = await run_in_threadpool(current_engine().submit, body)
        return JSONResponse(
            view, status_code=201 if created else 200,
            headers={"Location": f"/v1/jobs/{view['id']}"},
        )

    @v1.get("/jobs")
    def list_jobs(state: JobState | None = None) -> list[dict[str, Any]]:
        return current_engine().list_jobs(state.value if state else None)

    @v1.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        return current_engine().job(job_id)

    @v1.get("/jobs/{job_id}/tasks")
    def job_tasks(job_id: str) -> list[dict[str, Any]]:
        return current_engine().task_views(job_id)

    @v1.delete("/jobs/{job_id}")
    def cancel_job(job_id: str) -> dict[str, Any]:
        return current_engine().cancel(job_id)

    @v1.put("/jobs/{job_id}/outputs/{partition}", status_code=201)
    async def job_output(job_id: str, partition: int, request: Request) -> dict[str, Any]:
        body = await read_body(request, max_upload)
        return await run_in_threadpool(current_engine().accept_output, job_id, partition, body)

    # ----- cluster -----

    @v1.get("/leader")
    def leader() -> dict[str, Any]:
        url = service.leader_url()
        return {"leader": url.split("://", 1)[-1] if url else None,
                "is_leader": service.is_leader}

    v1.include_router(logs_router(current_engine, service.master_url))
    app.include_router(v1)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok" if service.problem is None else "degraded",
                "problem": service.problem, "is_leader": service.is_leader,
                "mesos_connected": service.mesos_connected}

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
        return error(exc.status, exc.message, exc.details)

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
