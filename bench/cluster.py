"""A femto scheduler on the embedded cluster in this process, and its HTTP API as a
client sees it."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from femto.service import Options, Service

DONE = frozenset({"FINISHED", "FAILED", "CANCELLED"})


@contextmanager
def femto(state_dir: Path, **overrides: Any) -> Iterator[httpx.Client]:
    """A running femto service (2 agents, real executor processes); a client bound to it."""
    with femto_service(state_dir, **overrides) as (_, client):
        yield client


@contextmanager
def femto_service(state_dir: Path, **overrides: Any) -> Iterator[tuple[Service, httpx.Client]]:
    """As `femto`, with the service itself, for benchmarks that drive its engine."""
    options = Options(master="local", agents=2, listen="127.0.0.1:0", state_dir=state_dir)
    for key, value in overrides.items():
        setattr(options, key, value)
    service = Service(options)
    service.start()
    try:
        with httpx.Client(base_url=service.url, timeout=120.0) as client:
            yield service, client
    finally:
        service.stop()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url} answered "
                           f"{response.status_code}, expected {status}: {response.text[:500]}")
    return response.json()


def upload(client: httpx.Client, name: str, array: np.ndarray, partitions: int) -> None:
    expect(client.put(f"/v1/datasets/{name}", params={"partitions": partitions},
                      content=npy(array)), 201)


def submit(client: httpx.Client, spec: dict[str, Any]) -> str:
    job: dict[str, Any] = expect(client.post("/v1/jobs", json=spec), 201)
    return str(job["id"])


def wait_done(client: httpx.Client, job_id: str, timeout: float, poll: float = 0.01
              ) -> dict[str, Any]:
    """Poll the job until it is over; its state must be FINISHED."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = expect(client.get(f"/v1/jobs/{job_id}"), 200)
        if job["state"] in DONE:
            if job["state"] != "FINISHED":
                raise RuntimeError(f"job {job_id} ended {job['state']}: {job['error']}")
            return job
        time.sleep(poll)
    raise TimeoutError(f"job {job_id} not over after {timeout}s")


def run_job(client: httpx.Client, spec: dict[str, Any], timeout: float, poll: float = 0.01
            ) -> tuple[float, dict]:
    """Seconds from submission to an observed FINISHED, and the finished job."""
    start = time.perf_counter()
    job = wait_done(client, submit(client, spec), timeout, poll)
    return time.perf_counter() - start, job
