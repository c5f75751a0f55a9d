"""A femto scheduler in this process, on the embedded cluster, for the tests."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from femto.service import Options, Service
from tests.waiting import wait_for

DONE = {"FINISHED", "FAILED", "CANCELLED"}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@contextmanager
def running_service(state_dir: Path, **overrides: Any) -> Iterator[tuple[Service, httpx.Client]]:
    options = Options(
        master="local", agents=2, listen="127.0.0.1:0", state_dir=state_dir,
        retry_backoff=0.2, launch_timeout=30.0, locality_wait=0.5,
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    service = Service(options)
    service.start()
    try:
        with httpx.Client(base_url=service.url, timeout=60.0) as client:
            yield service, client
    finally:
        service.stop()


def upload(client: httpx.Client, name: str, array: np.ndarray, partitions: int) -> None:
    response = client.put(f"/v1/datasets/{name}", params={"partitions": partitions},
                          content=npy(array))
    assert response.status_code == 201, response.text


def submit(client: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    assert job["state"] == "PENDING"
    return job


def wait_done(client: httpx.Client, job_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in DONE:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not done after {timeout}s: {job}")



def fetch(client: httpx.Client, name: str) -> np.ndarray:
    response = client.get(f"/v1/datasets/{name}/data")
    assert response.status_code == 200, response.text
    return np.load(io.BytesIO(response.content))


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    def up() -> bool:
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout, f"{url} to answer")
