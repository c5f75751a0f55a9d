"""The HTTP API (DESIGN.md, HTTP API): the app, its error handlers, and the routers by
resource (jobs, datasets, logs, the service itself under /v1; the executors' routes apart)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from femto.api import docs
from femto.api.caller import authorize
from femto.api.cluster import router as cluster_router
from femto.api.context import ApiContext, Redirect, ServiceInfo, leader_only
from femto.api.datasets import router as datasets_router
from femto.api.events import router as events_router
from femto.api.executor_io import router as executor_router
from femto.api.jobs import router as jobs_router
from femto.api.logs import router as logs_router
from femto.api.metrics import LatencyMiddleware, Metrics
from femto.api.operations import router as operations_router
from femto.api.queue import router as queue_router
from femto.api.service import leader_router
from femto.api.service import router as service_router
from femto.api.streams import router as streams_router
from femto.api.triggers import router as triggers_router
from femto.api.workflows import router as workflows_router
from femto.auth import Tokens
from femto.errors import FemtoError, Unauthorized, error_details
from femto.store import Fenced, StoreUnavailable


def error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "details": details or []}, status_code=status)


def create_app(
    service: ServiceInfo, *, tokens: Tokens | None, attempt_key: bytes,
    max_upload: int = 4 << 30, exposed: bool = False,
) -> FastAPI:
    """`tokens` None: every client is admin (a loopback scheduler). `exposed`: the API is
    reachable beyond loopback, so the command operation needs a role that allows it."""
    app = FastAPI(title="femto", version="0.1.0", description="Scientific data jobs on Mesos",
                  docs_url=None, redoc_url=None)
    assert service.datasets is not None
    metrics = Metrics(service)
    app.state.context = ApiContext(service, service.datasets, tokens, attempt_key, max_upload,
                                   exposed, metrics)
    app.add_middleware(LatencyMiddleware, metrics=metrics, routes=app.router.routes)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize), Depends(leader_only)])
    v1.include_router(cluster_router)
    v1.include_router(datasets_router)
    v1.include_router(events_router)
    v1.include_router(jobs_router)
    v1.include_router(leader_router)
    v1.include_router(logs_router)
    v1.include_router(queue_router)
    v1.include_router(workflows_router)
    v1.include_router(triggers_router)
    v1.include_router(operations_router)
    v1.include_router(streams_router)
    app.include_router(v1)
    app.include_router(executor_router)
    app.include_router(service_router)
    # The dashboard's scripts, styles and vendored chart library: no CDN, no token needed.
    app.mount("/static", StaticFiles(packages=[("femto.api", "static")]), name="static")
    docs.install(app)
    _handle_errors(app)
    return app


def _handle_errors(app: FastAPI) -> None:
    """Errors are always JSON, and bad input never gives a 5xx."""

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
