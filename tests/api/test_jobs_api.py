"""The job routes of issue 14 over real HTTP: the queue and why work waits, the backoff
reset, leader health for load balancers, and progress of a running command task."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.framework.helpers import running_service, submit, upload, wait_done
from tests.waiting import wait_for

TOKEN = "api-tests-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Echoes its partition back (a transform's output), after reporting half its work done
# and taking its time: long enough to be seen running.
HALF_THEN_SLOW = (
    "import os, sys, time\n"
    "data = sys.stdin.buffer.read()\n"
    "open(os.environ['FEMTO_PROGRESS_FILE'], 'w').write('0.5')\n"
    "time.sleep(60)\n"
    "sys.stdout.buffer.write(data)\n"
)


def queued(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/queue", params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def test_a_job_that_fits_no_agent_is_queued_saying_so(api: httpx.Client) -> None:
    job = submit(api, {"name": "huge", "operation": "count", "inputs": ["d"],
                       "resources": {"cpus": 64.0, "mem": 64.0}})
    try:
        entries = wait_for(lambda: [e for e in queued(api, job=job["id"])
                                    if e["reason"] == "fits_no_agent"],
                           what="the queue to say the job fits no agent")
        assert sorted(e["partition"] for e in entries) == [0, 1, 2]
        assert "no agent offers enough" in entries[0]["message"]
        assert {e["job"] for e in queued(api)} >= {job["id"]}
    finally:
        api.delete(f"/v1/jobs/{job['id']}")
    assert queued(api, job=job["id"]) == []
    assert api.get("/v1/queue", params={"job": "no-such-job"}).status_code == 404


def test_a_running_command_tasks_progress_is_seen_and_a_cancel_counts_it_killed(
    api: httpx.Client,
) -> None:
    job = submit(api, {"name": "slow", "operation": "command", "inputs": ["d"],
                       "params": {"argv": [sys.executable, "-c", HALF_THEN_SLOW]}})

    def moving() -> list[dict[str, Any]]:
        tasks = api.get(f"/v1/jobs/{job['id']}/tasks").json()
        return [t for t in tasks if t["state"] == "RUNNING" and 0 < t["progress"] < 1]

    task = wait_for(moving, what="progress of a running command task")[0]
    # The program's 0.5 is half of the computation, between reading and delivering.
    assert 0.3 < task["progress"] < 0.9
    assert task["elapsed"] is not None and task["elapsed"] >= 0
    cancelled = api.delete(f"/v1/jobs/{job['id']}").json()
    assert cancelled["state"] == "CANCELLED"
    assert (cancelled["tasks"]["killed"], cancelled["tasks"]["failed"]) == (3, 0)
    assert cancelled["spec"]["params"]["argv"][0] == sys.executable


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    """With a token, and a retry backoff long enough to be seen and reset."""
    with running_service(tmp_path_factory.mktemp("guarded"), api_token=TOKEN,
                         retry_backoff=60.0) as (service, client):
        client.headers.update(AUTH)
        upload(client, "one", np.arange(4.0), 1)
        yield service, client


def test_resetting_the_delay_relaunches_a_task_in_backoff_at_once(
    guarded: tuple[Service, httpx.Client],
) -> None:
    _, api = guarded
    job = submit(api, {"name": "fails", "operation": "command", "inputs": ["one"],
                       "params": {"argv": ["false"]}, "max_retries": 1})
    [entry] = wait_for(lambda: [e for e in queued(api) if e["reason"] == "backoff"],
                       what="the failed task's backoff")
    assert (entry["job"], entry["partition"], entry["delay"]) == (job["id"], 0, 60.0)
    assert entry["until"] > entry["waiting_since"]
    reset = api.delete(f"/v1/jobs/{job['id']}/delay")
    assert reset.status_code == 200 and reset.json() == {"job": job["id"], "reset": 1}
    # Relaunched long before its 60 s backoff ends: it fails again, out of retries.
    done = wait_done(api, job["id"], timeout=30)
    assert (done["state"], done["attempts"]) == ("FAILED", 2)
    assert api.delete("/v1/jobs/no-such-job/delay").status_code == 404


def test_leader_health_needs_no_token_and_says_200_on_the_leader(
    guarded: tuple[Service, httpx.Client],
) -> None:
    service, _ = guarded
    assert httpx.get(f"{service.url}/v1/queue").status_code == 401
    answer = httpx.get(f"{service.url}/v1/leader/health")
    assert (answer.status_code, answer.json()) == (200, {"is_leader": True})


def test_a_scheduler_that_does_not_lead_answers_503_to_leader_health(tmp_path: Path) -> None:
    with running_service(tmp_path, agents=1) as (service, api):
        # What a ZooKeeper session's suspension does to a leader (femto.service): it stops
        # leading at once, and no other leader is known yet.
        service._halt()
        answer = api.get("/v1/leader/health")
        assert answer.status_code == 503
        body = answer.json()
        assert set(body) == {"error", "details"} and "standby" in body["error"]
        assert api.get("/health").status_code == 200  # serving: a standby is healthy
        assert api.get("/v1/queue").status_code == 503  # the queue is the leader's


def test_pages_of_one_state_follow_the_cursor_newest_first(api: httpx.Client) -> None:
    ids = [submit(api, {"name": f"paged-{i}", "operation": "count", "inputs": ["d"]})["id"]
           for i in range(3)]
    for job_id in ids:
        wait_done(api, job_id)
    finished = [j["id"] for j in api.get("/v1/jobs", params={"state": "FINISHED",
                                                             "limit": 10_000}).json()]
    seen: list[str] = []
    page = api.get("/v1/jobs", params={"state": "FINISHED", "limit": 1})
    while True:
        assert page.status_code == 200 and len(page.json()) == 1
        assert int(page.headers["x-total-count"]) == len(finished)
        seen += [j["id"] for j in page.json()]
        link = page.headers.get("link")
        if link is None:
            break
        url, rel = link.split("; ")
        assert rel == 'rel="next"' and "state=FINISHED" in url
        page = api.get(url.strip("<>"))
    assert seen == finished and seen[:3] == ids[::-1]


def test_the_old_offset_is_refused_rather_than_serving_the_first_page_again(
    api: httpx.Client,
) -> None:
    response = api.get("/v1/jobs", params={"offset": 100})
    assert response.status_code == 422
    assert response.json()["details"] == [{"loc": "offset", "msg": "use cursor"}]
