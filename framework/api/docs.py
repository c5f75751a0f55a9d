"""The OpenAPI document and /docs: femto's own error body for every status a route can
answer (never FastAPI's {"detail": ...}), the bearer scheme on /v1, and Swagger UI served
from the fastapi-offline package's copy of it, so /docs works with no network."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from femto.api.bodies import NPY
from femto.api.models import ErrorBody
from femto.events import EVENT_MODELS
from femto.jobs.schemas import job_spec_schema

ASSETS = "/docs/assets"
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
JOB_SPEC_REF = {"$ref": "#/components/schemas/JobSpec"}

STATUS_TEXT = {
    400: "Malformed request (JSON, .npy or a parameter)",
    401: "Missing or wrong bearer token",
    403: "The token's role does not allow this",
    404: "No such job, dataset, partition or attempt",
    409: "Conflicts with what exists (an id, a name, a dataset in use)",
    413: "Body over the size limit",
    422: "A field or parameter that does not validate",
    503: "Not now: the store is unreachable, no leader is elected, or this is a standby",
}
# What every /v1 route can answer, beside its own errors.
V1_ERRORS = (401, 422, 503)
WRITE_ERRORS = (403,)


STANDBY_REDIRECT = {"description": "This is a standby: the same request to the leader, "
                    "whose URL is in Location (method and body kept)"}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these error statuses."""
    return {status: {"model": ErrorBody, "description": STATUS_TEXT[status]}
            for status in statuses}


NPY_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A .npy file", "content": {NPY: {"schema": {
        "type": "string", "format": "binary"}}}}}


def _error_response(status: int) -> dict[str, Any]:
    return {"description": STATUS_TEXT[status],
            "content": {"application/json": {"schema": ERROR_REF}}}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document made femto's: error bodies, security, the job spec schema."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["JobSpec"] = job_spec_schema()
    for model in EVENT_MODELS:  # GET /v1/events's, which FastAPI cannot see in a stream
        schemas[model.__name__] = model.model_json_schema()
    schemas["JobObject"]["properties"]["spec"] = {
        **JOB_SPEC_REF, "description": schemas["JobObject"]["properties"]["spec"].get(
            "description", "")}
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "a token of --api-token or --token-file; none is needed "
                   "when the scheduler serves only loopback without tokens"}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/") and path != "/v1/leader/health":
                operation["security"] = [{"bearer": []}]
                common = V1_ERRORS + (WRITE_ERRORS if method != "get" else ())
                for status in common:
                    responses.setdefault(str(status), _error_response(status))
                if method != "get":
                    responses.setdefault("307", STANDBY_REDIRECT)
            else:
                operation["security"] = []
            if "422" in responses:  # FastAPI's default names its own body: femto's instead
                responses["422"] = _error_response(422)
            if method == "post" and path == "/v1/jobs":
                operation["requestBody"]["content"]["application/json"]["schema"] = JOB_SPEC_REF
    return document


def install(app: FastAPI) -> None:
    """The finished OpenAPI document at /openapi.json, and Swagger UI at /docs."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Only the package's static files: not its FastAPI subclass, whose routes femto's are.
    app.mount(ASSETS, StaticFiles(directory=str(resources.files("fastapi_offline") / "static")),
              name="swagger-ui")
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="femto API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url=None,
        )

    app.include_router(router)
