"""A job whose tasks no agent can hold says so, on an embedded cluster of small agents,
while the jobs that fit run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.framework.helpers import running_service, submit, upload, wait_done
from tests.waiting import wait_for

FEMTO = shutil.which("femto", path=str(Path(sys.executable).parent)) or "femto"
AGENT_CPUS, AGENT_MEM = 1.0, 512.0


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto"), agent_cpus=AGENT_CPUS,
                         agent_mem=AGENT_MEM) as (service, client):
        upload(client, "d", np.arange(100.0), 2)
        yield service, client


def spec(name: str, cpus: float, mem: float) -> dict:
    return {"name": name, "operation": "sum", "inputs": ["d"],
            "resources": {"cpus": cpus, "mem": mem}}


def waiting(client: httpx.Client, job_id: str) -> str | None:
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "PENDING", job  # kept: a bigger agent may join
    reason: str | None = job["waiting"]
    return reason


@pytest.mark.parametrize(("cpus", "mem", "needs"), [
    (2.0, 64.0, "needs cpus 2, mem 64"),
    (0.25, 4096.0, "needs cpus 0.25, mem 4096"),
    # Fits an agent's cpus alone, but not beside the executor the agent must also run.
    (1.0, 64.0, "needs cpus 1, mem 64"),
])
def test_a_job_no_agent_can_hold_says_why_and_stays_pending(
    small: tuple[Service, httpx.Client], cpus: float, mem: float, needs: str
) -> None:
    _, client = small
    job = submit(client, spec("too-big", cpus, mem))
    reason = wait_for(lambda: waiting(client, job["id"]), 15, "a waiting reason")
    assert reason.startswith("no agent offers enough for a task")
    assert needs in reason and "executor's cpus 0.1, mem 128" in reason
    # localmesos offers every free resource; no task of femto's holds any now.
    assert reason.endswith(f"the most any agent offered is cpus {AGENT_CPUS:g}, "
                           f"mem {AGENT_MEM:g}")
    assert client.delete(f"/v1/jobs/{job['id']}").json()["state"] == "CANCELLED"


def test_a_job_that_fits_runs_beside_one_that_cannot_and_shows_no_reason(
    small: tuple[Service, httpx.Client],
) -> None:
    service, client = small
    big = submit(client, spec("too-big", 8.0, 64.0))
    fits = submit(client, spec("fits", 0.25, 64.0))
    done = wait_done(client, fits["id"])
    assert done["state"] == "FINISHED" and done["waiting"] is None
    assert done["result"] == {"value": float(np.arange(100.0).sum())}
    reason = wait_for(lambda: waiting(client, big["id"]), 15, "a waiting reason")
    env = {**os.environ, "FEMTO_URL": service.url}
    status = subprocess.run([FEMTO, "--json", "status", big["id"]], capture_output=True, text=True,
                            env=env, timeout=60, check=True)
    assert json.loads(status.stdout)["waiting"] == reason
    cancelled = client.delete(f"/v1/jobs/{big['id']}").json()
    assert cancelled["state"] == "CANCELLED" and cancelled["waiting"] is None
