"""Submitting workflows and waiting on them over the real API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

import femto.jobs.examples

EXAMPLES = Path(femto.jobs.examples.__file__).parent
DONE = ("FINISHED", "FAILED", "CANCELLED")


def example(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return spec


def submit_workflow(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/workflows", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/workflows/{response.json()['id']}"
    shown: dict[str, Any] = response.json()
    return shown


def wait_workflow(api: httpx.Client, workflow_id: str, until: Any = None,
                  timeout: float = 120.0) -> dict[str, Any]:
    """The workflow once `until` accepts it (default: once it is over)."""
    accept = until or (lambda w: w["state"] in DONE)
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/v1/workflows/{workflow_id}", timeout=30)
        assert response.status_code == 200, response.text
        shown: dict[str, Any] = response.json()
        if accept(shown):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"workflow {workflow_id} not there after {timeout}s: {shown}")
        time.sleep(0.1)


def result(api: httpx.Client, job_id: str) -> Any:
    return api.get(f"/v1/jobs/{job_id}").json()["result"]
