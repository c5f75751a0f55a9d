"""The OpenAPI document describes what femto really answers, and /docs works offline."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema_rs  # schemathesis's JSON Schema validator
import pytest
from pydantic import BaseModel

from femto.api.models import (
    ClusterView,
    DatasetView,
    DelayReset,
    Health,
    JobObject,
    Leader,
    LeaderHealth,
    QueueEntry,
    TaskView,
)
from femto.jobs.operations import operation_names
from tests.framework.helpers import submit, wait_done
from tests.workflows.helpers import example

ROUTES = {
    ("/v1/jobs", "post"), ("/v1/jobs", "get"), ("/v1/jobs/{job_id}", "get"),
    ("/v1/jobs/{job_id}", "delete"), ("/v1/jobs/{job_id}/tasks", "get"),
    ("/v1/jobs/{job_id}/delay", "delete"), ("/v1/jobs/{job_id}/tasks/{partition}/logs", "get"),
    ("/v1/datasets", "post"), ("/v1/datasets", "get"), ("/v1/datasets/{name}", "put"),
    ("/v1/datasets/{name}", "get"), ("/v1/datasets/{name}", "delete"),
    ("/v1/datasets/{name}/data", "get"), ("/v1/datasets/{name}/partitions/{index}", "get"),
    ("/v1/queue", "get"), ("/v1/leader", "get"), ("/v1/leader/health", "get"),
    ("/v1/events", "get"), ("/v1/cluster", "get"), ("/health", "get"), ("/metrics", "get"),
    ("/v1/workflows", "post"), ("/v1/workflows", "get"), ("/v1/workflows/{workflow_id}", "get"),
    ("/v1/workflows/{workflow_id}", "delete"),
    ("/v1/triggers", "post"), ("/v1/triggers", "get"), ("/v1/triggers/{name}", "get"),
    ("/v1/triggers/{name}", "delete"), ("/v1/triggers/{name}/pause", "post"),
    ("/v1/triggers/{name}/resume", "post"),
    ("/v1/operations", "get"),
    ("/v1/datasets/{name}/partitions", "post"), ("/v1/datasets/{name}/close", "post"),
}
ERROR = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def document(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items()
            for method, op in ops.items()]


def test_every_public_route_is_documented_and_no_executor_route(
    document: dict[str, Any],
) -> None:
    documented = {(path, method) for path, method, _ in operations(document)}
    assert documented == ROUTES
    assert not any(path.startswith("/executor") for path in document["paths"])


def test_errors_are_femtos_body_for_each_status_never_fastapis_detail(
    document: dict[str, Any],
) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and '"detail"' not in text
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "error", "details"}
    for path, method, op in operations(document):
        errors = {status: r for status, r in op["responses"].items() if status[0] in "45"}
        if path.startswith("/v1/") and path != "/v1/leader/health":
            assert {"401", "422", "503"} <= set(errors), (path, method)
        if method in ("put", "post", "delete") and path.startswith("/v1/"):
            assert "403" in errors and "307" in op["responses"], (path, method)
        if "{" in path and (path, method) != ("/v1/datasets/{name}", "put"):
            assert "404" in errors, (path, method)
        for status, response in errors.items():
            if path == "/health":
                continue  # its 503 is its own degraded body
            assert response["content"]["application/json"]["schema"] == ERROR, (path, status)
    submit_job = document["paths"]["/v1/jobs"]["post"]["responses"]
    assert {"400", "404", "409", "413"} <= set(submit_job)


def test_the_job_spec_and_job_object_are_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    variants = schemas["JobSpec"]["oneOf"]
    assert {v["properties"]["operation"]["const"] for v in variants} == set(operation_names())
    body = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/JobSpec"}
    job = schemas["JobObject"]["properties"]
    assert job["spec"]["$ref"] == "#/components/schemas/JobSpec"
    assert set(schemas["TaskCounts"]["properties"]) == {
        "total", "pending", "running", "finished", "failed", "killed"}
    ok = document["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobObject"}
    listed = document["paths"]["/v1/jobs"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/JobObject"}
    assert {"Link", "X-Total-Count"} <= set(listed["headers"])
    params = {p["name"] for p in document["paths"]["/v1/jobs"]["get"]["parameters"]}
    assert params == {"state", "limit", "cursor"}


def test_npy_routes_are_octet_streams(document: dict[str, Any]) -> None:
    paths = document["paths"]
    upload = paths["/v1/datasets/{name}"]["put"]["requestBody"]["content"]
    assert set(upload) == {"application/octet-stream"}
    for path in ("/v1/datasets/{name}/data", "/v1/datasets/{name}/partitions/{index}"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {
            "application/octet-stream"}


def test_v1_routes_need_the_bearer_scheme_and_probes_need_none(
    document: dict[str, Any],
) -> None:
    bearer = document["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    for path, method, op in operations(document):
        if path in ("/health", "/metrics", "/v1/leader/health"):
            assert op["security"] == [], path
        else:
            assert op["security"] == [{"bearer": []}], (path, method)


def check(model: type[BaseModel], body: Any) -> None:
    for item in body if isinstance(body, list) else [body]:
        model.model_validate(item)


def test_real_responses_validate_against_the_documented_models(api: httpx.Client) -> None:
    job = submit(api, {"name": "described", "operation": "sum", "inputs": ["d"]})
    check(JobObject, job)
    check(JobObject, wait_done(api, job["id"]))
    check(JobObject, api.get("/v1/jobs").json())
    check(TaskView, api.get(f"/v1/jobs/{job['id']}/tasks").json())
    check(DelayReset, api.delete(f"/v1/jobs/{job['id']}/delay").json())
    check(DatasetView, api.get("/v1/datasets").json())
    check(DatasetView, api.get("/v1/datasets/d").json())
    check(QueueEntry, api.get("/v1/queue").json())
    check(Leader, api.get("/v1/leader").json())
    check(LeaderHealth, api.get("/v1/leader/health").json())
    check(Health, api.get("/health").json())
    check(ClusterView, api.get("/v1/cluster").json())


def test_docs_load_swagger_ui_from_femto_itself(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    assert "//" not in page.text.replace("http-equiv", "")  # no URL of another host
    for asset in assets:
        assert asset.startswith("/"), asset
        fetched = api.get(asset)
        assert fetched.status_code == 200 and fetched.content, asset
    assert "url: '/openapi.json'" in page.text


def test_the_event_stream_documents_each_event_type(document: dict[str, Any]) -> None:
    stream = document["paths"]["/v1/events"]["get"]["responses"]
    refs = stream["200"]["content"]["text/event-stream"]["schema"]["oneOf"]
    names = {ref["$ref"].rsplit("/", 1)[1] for ref in refs}
    assert names >= {"JobEvent", "TaskEvent", "ProgressEvent", "ResetEvent"}
    assert names <= set(document["components"]["schemas"])
    assert "307" in stream  # a standby sends the client to the leader


def test_the_workflow_spec_is_documented_and_the_examples_fit_it(
        document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/workflows"]["post"]["requestBody"]["content"]
    schema = {**body["application/json"]["schema"], "components": document["components"]}
    validator = jsonschema_rs.validator_for(schema)
    for name in ("signal-pipeline", "signal-diamond"):
        assert validator.is_valid(example(name)), list(validator.iter_errors(example(name)))
    assert not validator.is_valid({"name": "w", "steps": {"a": {
        "operation": "sum", "inputs": ["signal"], "id": "x"}}})
    ok = document["paths"]["/v1/workflows/{workflow_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkflowObject"}
    params = {p["name"] for p in document["paths"]["/v1/events"]["get"]["parameters"]}
    assert {"job", "workflow"} <= params
