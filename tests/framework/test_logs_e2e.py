"""`femto logs` end to end: the console script against a live scheduler on the embedded
cluster, which reads each task's own log through its agent's sandbox file API."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto import sandbox
from femto.errors import NotFound, Unavailable
from femto.service import Service
from localmesos import LocalMesos
from tests.cli.helpers import FEMTO
from tests.framework.helpers import npy, running_service, wait_done
from tests.waiting import wait_for

TOKEN = "t0ken"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("femto"), api_token=TOKEN) as (service, client):
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        response = client.put("/v1/datasets/logs-in", params={"partitions": 2},
                              content=npy(np.arange(6.0)))
        assert response.status_code == 201, response.text
        response = client.put("/v1/datasets/logs-one", params={"partitions": 1},
                              content=npy(np.arange(3.0)))
        assert response.status_code == 201, response.text
        yield service, client


def femto(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEMTO_URL": service.url, "FEMTO_API_TOKEN": TOKEN}
    return subprocess.run([FEMTO, *args], capture_output=True, text=True, env=env, timeout=120)


def command_job(client: httpx.Client, script: str, **spec: Any) -> dict[str, Any]:
    body = {"name": "logs", "operation": "command", "inputs": ["logs-in"],
            "params": {"argv": ["sh", "-c", script]}, "max_retries": 0, **spec}
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def failed_partition(client: httpx.Client, job_id: str) -> int:
    """The partition that failed (its sibling was killed, perhaps before it started)."""
    tasks = client.get(f"/v1/jobs/{job_id}/tasks").json()
    return next(t["partition"] for t in tasks if t["attempts"][-1]["state"] == "TASK_FAILED")


@pytest.fixture(scope="module")
def failed(served: tuple[Service, httpx.Client]) -> dict[str, Any]:
    _, client = served
    job = command_job(client, "echo boom >&2; exit 1")
    done = wait_done(client, job["id"])
    assert done["state"] == "FAILED"
    return done


def test_logs_of_a_failing_command_show_its_stderr(
    served: tuple[Service, httpx.Client], failed: dict[str, Any]
) -> None:
    service, client = served
    partition = failed_partition(client, failed["id"])
    for args in ([failed["id"]], [failed["id"], str(partition), "--stderr"]):
        done = femto(service, "logs", *args)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "boom"
        assert lines[-1] == "TASK_FAILED: CommandError: 'sh' exited with status 1: boom"


def test_stdout_tells_what_femto_did_with_the_task(
    served: tuple[Service, httpx.Client], failed: dict[str, Any]
) -> None:
    service, client = served
    partition = failed_partition(client, failed["id"])
    done = femto(service, "logs", failed["id"], str(partition), "--stdout")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(
        f"command of job {failed['id']}, partition {partition}, attempt 1: started")
    assert lines[-1].endswith("TASK_FAILED: CommandError: 'sh' exited with status 1: boom")


def test_the_api_route_proxies_the_agents_files_read(
    served: tuple[Service, httpx.Client], failed: dict[str, Any]
) -> None:
    service, client = served
    partition = failed_partition(client, failed["id"])
    path = f"/v1/jobs/{failed['id']}/tasks/{partition}/logs"
    assert httpx.get(service.url + path).status_code == 401
    whole = client.get(path).json()
    task = client.get(f"/v1/jobs/{failed['id']}/tasks").json()[partition]
    assert whole["task_id"] == task["attempts"][-1]["task_id"]
    assert whole["agent_id"] == task["attempts"][-1]["agent_id"]
    assert (whole["file"], whole["attempt"], whole["state"]) == ("stderr", 1, "TASK_FAILED")
    assert whole["done"] is True and whole["offset"] == 0
    assert whole["data"].startswith("boom\n")
    assert whole["next_offset"] == len(whole["data"].encode())
    part = client.get(path, params={"offset": 2, "length": 3}).json()
    assert (part["data"], part["offset"], part["next_offset"]) == ("om\n", 2, 5)
    end = client.get(path, params={"offset": whole["next_offset"]}).json()
    assert end["data"] == "" and end["next_offset"] == whole["next_offset"]


def test_an_agent_that_made_no_offer_is_found_through_the_master(
    served: tuple[Service, httpx.Client], failed: dict[str, Any]
) -> None:
    # As after a failover: the new leader has seen no offer from the agent yet.
    service, client = served
    assert service.engine is not None
    service.engine.agent_urls.clear()
    partition = failed_partition(client, failed["id"])
    response = client.get(f"/v1/jobs/{failed['id']}/tasks/{partition}/logs")
    assert response.status_code == 200, response.text
    assert response.json()["data"].startswith("boom\n")


def test_follow_prints_until_the_attempt_ends(served: tuple[Service, httpx.Client]) -> None:
    service, client = served
    job = command_job(client, "echo tick-1 >&2; sleep 3; echo tick-2 >&2; cat")
    path = f"/v1/jobs/{job['id']}/tasks/0/logs"

    def first_tick() -> bool:
        response = client.get(path)
        return response.status_code == 200 and "tick-1" in response.json()["data"]

    wait_for(first_tick, 30, "the first line of the running command")
    done = femto(service, "logs", job["id"], "0", "--follow")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["tick-1", "tick-2"]
    assert wait_done(client, job["id"])["state"] == "FINISHED"


def test_attempts_can_be_chosen(served: tuple[Service, httpx.Client]) -> None:
    service, client = served
    job = command_job(client, "echo failing >&2; exit 2", max_retries=1, inputs=["logs-one"])
    assert wait_done(client, job["id"])["state"] == "FAILED"
    first = femto(service, "logs", job["id"], "0", "--stdout", "--attempt", "1")
    assert first.returncode == 0 and "attempt 1: started" in first.stdout
    latest = femto(service, "logs", job["id"], "0", "--stdout")
    assert latest.returncode == 0 and "attempt 2: started" in latest.stdout
    missing = femto(service, "logs", job["id"], "0", "--attempt", "3")
    assert missing.returncode == 1
    assert "has no attempt 3 (it has 2)" in missing.stderr and "HTTP 404" in missing.stderr


def test_what_is_missing_is_named_with_a_4xx(
    served: tuple[Service, httpx.Client], failed: dict[str, Any]
) -> None:
    service, client = served
    unknown = femto(service, "logs", "no-such-job")
    assert unknown.returncode == 1 and "HTTP 404" in unknown.stderr
    assert "job no-such-job not found" in unknown.stderr
    partition = femto(service, "logs", failed["id"], "7")
    assert partition.returncode == 1
    assert f"job {failed['id']} has no partition 7 (it has 2)" in partition.stderr
    # A task that cannot fit any agent is never launched.
    waiting = command_job(client, "cat", resources={"cpus": 64, "mem": 64})
    never = client.get(f"/v1/jobs/{waiting['id']}/tasks/0/logs")
    assert never.status_code == 404
    assert "has not been launched yet" in never.json()["error"]
    assert client.delete(f"/v1/jobs/{waiting['id']}").status_code == 200
    bad_file = client.get(f"/v1/jobs/{failed['id']}/tasks/0/logs", params={"file": "etc"})
    assert bad_file.status_code == 422


def test_an_agent_the_master_does_not_know_is_gone(tmp_path: Path) -> None:
    with LocalMesos(agents=1, work_dir=tmp_path) as mesos:
        with pytest.raises(NotFound, match="agent nobody is no longer part of the cluster"):
            sandbox.find_agent(mesos.url, "nobody")
        agent = mesos.agent_ids[0]
        url = sandbox.find_agent(mesos.url, agent)
        with pytest.raises(NotFound, match=f"agent {agent} has no file /frameworks/x"):
            sandbox.read_file(url, agent, "/frameworks/x/stderr", 0, 10)
    with pytest.raises(Unavailable, match=f"agent {agent} at {url} is unreachable"):
        sandbox.read_file(url, agent, "/frameworks/x/stderr", 0, 10)
    with pytest.raises(Unavailable, match="cannot ask the Mesos master"):
        sandbox.find_agent(mesos.url, agent)


def test_offer_urls_and_pids_give_agent_base_urls() -> None:
    offer = {"url": {"scheme": "http", "address": {"hostname": "a1", "ip": "10.0.0.5",
                                                   "port": 5051}, "path": "/slave(1)"}}
    assert sandbox.agent_url(offer) == "http://10.0.0.5:5051"
    assert sandbox.agent_url({"url": {"address": {"hostname": "a1", "port": 5051}}}) \
        == "http://a1:5051"
    assert sandbox.agent_url({}) is None
    assert sandbox.agent_url_from_pid("slave(1)@10.0.0.5:5051") == "http://10.0.0.5:5051"
    assert sandbox.agent_url_from_pid("nonsense") is None
    assert json.dumps(sandbox.log_path("F", "A", "j.0.1", sandbox.LogFile.STDERR)) == (
        '"/frameworks/F/executors/femto-A/runs/latest/tasks/j.0.1/stderr"')
