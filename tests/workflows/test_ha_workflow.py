"""A workflow survives its leader: two schedulers, a real ZooKeeper and the MongoDB-wire
store; the leader is SIGKILLed while a step runs, the other resumes the workflow from the
store, and the master saw each step's job launched once."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx

from tests.framework.helpers import npy, wait_for
from tests.framework.test_ha import DATA, SESSION_TIMEOUT, Cluster, cluster, tasks
from tests.workflows.helpers import result, wait_workflow

__all__ = ["cluster"]  # the fixture, used by name


def command(seconds: float, source: str) -> dict[str, object]:
    return {"operation": "command", "inputs": [source],
            "params": {"argv": ["sh", "-c", f"sleep {seconds}; cat"]}}


def test_leader_killed_mid_workflow(cluster: Cluster) -> None:
    first, second = cluster.add_scheduler(), cluster.add_scheduler()
    leader = cluster.leader()
    standby = second if leader == first else first
    workflow_id = str(uuid.uuid4())
    refused = httpx.post(f"{standby}/v1/workflows", json={"name": "x", "steps": {}})
    assert refused.status_code == 307  # writes go to the leader, body and all
    assert refused.headers["location"] == f"{leader}/v1/workflows"
    with httpx.Client(base_url=leader, timeout=30) as api:
        response = api.put("/v1/datasets/d", params={"partitions": 8}, content=npy(DATA))
        assert response.status_code == 201, response.text
        response = api.post("/v1/workflows", json={"name": "survivor", "id": workflow_id,
                                                   "steps": {
            "first": command(4, "d"), "second": command(1, "@first"),
            "total": {"operation": "sum", "inputs": ["@second"]}}})
        assert response.status_code == 201, response.text
        running = wait_workflow(api, workflow_id,
                                lambda w: w["steps"]["first"]["state"] == "RUNNING")
    first_job = running["steps"]["first"]["job"]
    # A standby answers reads from the store.
    read = httpx.get(f"{standby}/v1/workflows/{workflow_id}", timeout=10)
    assert read.status_code == 200 and read.json()["steps"]["first"]["job"] == first_job
    wait_for(lambda: all(t["state"] == "RUNNING" for t in tasks(leader, first_job)), 30,
             "every task of the first step running")
    killed_at = datetime.now(UTC)
    cluster.proc(leader).send_signal(signal.SIGKILL)
    new_leader = cluster.leader(timeout=SESSION_TIMEOUT + 20)
    assert new_leader != leader
    with httpx.Client(base_url=new_leader, timeout=30) as api:
        done = wait_workflow(api, workflow_id, timeout=180)
        assert done["state"] == "FINISHED", done
        assert result(api, done["steps"]["total"]["job"])["value"] == float(DATA.sum())
        jobs = {name: api.get(f"/v1/jobs/{step['job']}").json()
                for name, step in done["steps"].items()}
    for name, job in jobs.items():
        assert (job["workflow"], job["step"], job["state"]) == (workflow_id, name, "FINISHED")
    # The new leader took the workflow on from the store: it submitted the later steps.
    assert datetime.fromisoformat(jobs["second"]["created"]) > killed_at
    step_jobs = {s["job"] for s in done["steps"].values()}
    launched = [t["id"] for t in cluster.master_tasks()]
    # Task ids are "<job id>.<partition>.<attempt>": one job per step, nothing else, and
    # each partition of each launched once (the first step's were reconciled, not rerun).
    assert {task_id.split(".")[0] for task_id in launched} == step_jobs
    per_partition = Counter(task_id.rsplit(".", 1)[0] for task_id in launched)
    assert set(per_partition.values()) == {1}, per_partition
    assert len(per_partition) == 8 * len(step_jobs)
